#!/usr/bin/env bash
# Issue 13's GPU check, for a machine with a real GPU (one command; per-step time limits keep it < 5 min):
#   bash scripts/gpu_check.sh [OUT_DIR]
# 1. the WebGPU adapter Deno sees (needs libvulkan1 and the GPU's Vulkan driver);
# 2. the bench's webgpu rows: forward and train tok/s of the default policy, B32×T64;
# 3. per-kernel profiles, forward vs backward, default and 25M-param models, with
#    the webgpu ops (after issue 13) and with the wasm-oriented ops (before);
# 4. PyTorch eager fp32 on the same model and step (cross-entropy, backward, Adam),
#    when python3 can import torch with CUDA; then the ratio against the target
#    "webgpu train tok/s within 5× of PyTorch eager fp32".
# Writes everything to OUT_DIR (default: $OUT, else /tmp/gpu_check) and prints a summary.
# It makes no network calls. It needs either node_modules (npm ci; 1.1 GB) or, for a machine
# that receives only the git working tree plus <= 64 MiB of ignored paths, the bundle of
# scripts/build_gpu_bundle.sh (~32 MB: the Deno binary xz-compressed, and the two bench scripts
# bundled with tfjs by `deno bundle`; `deno compile` would need dl.deno.land): build it with
# network, carry results/gpu_bundle (or GPU_BUNDLE=DIR), and this script unpacks and uses it
# when node_modules is absent. The PyTorch step needs torch installed on the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/gpu_check}}"
batch="${GPU_CHECK_BATCH:-32}" # profile batch; a smaller one smoke-tests the script on llvmpipe
mkdir -p "$out"
deno=./node_modules/.bin/deno
profile=bench/webgpu_profile.ts
policy_bench=./bench/policy_bench.ts
bundle="${GPU_BUNDLE:-results/gpu_bundle}"
if [ ! -x "$deno" ] && [ -f "$bundle/deno.xz" ]; then
  # The bundle: unpack once; a wrapper adds its import map (stubs for the left-out packages).
  [ -x "$bundle/deno" ] || { xz -dc "$bundle/deno.xz" >"$bundle/deno" && chmod +x "$bundle/deno"; }
  for f in webgpu_profile policy_bench; do [ -f "$bundle/$f.js" ] || xz -dk "$bundle/$f.js.xz"; done
  printf '#!/bin/sh\nd=$(dirname "$0")\nsub=$1; shift\nexec "$d/deno" "$sub" --config "$d/deno.json" "$@"\n' >"$bundle/denow"
  chmod +x "$bundle/denow"
  deno="$bundle/denow" profile="$bundle/webgpu_profile.js" policy_bench="./$bundle/policy_bench.js"
fi
if [ ! -x "$deno" ]; then
  echo "error: $deno is missing: run npm ci first, or carry node_modules or the bundle of scripts/build_gpu_bundle.sh ($bundle)" >&2
  exit 2
fi
step() { echo; echo "== $*"; }
limit() { timeout "$1" "${@:2}"; }

step "adapter"
$deno eval --ext=ts 'const a = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
console.log(a ? JSON.stringify({ ...Object.fromEntries(["vendor","architecture","device","description","isFallbackAdapter"].map((k) => [k, (a.info as any)[k]])), maxBuffer: a.limits.maxStorageBufferBindingSize }) : "none");' |
  tee "$out/adapter.txt"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$out/adapter.txt"

step "bench rows (webgpu)"
limit 45 $deno eval 'import { benchWebGpu } from "'"$policy_bench"'";
for (const r of await benchWebGpu()) console.log(`${r.name}: ${Number.isNaN(r.value) ? "unmeasured" : Math.round(r.value)} ${r.unit} — ${r.note ?? ""}`);' |
  tee "$out/bench_webgpu.txt"

# After: medians of 3. Before (wasm-oriented ops): one timed run each, since a 25M-param
# step took ~21 s on an H100 before the fix (engine-notes §7); the JSON is written per model.
step "per-kernel profile, webgpu ops"
limit 60 $deno run -A "$profile" --batch "$batch" --repeats 3 --models default,large \
  --ops webgpu --json "$out/profile_webgpu.json" | tee "$out/profile_webgpu.txt"
step "per-kernel profile, wasm ops (before issue 13)"
limit 120 $deno run -A "$profile" --batch "$batch" --repeats 1 --models default,large \
  --ops wasm --json "$out/profile_wasm.json" | tee "$out/profile_wasm.txt"

step "PyTorch eager fp32"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  limit 60 python3 - "$out/torch.json" <<'PY' | tee "$out/torch.txt"
# The same GPT as algorithms/policy/gpt.ts (pre-LN, exact GELU, untied head, no
# dropout) and the same step as bench/webgpu_profile.ts: B32 x 64 positions,
# mean next-token cross-entropy, backward, Adam. Eager mode, fp32, no TF32.
import json, sys, time, torch
import torch.nn as nn, torch.nn.functional as F
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"

class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__()
        s.h = h
        s.ln1, s.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        s.qkv, s.o = nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.fc, s.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
    def forward(s, x, mask):
        b, t, d = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(d, -1)
        q, k, v = (z.view(b, t, s.h, d // s.h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / (d // s.h) ** 0.5 + mask[:t, :t]
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + s.o(y)
        return x + s.proj(F.gelu(s.fc(s.ln2(x))))

class Gpt(nn.Module):
    def __init__(s, v, ctx, d, layers, h):
        super().__init__()
        s.tok, s.pos = nn.Embedding(v, d), nn.Embedding(ctx, d)
        s.blocks = nn.ModuleList(Block(d, h) for _ in range(layers))
        s.lnf, s.head = nn.LayerNorm(d), nn.Linear(d, v, bias=False)
        s.register_buffer("mask", torch.triu(torch.full((ctx, ctx), -1e9), 1))
    def forward(s, ids):
        x = s.tok(ids) + s.pos(torch.arange(ids.shape[1], device=ids.device))
        for blk in s.blocks: x = blk(x, s.mask)
        return s.head(s.lnf(x))

def bench(name, d, layers, h, B=32, T=64, V=200, ctx=96):
    m = Gpt(V, ctx, d, layers, h).to(dev)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    ids = torch.randint(1, V, (B, T + 1), device=dev)
    x, y = ids[:, :-1], ids[:, 1:]
    def fwd():
        with torch.no_grad(): return F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
    def train():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
        loss.backward(); opt.step()
    def timed(f, n):
        for _ in range(3): f()
        torch.cuda.synchronize(); t0 = time.perf_counter()
        for _ in range(n): f()
        torch.cuda.synchronize(); return (time.perf_counter() - t0) / n
    tf_, tt = timed(fwd, 20), timed(train, 20)
    r = {"model": name, "params": sum(p.numel() for p in m.parameters()),
         "forward_tok_s": B * T / tf_, "train_tok_s": B * T / tt}
    print(json.dumps(r)); return r

res = [bench("default", 128, 2, 4), bench("large", 512, 8, 8)]
json.dump(res, open(sys.argv[1], "w"), indent=1)
PY
else
  echo "unmeasured: python3 with CUDA torch is not available" | tee "$out/torch.txt"
fi

step "summary"
$deno eval --ext=ts '
const out = "'"$out"'";
const read = (f: string) => { try { return JSON.parse(Deno.readTextFileSync(`${out}/${f}`)); } catch { return null; } };
const prof = read("profile_webgpu.json") ?? [], before = read("profile_wasm.json") ?? [], torch = read("torch.json") ?? [];
for (const p of prof) {
  const tok = p.batch * 64, t = p.times;
  const train = tok / t.trainMs * 1000;
  const b = before.find((x: any) => x.model === p.model);
  const tr = torch.find((x: any) => x.model === p.model);
  console.log(`${p.model}: webgpu forward ${Math.round(tok / t.forwardMs * 1000)} tok/s, train ${Math.round(train)} tok/s` +
    ` (backward ${((t.gradMs - t.forwardMs) / t.forwardMs).toFixed(2)}× forward)` +
    (b ? `; before (wasm ops) train ${Math.round(tok / b.times.trainMs * 1000)} tok/s` : "") +
    (tr ? `; PyTorch eager fp32 train ${Math.round(tr.train_tok_s)} tok/s → ${(tr.train_tok_s / train).toFixed(1)}× (target ≤ 5×)` : "; PyTorch: unmeasured"));
}' | tee "$out/summary.txt"

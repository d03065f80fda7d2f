#!/usr/bin/env bash
# Builds what scripts/gpu_check.sh needs on a GPU machine that has no network and receives
# only the git working tree plus ≤ 64 MiB of ignored paths (node_modules is 1.1 GB):
#   bash scripts/build_gpu_bundle.sh [OUT_DIR]        (default results/gpu_bundle, git-ignored)
# then carry OUT_DIR (e.g. run's carry: ["results/gpu_bundle"]) and run `bash scripts/gpu_check.sh`.
#
# `deno compile` cannot be used: it downloads its runtime (denort) from dl.deno.land, which is not
# reachable here. Instead:
#   - bench/webgpu_profile.ts and bench/policy_bench.ts bundled by `deno bundle` into one JS file
#     each, with tfjs (core, cpu, webgpu) inside (esbuild comes from the npm registry on first use);
#     onnxruntime-node and tfjs-backend-wasm are left out and resolve, through OUT_DIR/deno.json,
#     to stub.js, which fails only when used (gpu_check uses neither);
#   - the Deno binary itself, xz-compressed (92 MB → ~31 MB); gpu_check.sh unpacks it.
# Measured (Deno 2.9.6, tfjs 4.22): deno.xz 30.7 MB + bundles 2 × 3.4 MB (0.6 MB each in xz) ≈ 32 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/gpu_bundle}"
deno=./node_modules/.bin/deno
mkdir -p "$out"
for entry in webgpu_profile policy_bench; do
  $deno bundle --quiet --platform deno --external onnxruntime-node \
    --external @tensorflow/tfjs-backend-wasm -o "$out/$entry.js" "bench/$entry.ts"
  xz -9 -f "$out/$entry.js"
done
cat >"$out/stub.js" <<'JS'
// Stand-in for the packages the GPU bundle leaves out (onnxruntime-node, tfjs-backend-wasm):
// importing works, using them fails with this message.
const missing = () => {
  throw new Error("not in the GPU bundle (scripts/build_gpu_bundle.sh): use a checkout with node_modules");
};
export const binding = new Proxy({}, { get: missing });
export const initOrt = missing;
export class Tensor { constructor() { missing(); } }
export default {};
JS
cat >"$out/deno.json" <<'JSON'
{
  "imports": {
    "onnxruntime-node": "./stub.js",
    "onnxruntime-node/binding": "./stub.js",
    "@tensorflow/tfjs-backend-wasm": "./stub.js"
  }
}
JSON
xz -6 -T2 -c "$(readlink -f "$deno")" >"$out/deno.xz"
du -b "$out"/* | sort -n
echo "total: $(du -sb "$out" | cut -f1) bytes (limit for carried paths: 64 MiB = 67108864)"

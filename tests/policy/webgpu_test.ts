/**
 * The webgpu path (issue 13): the software-adapter opt-in, and the webgpu
 * ops (algorithms/policy/webgpu_ops.ts, webgpu_kernels.ts) against the cpu
 * reference. Runs on whatever adapter navigator.gpu offers — here Mesa's
 * llvmpipe — in child processes (fixtures/webgpu_equality.ts); skips with a
 * printed reason when there is none.
 *
 * @module
 */
import assert from "node:assert/strict";

const fixture = new URL("./fixtures/webgpu_equality.ts", import.meta.url).pathname;

/** Runs the fixture in `mode` with extra environment; returns its JSON line. */
async function runFixture(mode: string, env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fixture, mode],
    env: { HICRA_ALLOW_SOFTWARE_GPU: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

Deno.test("HICRA_ALLOW_SOFTWARE_GPU=1 lets webgpu run on a software adapter; unset, it is refused", async () => {
  const off = await runFixture("optin");
  if (!off.adapter) {
    console.log("skipped: no WebGPU adapter on this machine");
    assert.match(off.error, /No WebGPU adapter/);
    return;
  }
  if (!off.adapter.fallback) {
    console.log(`skipped: the adapter is a real GPU (${off.adapter.label}); nothing to opt into`);
    assert.equal(off.error, null);
    return;
  }
  assert.match(off.error, /software fallback .*HICRA_ALLOW_SOFTWARE_GPU=1/);
  assert.notEqual(off.backend, "webgpu");
  const on = await runFixture("optin", { HICRA_ALLOW_SOFTWARE_GPU: "1" });
  assert.equal(on.error, null);
  assert.equal(on.backend, "webgpu");
});

Deno.test("webgpu logits and gradients match the cpu reference", async () => {
  const r = await runFixture("equality");
  if (r.skip) {
    console.log(`skipped: ${r.skip}`);
    return;
  }
  assert.equal(r.backend, "webgpu");
  // float32 with other summation orders: agreement to ~1e-6 relative.
  assert.ok(r.logits.scale > 0.01, "logits are not trivially zero");
  assert.ok(r.logits.diff <= 1e-4 * Math.max(1, r.logits.scale), JSON.stringify(r.logits));
  assert.ok(Math.abs(r.loss.cpu - r.loss.gpu) <= 1e-5 * r.loss.cpu, JSON.stringify(r.loss));
  assert.equal(r.grads.length, 2 + 12 * 2 + 3);
  for (const g of r.grads) {
    assert.ok(g.scale > 0, `gradient of ${g.name} is all zeros`);
    assert.ok(g.diff <= 1e-4 * g.scale + 1e-7, `${g.name}: ${JSON.stringify(g)}`);
  }
  assert.equal(r.sums.n, 37);
  assert.ok(r.sums.diff <= 1e-5 * r.sums.scale, JSON.stringify(r.sums));
  // The fixes are in place: column sums by the custom kernel (per layer 2
  // LayerNorms × 2 and 6 linear biases; the final LayerNorm; the position
  // embedding), and no 2-D
  // Transpose (tfjs-webgpu's slow shared-memory shader) in the backward pass.
  assert.equal(r.columnSumCalls, 2 * (2 * 2 + 6) + 2 + 1);
  assert.ok(r.backwardTransposeRanks.length > 0);
  assert.ok(r.backwardTransposeRanks.every((rank: number) => rank >= 3), r.backwardTransposeRanks);
  // Deno cannot read GPU tensors synchronously; the error says what to do.
  if (r.syncReadError !== null) assert.match(r.syncReadError, /await tensor\.data\(\)/);
});

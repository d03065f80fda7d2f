import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { onnxEngine, useBackend, usingOnnx } from "../../algorithms/policy/backend.ts";

Deno.test("useBackend switches explicitly and is idempotent", async () => {
  await useBackend("wasm");
  assert.equal(tf.getBackend(), "wasm");
  await useBackend("wasm");
  assert.equal(tf.getBackend(), "wasm");
  await useBackend("cpu");
  assert.equal(tf.getBackend(), "cpu");
  // onnx: the network on onnxruntime, the rest of tfjs on wasm.
  await useBackend("onnx");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(usingOnnx(), true);
  await useBackend("wasm"); // same tfjs backend: onnx must still switch off …
  assert.equal(usingOnnx(), false);
  assert.throws(() => onnxEngine(), /useBackend\("onnx"\) first/);
  await useBackend("onnx"); // … and back on
  assert.equal(usingOnnx(), true);
  assert.equal(typeof onnxEngine().OnnxDecoder, "function");
  await useBackend("cpu");
  assert.equal(usingOnnx(), false);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => useBackend("webgl" as any),
    /Unknown backend "webgl": expected one of "wasm", "cpu", "webgpu", "onnx"/,
  );
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("webgpu is refused on a software or missing adapter", async () => {
  // In a child process: see fixtures/webgpu_probe.ts.
  const probe = new URL("./fixtures/webgpu_probe.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", probe.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const { info, error, backend } = JSON.parse(text.trim().split("\n").at(-1)!);
  if (!info || info.fallback) {
    assert.match(error, /use the "wasm" backend/);
    if (info?.name) assert.ok(error.includes(info.name), error);
    assert.notEqual(backend, "webgpu");
  } else {
    assert.equal(error, null);
    assert.equal(backend, "webgpu");
  }
});

Deno.test("the tfjs backends do not load onnxruntime's native library", async () => {
  // In a child process, so no other test has loaded it.
  const code = `
    import { useBackend } from "${new URL("../../algorithms/policy/mod.ts", import.meta.url).href}";
    import { rlStep } from "${new URL("../../algorithms/policy/train.ts", import.meta.url).href}";
    await useBackend("cpu");
    const maps = Deno.readTextFileSync("/proc/self/maps");
    console.log(JSON.stringify({ rlStep: typeof rlStep, ort: maps.includes("onnxruntime") }));
  `;
  const { code: exit, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(exit, 0, new TextDecoder().decode(stderr));
  const out = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
  assert.deepEqual(out, { rlStep: "function", ort: false });
});

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend, usingOnnx } from "../../algorithms/policy/backend.ts";

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

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../algorithms/policy/backend.ts";

Deno.test("useBackend switches explicitly and is idempotent", async () => {
  await useBackend("wasm");
  assert.equal(tf.getBackend(), "wasm");
  await useBackend("wasm");
  assert.equal(tf.getBackend(), "wasm");
  await useBackend("cpu");
  assert.equal(tf.getBackend(), "cpu");
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => useBackend("webgl" as any),
    /Unknown backend "webgl"/,
  );
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("webgpu is refused on a software or missing adapter", async () => {
  const adapter = await navigator.gpu?.requestAdapter({
    powerPreference: "high-performance",
  });
  if (!adapter || adapter.info.isFallbackAdapter) {
    const name = adapter?.info.description || adapter?.info.device || "";
    const err = await useBackend("webgpu").then(() => null, (e: Error) => e);
    assert.ok(err, "webgpu must be refused here");
    assert.match(err.message, /use the "wasm" backend/);
    if (name) assert.ok(err.message.includes(name), err.message);
    // Nothing was registered: the active backend is unchanged.
    assert.notEqual(tf.getBackend(), "webgpu");
  } else {
    await useBackend("webgpu");
    assert.equal(tf.getBackend(), "webgpu");
  }
  await useBackend("cpu");
});

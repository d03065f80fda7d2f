/**
 * The lab as a package: deno.json names it and exports mod.ts, and every
 * exported symbol is documented (`deno doc --lint`).
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

Deno.test("deno.json names the package and exports mod.ts", () => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  assert.match(config.name, /^@[a-z-]+\/[a-z-]+$/);
  assert.match(config.version, /^\d+\.\d+\.\d+/);
  assert.equal(config.exports["."], "./mod.ts");
});

Deno.test("deno doc --lint mod.ts finds no undocumented export", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text);
});

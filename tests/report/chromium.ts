/**
 * Test helper: headless Chromium on a file URL, in a throw-away profile.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Where Debian installs Chromium (scripts/install-chromium.sh). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Runs headless Chromium on `url` with extra `flags` (e.g. `--dump-dom`,
 * `--screenshot=FILE`); fails the test when it is missing or exits non-zero.
 */
export async function chromium(
  flags: string[],
  url: string,
): Promise<{ stdout: string; stderr: string }> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    assert.fail(`${CHROMIUM} is missing: run scripts/install-chromium.sh`);
  }
  const profile = await Deno.makeTempDir({ prefix: "chromium_profile_" });
  try {
    const out = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        ...flags,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(90_000),
    }).output();
    const text = {
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
    assert.equal(out.code, 0, `chromium exited with ${out.code}:\n${text.stderr.slice(-2000)}`);
    return text;
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

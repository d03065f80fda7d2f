/**
 * `run --help` lists the registry's runtime settings (generic: a toy schema).
 */
import assert from "node:assert/strict";
import { createRegistry } from "../../pipeline/registry.ts";
import { runCli, runtimeHelp } from "../../pipeline/run_cli.ts";
import { registry as toyRegistry } from "../fixtures/toy_stages.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { canMountTmpfs, TOY_CLI } from "./helpers.ts";

Deno.test("run --help lists the runtime settings a registry declares", async () => {
  const registry = createRegistry([], {
    device: { type: "enum", values: ["slow", "fast"], default: "slow", doc: "where to compute" },
  });
  const help = runtimeHelp(registry);
  assert.match(help, /Runtime settings \(the file's runtime: map, or --set runtime\.KEY=V\):/);
  assert.ok(help.includes("  device: slow | fast [slow]\n      where to compute"), help);
  assert.equal(runtimeHelp(toyRegistry), "");

  const printed: string[] = [];
  const log = console.log;
  console.log = (text: string) => printed.push(text);
  try {
    assert.equal(await runCli(["--help"], { registry, registryModule: "unused" }), 0);
  } finally {
    console.log = log;
  }
  assert.ok(printed.join("\n").endsWith(help));
});

// ---- Errors outside config loading (issue 17): real `run` subprocesses. ----

const TOY_FILE = new URL("../fixtures/toy_loop.yaml", import.meta.url).pathname;

/** Runs the toy `run` command; returns exit code, stdout and stderr. */
async function runToy(args: string[], wrap?: (cmd: string[]) => string[]) {
  const cmd = [Deno.execPath(), "run", "-A", TOY_CLI, ...args, "--quiet"];
  const [exe, ...rest] = wrap ? wrap(cmd) : cmd;
  const out = await new Deno.Command(exe, {
    args: rest,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** stderr is exactly one `error: …` line (no stack trace) that matches `re`. */
function assertOneErrorLine(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], re);
}

const TMPFS = canMountTmpfs();
const IS_ROOT = Deno.uid?.() === 0;

Deno.test("run: --results naming a file, or a path under a file: one line, exit 2", async () => {
  const file = Deno.makeTempFileSync();
  let r = await runToy([TOY_FILE, "--results", file]);
  assert.equal(r.code, 2);
  assertOneErrorLine(r.stderr, new RegExp(`--results ${file} is a file, not a directory`));
  for (const extra of [[], ["--dry-run"]]) {
    r = await runToy([TOY_FILE, "--results", `${file}/sub/dir`, ...extra]);
    assert.equal(r.code, 2);
    assertOneErrorLine(r.stderr, new RegExp(`${file} is a file, so no directory can be made`));
  }
});

Deno.test({
  name: "run: a read-only results directory: one line naming it, exit 2",
  ignore: !TMPFS && IS_ROOT,
  async fn() {
    const dir = Deno.makeTempDirSync();
    if (!IS_ROOT) {
      // Permission bits (root ignores them: then a read-only file system below).
      Deno.chmodSync(dir, 0o555);
      const r = await runToy([TOY_FILE, "--results", dir]);
      Deno.chmodSync(dir, 0o755);
      assert.equal(r.code, 2);
      assertOneErrorLine(r.stderr, new RegExp(`cannot write ${dir}: permission denied`));
    }
    if (TMPFS) {
      // A read-only file system mounted in a private namespace: read-only even for root.
      const r = await runToy([TOY_FILE, "--results", `${dir}/res`], (cmd) => [
        "unshare",
        "-rm",
        "sh",
        "-c",
        'mount -t tmpfs tmpfs "$0" && mkdir "$0/res" && mount -o remount,ro "$0" && shift && exec "$@"',
        dir,
        "--",
        ...cmd,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assertOneErrorLine(r.stderr, new RegExp(`cannot write ${dir}/res: .*read-only file system`));
    }
  },
});

Deno.test({
  name: "run: a full disk while writing the results database: one line, exit 2",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // runs.duckdb on /dev/full: every write fails with ENOSPC.
    const dir = Deno.makeTempDirSync();
    Deno.symlinkSync("/dev/full", `${dir}/runs.duckdb`);
    let r = await runToy([TOY_FILE, "--results", dir]);
    assert.equal(r.code, 2);
    assertOneErrorLine(r.stderr, /^error: no space left on the device while writing \/dev\/full/);
    if (!TMPFS) return; // the real full file system below needs a private tmpfs
    // A results directory on a tiny file system: the cache (computed beforehand)
    // fits, the database does not.
    const built = Deno.makeTempDirSync();
    assert.equal((await runToy([TOY_FILE, "--results", built])).code, 0);
    let bytes = 0;
    const walk = (d: string) => {
      for (const e of Deno.readDirSync(d)) {
        if (e.isDirectory) walk(`${d}/${e.name}`);
        else bytes += Math.ceil(Deno.statSync(`${d}/${e.name}`).size / 4096) * 4096;
      }
    };
    walk(`${built}/cache`);
    const mnt = Deno.makeTempDirSync();
    r = await runToy([TOY_FILE, "--results", mnt], (cmd) => [
      "unshare",
      "-rm",
      "sh",
      "-c",
      'mount -t tmpfs -o size="$1" tmpfs "$0" && cp -r "$2" "$0/" && shift 3 && exec "$@"',
      mnt,
      String(bytes + 64 * 1024),
      `${built}/cache`,
      "--",
      ...cmd,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assertOneErrorLine(
      r.stderr,
      new RegExp(`no space left on the device while writing ${mnt}/runs\\.duckdb`),
    );
    // The run itself was complete: every instance came from the cache.
    assert.match(r.stdout, /10 instance\(s\): 0 computed, 10 cached/);
    // Full while computing (cache writes, in-process and in worker threads):
    // the run stops at once instead of failing instance after instance.
    for (const jobs of ["1", "2"]) {
      const tiny = Deno.makeTempDirSync();
      r = await runToy([TOY_FILE, "--results", tiny, "--jobs", jobs], (cmd) => [
        "unshare",
        "-rm",
        "sh",
        "-c",
        'mount -t tmpfs -o size=100k tmpfs "$0" && shift && exec "$@"',
        tiny,
        "--",
        ...cmd,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assertOneErrorLine(
        r.stderr,
        // A write through an open file names no path: then the results directory.
        new RegExp(`no space left on the device while writing (${tiny}/cache/|under ${tiny}:)`),
      );
    }
  },
});

Deno.test("run: a corrupt runs.duckdb is moved aside and rebuilt from the cache", async () => {
  const dir = Deno.makeTempDirSync();
  assert.equal((await runToy([TOY_FILE, "--results", dir])).code, 0);
  const count = async () => {
    const store = await ResultsStore.open(dir, { readOnly: true });
    try {
      return (await store.query("select count(*) from metrics")).rows[0][0];
    } finally {
      await store.close();
    }
  };
  assert.equal(await count(), 10);
  const good = Deno.readFileSync(`${dir}/runs.duckdb`);
  const damages: [string, Uint8Array][] = [
    ["garbage", crypto.getRandomValues(new Uint8Array(20000))],
    // A damaged block: "Corrupt database file: computed checksum …".
    ["checksum", good.map((b, i) => (i >= 12300 && i < 12364 ? b ^ 0x5a : b))],
  ];
  for (const [what, bytes] of damages) {
    Deno.writeFileSync(`${dir}/runs.duckdb`, bytes);
    const r = await runToy([TOY_FILE, "--results", dir]);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      new RegExp(
        `^warning: the results database ${dir}/runs\\.duckdb is corrupt \\(.*\\); moved it to ${dir}/runs\\.duckdb\\.corrupt-\\S+ and rebuilding it from the cache`,
      ),
    );
    if (what === "checksum") assert.match(lines[0], /computed checksum/);
    assert.match(r.stdout, /0 computed, 10 cached/);
    assert.equal(await count(), 10, what);
  }
  const aside = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("runs.duckdb.corrupt-"));
  assert.equal(aside.length, 2);
});

Deno.test("run: a binary file given as the experiment is refused without echoing its bytes", async () => {
  const file = Deno.makeTempFileSync({ suffix: ".yaml" });
  const bytes = new Uint8Array(4000);
  bytes.set(new TextEncoder().encode("name: x\n\x7fELF"));
  for (let i = 12; i < bytes.length; i++) bytes[i] = (i * 131) % 256;
  Deno.writeFileSync(file, bytes);
  const r = await runToy([file, "--results", Deno.makeTempDirSync()]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `${file}:2:1: not a text YAML file (binary content: a NUL or control byte, or invalid UTF-8)\n` +
      "error: 1 problem in the experiment; nothing was run\n",
  );
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireLock, processAlive, readHolder } from "../../pipeline/lock.ts";
import { UserError } from "../../pipeline/errors.ts";

const HELPER = new URL("./lock_holder.ts", import.meta.url).pathname;

/** Starts the helper holding DIR's lock; resolves once it holds it. */
async function startHolder(dir: string, holdMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HELPER, dir, String(holdMs)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`helper exited early: ${text}`);
    text += value;
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  const m = /^locked (\d+)/.exec(text);
  assert.ok(m, text);
  return { child, pid: Number(m[1]), drain };
}

Deno.test("a second process fails fast with the holder's PID, or waits for it", async () => {
  const dir = await Deno.makeTempDir();
  const { child, pid, drain } = await startHolder(dir, 2500);
  try {
    assert.equal(pid, child.pid);
    const holder = await readHolder(join(dir, ".lock"));
    assert.ok(holder);
    const t0 = performance.now();
    await assert.rejects(acquireLock(dir), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(
        e.message,
        `results directory ${dir} is locked by PID ${pid} (since ${holder.since}); use --wait to wait for it`,
      );
      return true;
    });
    assert.ok(performance.now() - t0 < 1000, "failed fast");

    let waitedFor = 0;
    const lock = await acquireLock(dir, {
      wait: true,
      pollMs: 50,
      onWait: (h) => (waitedFor = h.pid),
      onNote: (m) => assert.fail(`released at exit, not stale: ${m}`),
    });
    assert.equal(waitedFor, pid);
    assert.equal((await child.status).code, 0);
    assert.equal((await readHolder(lock.path))?.pid, Deno.pid);
    lock.release();
    assert.equal(await readHolder(lock.path), undefined);
  } finally {
    try {
      child.kill();
    } catch { /* already exited */ }
    await child.status;
    await drain;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock of a killed process is taken over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { child, pid, drain } = await startHolder(dir, 60000);
    child.kill("SIGKILL");
    await child.status;
    await drain;
    assert.equal((await readHolder(join(dir, ".lock")))?.pid, pid);
    const notes: string[] = [];
    const lock = await acquireLock(dir, { onNote: (m) => notes.push(m) });
    assert.equal((await readHolder(lock.path))?.pid, Deno.pid);
    assert.equal(notes.length, 1);
    assert.match(notes[0], new RegExp(`stale lock .*PID ${pid} `));
    lock.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM releases the lock before exiting", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { child, drain } = await startHolder(dir, 60000);
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 143);
    await drain;
    assert.equal(await readHolder(join(dir, ".lock")), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stale lock file with a dead pid is taken over; release keeps others' locks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, ".lock");
    // A pid above the kernel's pid_max cannot be alive.
    const dead = {
      pid: 4194305,
      since: "2020-01-01T00:00:00.000Z",
      host: Deno.hostname(),
      cmd: "x",
    };
    await Deno.writeTextFile(path, JSON.stringify(dead));
    const lock = await acquireLock(dir, { onNote: () => {} });
    assert.equal((await readHolder(path))?.pid, Deno.pid);
    // Someone else's lock replaced ours: release must not delete it.
    await Deno.writeTextFile(path, JSON.stringify(dead));
    lock.release();
    assert.equal((await readHolder(path))?.pid, dead.pid);
    // Only one of two concurrent takers wins.
    const notes: string[] = [];
    const results = await Promise.allSettled([
      acquireLock(dir, { onNote: (m) => notes.push(m) }),
      acquireLock(dir, { onNote: (m) => notes.push(m) }),
    ]);
    // Same process: the loser sees our own (live) pid and fails.
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) if (r.status === "fulfilled") r.value.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a lock whose holder was killed but is not yet reaped (a zombie) is taken over",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir();
    // sh starts the holder in the background, then becomes `sleep`, which
    // never waits for children: the killed holder stays a zombie (state Z).
    const parent = new Deno.Command("sh", {
      args: ["-c", `"$0" run -A "$1" "$2" 60000 & exec sleep 60`, Deno.execPath(), HELPER, dir],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`helper exited early: ${text}`);
        text += value;
      }
      const pid = Number(/^locked (\d+)/.exec(text)![1]);
      assert.notEqual(pid, parent.pid);
      assert.equal(processAlive(pid), true);
      Deno.kill(pid, "SIGKILL");
      const state = () => {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        return stat.slice(stat.lastIndexOf(")") + 1).trim()[0];
      };
      for (let i = 0; i < 200 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(state(), "Z", "the killed holder is a zombie: /proc/<pid> still exists");
      assert.equal(processAlive(pid), false);
      assert.equal((await readHolder(join(dir, ".lock")))?.pid, pid);
      const notes: string[] = [];
      const lock = await acquireLock(dir, { onNote: (m) => notes.push(m) });
      assert.equal((await readHolder(lock.path))?.pid, Deno.pid);
      assert.match(notes[0] ?? "", new RegExp(`stale lock .*PID ${pid} `));
      lock.release();
    } finally {
      parent.kill("SIGKILL"); // the zombie goes to init, which reaps it
      await parent.status;
      await reader.cancel();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

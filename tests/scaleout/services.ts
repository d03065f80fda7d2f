/**
 * Test helper: starts the real loopback services of the scale-out executor (PostgreSQL and
 * the s3rver bucket, through scripts/services.sh) once per test file, and spawns worker
 * processes. When they cannot run here (not root and no PostgreSQL installed, or apt-get
 * unavailable) `startServices` prints why and returns null, and the tests skip.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;

/** Running services. */
export interface Services {
  pgUrl: string;
  s3Url: string;
  dir: string;
  /** `s3://hicra/PREFIX?endpoint=…` (a fresh prefix isolates a test's entries). */
  cacheUrl(prefix: string): string;
  stop(): void;
}

let counter = 0;

/** Starts PostgreSQL and the S3 server for this test file (null, with a printed reason, if impossible). */
export function startServices(): Services | null {
  // Test files run by `deno test --parallel` share one PID: a random part keeps them apart.
  const dir = `/tmp/hicra-svc-${Deno.pid}-${counter++}-${crypto.randomUUID().slice(0, 8)}`;
  const out = new Deno.Command("bash", {
    args: [`${ROOT}scripts/services.sh`, "start", "--dir", dir],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr).trim();
  if (out.code === 3) {
    // Not root / no apt: the services cannot be installed here.
    console.log(`skipped (no postgres): ${err}`);
    return null;
  }
  if (out.code !== 0) throw new Error(`scripts/services.sh start failed: ${err}\n${text}`);
  const get = (name: string) => {
    const m = new RegExp(`^${name}=(.*)$`, "m").exec(text);
    if (!m) throw new Error(`services.sh printed no ${name}: ${text}`);
    return m[1];
  };
  const pgUrl = get("PG_URL");
  const s3Url = get("S3_URL");
  return {
    pgUrl,
    s3Url,
    dir,
    cacheUrl: (prefix) => `s3://hicra/${prefix}?endpoint=${s3Url}`,
    stop() {
      new Deno.Command("bash", {
        args: [`${ROOT}scripts/services.sh`, "stop", "--dir", dir],
        cwd: ROOT,
        stdout: "null",
        stderr: "null",
      }).outputSync();
    },
  };
}

/** A fresh database on the running server (isolates a test's queue). */
export async function freshDatabase(svc: Services, name: string): Promise<string> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: svc.pgUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name}`);
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  return svc.pgUrl.replace(/\/[^/]*$/, `/${name}`);
}

/** A worker process (`cli/worker.ts`) and its stderr log. */
export interface WorkerProc {
  child: Deno.ChildProcess;
  log: string;
  /** Stops it with SIGTERM (it finishes the running instance) and waits. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL and waits. */
  kill9(): Promise<void>;
}

/** Spawns `deno task worker` against the services; its log goes to `log`. */
export function spawnWorker(
  queueUrl: string,
  cacheUrl: string | null,
  resultsDir: string,
  env: Record<string, string> = {},
): WorkerProc {
  const log = `${resultsDir}.log`;
  Deno.mkdirSync(resultsDir, { recursive: true });
  Deno.writeTextFileSync(log, ""); // exists before the shell opens it
  const args = ["run", "-A", `${ROOT}cli/worker.ts`, "--queue", queueUrl, "--results", resultsDir];
  if (cacheUrl) args.push("--cache", cacheUrl);
  // The shell execs deno with stderr on the log file: the log fills as the worker writes.
  const quoted = [DENO, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `exec ${quoted} 2>'${log}'`],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let done = false;
  const finish = async () => {
    if (done) return;
    done = true;
    await child.status;
  };
  return {
    child,
    log,
    async stop() {
      if (!done) {
        try {
          child.kill("SIGTERM");
        } catch { /* exited */ }
      }
      await finish();
    },
    async kill9() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await finish();
    },
  };
}

/** Runs the toy `run` command (with the scale-out executors) as a subprocess. */
export async function runToyCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", `${ROOT}tests/scaleout/toy_cli.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Waits until `check` is true (polling), or throws after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Absolute path of the repository root (ends in "/"). */
export const REPO = ROOT;

/** Replaces one file inside an entry's bundle in the bucket, behind the store's back. */
export async function tamperRemoteFile(
  cacheUrl: string,
  key: string,
  rel: string,
  text: string,
): Promise<void> {
  const { GetObjectCommand, PutObjectCommand, S3Client } = await import("@aws-sdk/client-s3");
  const { bundle, parseCacheUrl, unbundle } = await import("../../scaleout/s3_store.ts");
  const loc = parseCacheUrl(cacheUrl);
  const client = new S3Client({
    region: "us-east-1",
    endpoint: loc.endpoint,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    forcePathStyle: true,
  });
  try {
    const object = { Bucket: loc.bucket, Key: `${loc.prefix}/entries/${key}/bundle` };
    const res = await client.send(new GetObjectCommand(object));
    const files = unbundle(await res.Body!.transformToByteArray());
    if (typeof files === "string") throw new Error(files);
    const changed = files.map(([r, b]): [string, Uint8Array] =>
      r === rel ? [r, new TextEncoder().encode(text)] : [r, b]
    );
    await client.send(new PutObjectCommand({ ...object, Body: bundle(changed) }));
  } finally {
    client.destroy();
  }
}

/**
 * The second cache level: a bucket shared by every machine (`--cache s3://BUCKET/PREFIX`).
 * An entry is two objects under `PREFIX/entries/KEY/`: `bundle` (every file of the entry,
 * concatenated after a one-line JSON index of names and lengths: one request instead of
 * one per file) and `manifest.json`, uploaded last, so an entry is visible (its manifest
 * exists) only once it is complete. Entries are immutable and content-addressed. A download goes to a staging
 * directory, is verified there exactly like a local hit (the manifest against its own hash,
 * every file against the manifest, no unlisted file) and only then renamed into the local
 * cache: a corrupt remote entry never reaches it.
 *
 * The endpoint of a non-AWS server (s3rver, MinIO) comes from `?endpoint=URL` in the cache
 * URL or from `AWS_ENDPOINT_URL`; credentials from the usual AWS variables (s3rver's fixed
 * `S3RVER` keys when none are set and an endpoint is given).
 *
 * @module
 */
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Cache, type Manifest } from "../pipeline/cache.ts";
import { UserError } from "../pipeline/errors.ts";

/** Where a cache bucket is. */
export interface BucketLocation {
  bucket: string;
  /** Key prefix without trailing slash ("" for the bucket root). */
  prefix: string;
  /** Endpoint URL of a non-AWS server, if any. */
  endpoint?: string;
  /** The URL as given (for messages). */
  url: string;
}

/** Parses `s3://BUCKET[/PREFIX][?endpoint=URL]`; a UserError names what is wrong. */
export function parseCacheUrl(url: string): BucketLocation {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/[^?]*)?(\?.*)?$/.exec(url);
  if (!m) {
    throw new UserError(
      `--cache ${url}: expected s3://BUCKET/PREFIX (e.g. s3://hicra/cache), optionally with ?endpoint=http://HOST:PORT`,
    );
  }
  const query = new URLSearchParams(m[3]?.slice(1) ?? "");
  const endpoint = query.get("endpoint") ?? Deno.env.get("AWS_ENDPOINT_URL") ?? undefined;
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, ""), endpoint, url };
}

/** Result of pulling an entry. */
export type PullResult =
  | { status: "fetched"; manifest: Manifest }
  | { status: "miss" }
  | { status: "corrupt"; reason: string };

/** A content-addressed entry store in an S3 bucket. */
export class RemoteCache {
  readonly location: BucketLocation;
  #client: S3Client;
  /** Keys known to be complete in the bucket (entries are immutable). */
  #known = new Set<string>();

  constructor(location: BucketLocation) {
    this.location = location;
    const env = (k: string) => Deno.env.get(k);
    const credentials = env("AWS_ACCESS_KEY_ID")
      ? undefined // the SDK's default chain reads them
      : location.endpoint
      ? { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }
      : undefined;
    this.#client = new S3Client({
      region: env("AWS_REGION") ?? "us-east-1",
      endpoint: location.endpoint,
      credentials,
      // Path-style addressing and no default checksums: what s3rver and MinIO accept.
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 2,
    });
  }

  /** Human name of the store for messages: the URL and, if any, its endpoint. */
  describe(): string {
    const { url, endpoint } = this.location;
    return endpoint ? `${url.replace(/\?.*/, "")} (endpoint ${endpoint})` : url;
  }

  /** Checks that the bucket answers; a UserError names the URL and what to do. */
  async probe(): Promise<void> {
    await this.#call(
      "reach",
      () => this.#client.send(new HeadBucketCommand({ Bucket: this.location.bucket })),
    );
  }

  /** True if the bucket holds a complete entry of `key` (its manifest exists). */
  async has(key: string): Promise<boolean> {
    if (this.#known.has(key)) return true;
    try {
      await this.#call("read", () =>
        this.#client.send(
          new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.#object(key, MANIFEST) }),
        ));
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    this.#known.add(key);
    return true;
  }

  /**
   * Uploads the local entry of `key` (verified first): every file, then the manifest.
   * Throws if the local entry is missing, corrupt or pruned (nothing is uploaded then).
   * `replace`: upload even if the bucket is known to hold it (to replace a corrupt one).
   */
  async push(cache: Cache, key: string, replace = false): Promise<void> {
    if (this.#known.has(key) && !replace) return;
    const found = cache.lookup(key);
    if (found.status !== "hit") {
      throw new Error(`cannot upload entry ${key.slice(0, 12)}: local entry is ${found.status}`);
    }
    if (found.manifest.pruned) {
      throw new Error(`cannot upload entry ${key.slice(0, 12)}: its outputs were pruned`);
    }
    const rels = Object.keys(found.manifest.files).sort();
    const files = rels.map((rel): [string, Uint8Array] => [
      rel,
      Deno.readFileSync(`${found.dir}/${rel}`),
    ]);
    await this.#put(key, BUNDLE, bundle(files));
    // Last: the entry becomes visible only now that all its files are there.
    await this.#put(key, MANIFEST, Deno.readFileSync(`${found.dir}/${MANIFEST}`));
    this.#known.add(key);
  }

  /**
   * Downloads the entry of `key` into `cache` if the bucket has it, verified before it is
   * renamed into place. An entry already valid in the local cache is kept. `exists`: the
   * caller knows the entry is there (a worker just reported it), so no HEAD first.
   */
  async pull(cache: Cache, key: string, exists = false): Promise<PullResult> {
    // A HEAD answers the common miss in one cheap request.
    if (!exists && !(await this.has(key))) return { status: "miss" };
    const got = await this.#pull(cache, key);
    if (got.status !== "fetched") this.#known.delete(key);
    return got;
  }

  async #pull(cache: Cache, key: string): Promise<PullResult> {
    // Both at once: on a miss both are absent, on a hit one round trip fetches the entry.
    const [manifestBytes, bundleBytes] = await Promise.all([
      this.#get(key, MANIFEST),
      this.#get(key, BUNDLE),
    ]);
    if (!manifestBytes) return { status: "miss" };
    if (!bundleBytes) return { status: "corrupt", reason: "the bundle of files is missing" };
    const files = unbundle(bundleBytes);
    if (typeof files === "string") return { status: "corrupt", reason: files };
    // Staged under the cache's tmp dir, named so that cleanStaleTemps() removes leftovers.
    const staging = `${cache.tmpDir}/pull.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
    try {
      const stage = new Cache(staging);
      const dir = stage.entryDir(key);
      Deno.mkdirSync(dir, { recursive: true });
      for (const [rel, bytes] of files) {
        Deno.mkdirSync(`${dir}/${rel}`.replace(/\/[^/]+$/, ""), { recursive: true });
        Deno.writeFileSync(`${dir}/${rel}`, bytes);
      }
      Deno.writeFileSync(`${dir}/${MANIFEST}`, manifestBytes);
      const checked = stage.lookup(key);
      if (checked.status === "corrupt") return checked;
      if (checked.status !== "hit") return { status: "corrupt", reason: "entry did not verify" };
      const dest = cache.entryDir(key);
      Deno.mkdirSync(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
      const local = cache.lookup(key, false);
      if (local.status === "hit" && local.manifest.pruned) {
        // A pruned local entry is replaced by the full one (its outputs are needed again).
        const old = `${staging}/old`;
        Deno.renameSync(dest, old);
      }
      try {
        Deno.renameSync(dir, dest);
      } catch (e) {
        // Another process put the entry in place first: keep it if it is valid.
        if (cache.lookup(key).status !== "hit") throw e;
      }
      this.#known.add(key);
      const hit = cache.lookup(key);
      if (hit.status !== "hit") return { status: "corrupt", reason: "entry did not verify" };
      return { status: "fetched", manifest: hit.manifest };
    } finally {
      Deno.removeSync(staging, { recursive: true });
    }
  }

  /** Closes the client's connections. */
  close(): void {
    this.#client.destroy();
  }

  #object(key: string, rel: string): string {
    const p = this.location.prefix;
    return `${p ? `${p}/` : ""}entries/${key}/${rel}`;
  }

  async #put(key: string, rel: string, body: Uint8Array): Promise<void> {
    await this.#call("write", () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: this.#object(key, rel),
          Body: body,
          ContentLength: body.length,
        }),
      ));
  }

  async #get(key: string, rel: string): Promise<Uint8Array | null> {
    try {
      return await this.#call("read", async () => {
        const res = await this.#client.send(
          new GetObjectCommand({ Bucket: this.location.bucket, Key: this.#object(key, rel) }),
        );
        return await res.Body!.transformToByteArray();
      });
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** Runs an S3 call; an unreachable endpoint or a missing bucket becomes a UserError. */
  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isNotFound(e) && !isNoBucket(e)) throw e;
      throw bucketError(this.describe(), what, e) ?? e;
    }
  }
}

const MANIFEST = "manifest.json";
const BUNDLE = "bundle";

/** Files as one byte string: a JSON line `[[name, length], …]`, then the bytes in that order. */
export function bundle(files: [string, Uint8Array][]): Uint8Array {
  const head = new TextEncoder().encode(
    JSON.stringify(files.map(([rel, b]) => [rel, b.length])) + "\n",
  );
  const out = new Uint8Array(head.length + files.reduce((n, [, b]) => n + b.length, 0));
  out.set(head);
  let at = head.length;
  for (const [, b] of files) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The files of a bundle, or what is wrong with it (bad index, bad paths, wrong length). */
export function unbundle(bytes: Uint8Array): [string, Uint8Array][] | string {
  const nl = bytes.indexOf(10);
  let index: unknown;
  try {
    index = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl)));
  } catch {
    return "the bundle has no readable index";
  }
  if (
    nl < 0 || !Array.isArray(index) ||
    !index.every((x) =>
      Array.isArray(x) && typeof x[0] === "string" && Number.isInteger(x[1]) && x[1] >= 0
    )
  ) return "the bundle has no readable index";
  const out: [string, Uint8Array][] = [];
  let at = nl + 1;
  for (const [rel, len] of index as [string, number][]) {
    if (rel.startsWith("/") || rel.split("/").some((p) => p === ".." || p === "" || p === ".")) {
      return `the bundle names a bad path ${JSON.stringify(rel)}`;
    }
    out.push([rel, bytes.subarray(at, at + len)]);
    at += len;
  }
  if (at !== bytes.length) return "the bundle's length does not match its index";
  return out;
}

function isNotFound(e: unknown): boolean {
  const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return x?.name === "NotFound" || x?.name === "NoSuchKey" || x?.name === "NoSuchBucket" ||
    x?.$metadata?.httpStatusCode === 404;
}

function isNoBucket(e: unknown): boolean {
  return (e as { name?: string })?.name === "NoSuchBucket";
}

/** A clear error for an unreachable bucket, or null for other failures. */
export function bucketError(where: string, what: string, e: unknown): UserError | null {
  const text = chainText(e);
  if (isNoBucket(e) || /NoSuchBucket/.test(text)) {
    return new UserError(
      `the cache bucket ${where} does not exist; create it (the test server makes "hicra") or check --cache`,
    );
  }
  if (
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|Connection refused|connect|socket hang up|fetch failed/i
      .test(text)
  ) {
    return new UserError(
      `cannot ${what} the cache bucket ${where}: ${firstLine(text)}; start the S3 server ` +
        `(bash scripts/services.sh start prints its URL) or check --cache and AWS_ENDPOINT_URL`,
    );
  }
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (status === 403 || status === 401) {
    return new UserError(
      `the cache bucket ${where} refused access (HTTP ${status}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`,
    );
  }
  return null;
}

function chainText(e: unknown): string {
  const parts: string[] = [];
  for (let x = e, i = 0; x && i < 6; x = (x as { cause?: unknown }).cause, i++) {
    const o = x as { message?: string; code?: string; name?: string };
    parts.push([o.code, o.name, o.message].filter(Boolean).join(" "));
    const errors = (x as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) { for (const sub of errors) parts.push(chainText(sub)); }
  }
  return parts.join(" | ");
}

function firstLine(text: string): string {
  const m = /(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)[^|]*/.exec(text);
  return (m ? m[0] : text.split("|")[0]).trim().slice(0, 160);
}

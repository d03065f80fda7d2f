/**
 * The bucket cache level against a real S3 server (s3rver): round trip, manifest-last
 * visibility, verification of every download, and clear errors.
 */
import assert from "node:assert/strict";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Cache, listFiles } from "../../pipeline/cache.ts";
import { loadExperimentText } from "../../pipeline/config.ts";
import { UserError } from "../../pipeline/errors.ts";
import { execute } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { bundle, parseCacheUrl, RemoteCache, unbundle } from "../../scaleout/s3_store.ts";
import { registry } from "../fixtures/toy_stages.ts";
import { startServices, tamperRemoteFile } from "./services.ts";

const TOY = Deno.readTextFileSync(new URL("../fixtures/toy_loop.yaml", import.meta.url));
const svc = startServices();

Deno.test("parseCacheUrl reads bucket, prefix and endpoint; a bad URL is a UserError", () => {
  const loc = parseCacheUrl("s3://hicra/a/b/?endpoint=http://127.0.0.1:9000");
  assert.deepEqual(
    { bucket: loc.bucket, prefix: loc.prefix, endpoint: loc.endpoint },
    { bucket: "hicra", prefix: "a/b", endpoint: "http://127.0.0.1:9000" },
  );
  assert.throws(() => parseCacheUrl("http://x/y"), UserError);
  assert.throws(() => parseCacheUrl("s3://"), /expected s3:\/\/BUCKET\/PREFIX/);
});

Deno.test("a bundle round-trips its files; a bad path or length is refused", () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  const files: [string, Uint8Array][] = [["a.json", enc("[1]")], ["out/b\nc", enc("x\ny")]];
  assert.deepEqual(unbundle(bundle(files)), files);
  assert.match(
    unbundle(bundle([["../etc/x", enc("1")]])) as string,
    /bad path "\.\.\/etc\/x"/,
  );
  const cut = bundle(files).subarray(0, -1);
  assert.equal(unbundle(cut), "the bundle's length does not match its index");
  assert.equal(unbundle(enc("not json\n")), "the bundle has no readable index");
});

Deno.test({
  name: "the bucket: round trip, manifest last, every download verified",
  ignore: svc === null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const s = svc!;
    const src = Deno.makeTempDirSync();
    const summary = await execute(
      loadExperimentText(TOY, "toy.yaml", registry, []).points,
      { resultsDir: src, registry, reporter: new SilentReporter() },
    );
    const keys = summary.details.map((d) => d.key!);
    const local = new Cache(`${src}/cache`);
    const loc = parseCacheUrl(s.cacheUrl(`store-${Deno.pid}`));
    const remote = new RemoteCache(loc);
    const raw = new S3Client({
      region: "us-east-1",
      endpoint: loc.endpoint,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      forcePathStyle: true,
    });
    const put = (key: string, rel: string, body: string) =>
      raw.send(
        new PutObjectCommand({
          Bucket: loc.bucket,
          Key: `${loc.prefix}/entries/${key}/${rel}`,
          Body: body,
        }),
      );
    try {
      await t.step("an uploaded entry comes back byte for byte and verified", async () => {
        for (const k of keys) await remote.push(local, k);
        const dest = new Cache(`${Deno.makeTempDirSync()}/cache`);
        for (const k of keys) {
          const got = await remote.pull(dest, k);
          assert.equal(got.status, "fetched");
          const files = listFiles(local.entryDir(k));
          assert.deepEqual(listFiles(dest.entryDir(k)), files);
          for (const f of files) {
            assert.deepEqual(
              Deno.readFileSync(`${dest.entryDir(k)}/${f}`),
              Deno.readFileSync(`${local.entryDir(k)}/${f}`),
            );
          }
        }
      });

      await t.step(
        "a bundle without its manifest (an interrupted upload) is no entry",
        async () => {
          const key = "f".repeat(64);
          await put(key, "bundle", '[["metrics.json",2]]\n[]');
          assert.equal(await new RemoteCache(loc).has(key), false);
          const dest = new Cache(`${Deno.makeTempDirSync()}/cache`);
          assert.deepEqual(await remote.pull(dest, key), { status: "miss" });
          assert.equal(dest.lookup(key).status, "miss");
        },
      );

      await t.step(
        "a changed file or manifest is reported and never reaches the cache",
        async () => {
          const k = keys[3];
          const dest = new Cache(`${Deno.makeTempDirSync()}/cache`);
          await tamperRemoteFile(loc.url, k, "metrics.json", '[{"name":"value","value":999}]');
          const bad = await remote.pull(dest, k);
          assert.deepEqual(bad, {
            status: "corrupt",
            reason: "metrics.json does not match its hash",
          });
          assert.equal(dest.lookup(k).status, "miss");
          // Re-uploading the verified local copy repairs it.
          await remote.push(local, k, true);
          assert.equal((await remote.pull(dest, k)).status, "fetched");
          const manifest = Deno.readTextFileSync(`${local.entryDir(k)}/manifest.json`);
          await put(k, "manifest.json", manifest.replace('"seconds":', '"seconds": 1e9, "x":'));
          const dest2 = new Cache(`${Deno.makeTempDirSync()}/cache`);
          const bad2 = await remote.pull(dest2, k);
          assert.equal(bad2.status, "corrupt");
          assert.equal(dest2.lookup(k).status, "miss");
        },
      );

      await t.step("an unreachable server is a UserError naming the URL and the fix", async () => {
        const dead = new RemoteCache(parseCacheUrl("s3://hicra/p?endpoint=http://127.0.0.1:1"));
        await assert.rejects(
          () => dead.probe(),
          (e: unknown) =>
            e instanceof UserError &&
            /cannot reach the cache bucket s3:\/\/hicra\/p \(endpoint http:\/\/127\.0\.0\.1:1\)/
              .test(e.message) &&
            /scripts\/services\.sh start/.test(e.message),
        );
        dead.close();
      });
    } finally {
      raw.destroy();
      remote.close();
      s.stop();
    }
  },
});

/**
 * A loopback S3 test server (npm `s3rver`) for tests, benchmarks and a single-machine trial of
 * the scale-out executor: `deno run -A scaleout/s3_server.ts --port P --dir D [--bucket B]`.
 * Prints `S3_URL=http://127.0.0.1:P` once it accepts requests; stops on SIGTERM / SIGINT.
 *
 * @module
 */
import S3rver from "s3rver";

function flag(args: string[], name: string, fallback?: string): string {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? args[i + 1] : fallback;
  if (v === undefined) {
    console.error(`error: --${name} is required (usage: s3_server.ts --port P --dir D)`);
    Deno.exit(2);
  }
  return v;
}

if (import.meta.main) {
  const port = Number(flag(Deno.args, "port"));
  const directory = flag(Deno.args, "dir");
  const bucket = flag(Deno.args, "bucket", "hicra");
  Deno.mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    port,
    address: "127.0.0.1",
    directory,
    silent: true,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  await server.run();
  console.log(`S3_URL=http://127.0.0.1:${port}`);
  const stop = async () => {
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}

/**
 * Key files (pipeline/key_files.ts): a kind that declares the files it reads gets their
 * contents in its key; kinds that declare none keep their keys; relative paths resolve
 * against the experiment file's folder.
 */
import assert from "node:assert/strict";
import { instanceKey, type KeyParts } from "../../pipeline/cache.ts";
import { ConfigError, loadExperimentFile, loadExperimentText } from "../../pipeline/config.ts";
import { UserError } from "../../pipeline/errors.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { summarizeExplain } from "../../pipeline/explain.ts";
import { hashJson } from "../../pipeline/hash.ts";
import { experimentDir, resolveIn } from "../../pipeline/key_files.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { createRegistry } from "../../pipeline/registry.ts";
import type { StageKind } from "../../pipeline/types.ts";

/** Counts the lines of a file (or of every file in a directory) named by a param. */
const lines: StageKind = {
  name: "lines",
  version: 1,
  doc: "Line count of a file or directory",
  params: { path: { type: "string", doc: "File or directory, relative to the experiment" } },
  inputs: {},
  keyFiles: (p) => [p.path as string],
  run(ctx) {
    const abs = resolveIn(ctx.dir, ctx.params.path as string);
    const texts = Deno.statSync(abs).isDirectory
      ? [...Deno.readDirSync(abs)].map((e) => Deno.readTextFileSync(`${abs}/${e.name}`))
      : [Deno.readTextFileSync(abs)];
    const n = texts.reduce((s, t) => s + t.split("\n").filter(Boolean).length, 0);
    Deno.writeTextFileSync(`${ctx.outDir}/n.json`, JSON.stringify(n));
    ctx.metric("lines", n);
    return Promise.resolve();
  },
};

/** A kind with no key files, reading its input. */
const double: StageKind = {
  name: "double",
  version: 3,
  doc: "Twice the input's count",
  params: { by: { type: "number", default: 2, doc: "Factor" } },
  inputs: { x: { doc: "lines output" } },
  run(ctx) {
    const n = JSON.parse(Deno.readTextFileSync(`${ctx.inputs.x.dir}/n.json`));
    Deno.writeTextFileSync(`${ctx.outDir}/n.json`, JSON.stringify(n * 2));
    return Promise.resolve();
  },
};

const registry = createRegistry([lines, double]);
const YAML = `name: files
stages:
  count: { kind: lines, with: { path: data/a.txt } }
  twice: { kind: double, needs: { x: count } }
`;

/** An experiment folder with `exp.yaml` and `data/a.txt`. */
function project(): { root: string; yaml: string } {
  const root = Deno.makeTempDirSync();
  Deno.mkdirSync(`${root}/exp/data`, { recursive: true });
  Deno.writeTextFileSync(`${root}/exp/data/a.txt`, "x\ny\n");
  Deno.writeTextFileSync(`${root}/exp/exp.yaml`, YAML);
  return { root, yaml: `${root}/exp/exp.yaml` };
}

function run(yaml: string, results: string, extra: Partial<ExecuteOptions> = {}, text = YAML) {
  const plan = loadExperimentText(text, yaml, registry);
  return execute(plan.points, {
    resultsDir: results,
    registry,
    reporter: new SilentReporter(),
    ...extra,
  });
}

const keyOf = (s: Awaited<ReturnType<typeof run>>, label: string) =>
  s.details.find((d) => d.label === label)!.key!;

function manifestOf(results: string, key: string): { keyParts: KeyParts } {
  return JSON.parse(
    Deno.readTextFileSync(`${results}/cache/entries/${key.slice(0, 2)}/${key}/manifest.json`),
  );
}

Deno.test("key files: a file rewritten in place misses, --explain names it, same bytes hit again", async () => {
  const { root, yaml } = project();
  const results = `${root}/results`;
  const first = await run(yaml, results);
  assert.equal(first.computed, 2);
  const parts = manifestOf(results, keyOf(first, "count")).keyParts;
  assert.deepEqual(Object.keys(parts.files!), ["data/a.txt"]);
  assert.equal((await run(yaml, results)).computed, 0);

  Deno.writeTextFileSync(`${root}/exp/data/a.txt`, "x\ny\nz\n"); // same path, new bytes
  const dry = await run(yaml, results, { dryRun: true, explain: true });
  const why = dry.details.find((d) => d.label === "count")!.why!;
  assert.equal(why.length, 1, why.join("; "));
  assert.match(why[0], /^file data\/a\.txt changed \([0-9a-f]{8} → [0-9a-f]{8}\)$/);
  assert.deepEqual(summarizeExplain(dry.details), [
    "count: 0 cached, 1 to run (file changed: data/a.txt)",
    "twice: 0 cached, 1 to run (after upstream)",
  ]);
  const second = await run(yaml, results);
  assert.equal(second.computed, 2);
  assert.notEqual(keyOf(second, "count"), keyOf(first, "count"));
  const n = JSON.parse(
    Deno.readTextFileSync(
      `${results}/cache/entries/${keyOf(second, "count").slice(0, 2)}/${
        keyOf(second, "count")
      }/out/n.json`,
    ),
  );
  assert.equal(n, 3, "the rewritten file was read");

  Deno.writeTextFileSync(`${root}/exp/data/a.txt`, "x\ny\n"); // the old bytes: the old entry
  const third = await run(yaml, results);
  assert.equal(third.computed, 0);
  assert.equal(keyOf(third, "count"), keyOf(first, "count"));
  Deno.removeSync(root, { recursive: true });
});

Deno.test("key files: a kind without keyFiles keeps the key shape it had before the feature", async () => {
  const { root, yaml } = project();
  const results = `${root}/results`;
  const s = await run(yaml, results);
  const key = keyOf(s, "twice");
  const parts = manifestOf(results, key).keyParts;
  assert.ok(!("files" in parts), "a kind without key files has no files part");
  // The key is the hash of exactly the pre-feature fields, so entries written before stay hits.
  const before = {
    kind: "double",
    version: 3,
    params: { by: 2 },
    inputs: { x: parts.inputs.x },
    seed: parts.seed,
    runtime: {},
    step: null,
  };
  assert.equal(key, hashJson(before));
  // And an absent `files` field hashes like no field at all.
  assert.equal(instanceKey({ ...before, files: undefined } as KeyParts), hashJson(before));
  Deno.removeSync(root, { recursive: true });
});

Deno.test("key files: a directory is hashed by its files' names and bytes", async () => {
  const { root, yaml } = project();
  const results = `${root}/results`;
  const text = YAML.replace("data/a.txt", "data");
  const first = await run(yaml, results, {}, text);
  assert.equal(first.computed, 2);
  assert.equal((await run(yaml, results, {}, text)).computed, 0);
  Deno.writeTextFileSync(`${root}/exp/data/b.txt`, "w\n"); // a new file in the folder
  const dry = await run(yaml, results, { dryRun: true, explain: true }, text);
  assert.match(dry.details.find((d) => d.label === "count")!.why![0], /^file data changed/);
  Deno.renameSync(`${root}/exp/data/b.txt`, `${root}/exp/data/c.txt`); // same bytes, new name
  const renamed = await run(yaml, results, { dryRun: true }, text);
  assert.equal(renamed.details.find((d) => d.label === "count")!.status, "miss");
  Deno.removeSync(root, { recursive: true });
});

Deno.test("key files: relative paths resolve against the experiment file, from any cwd", async () => {
  const { root, yaml } = project();
  const results = `${root}/results`;
  const cwd = Deno.cwd();
  const elsewhere = Deno.makeTempDirSync();
  let a, b;
  try {
    Deno.chdir(elsewhere);
    a = await run(yaml, results);
    Deno.chdir(`${root}/exp`);
    b = await run("exp.yaml", results); // the experiment named relative to the cwd
  } finally {
    Deno.chdir(cwd);
  }
  assert.equal(a.computed, 2);
  assert.equal(b.computed, 0, "the same files, the same keys, wherever it runs from");
  // A moved checkout keeps its keys: the key holds the path as written, not the absolute one.
  Deno.renameSync(`${root}/exp`, `${root}/moved`);
  const moved = await run(`${root}/moved/exp.yaml`, results);
  assert.equal(moved.computed, 0);
  Deno.removeSync(root, { recursive: true });
  Deno.removeSync(elsewhere, { recursive: true });
});

Deno.test("key files: a missing file is a user error naming it, before anything runs", async () => {
  const { root, yaml } = project();
  const results = `${root}/results`;
  Deno.removeSync(`${root}/exp/data/a.txt`);
  for (const dryRun of [false, true]) {
    await assert.rejects(
      () => run(yaml, results, { dryRun }),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.equal(
          e.message,
          `${yaml}: stage count: file ${root}/exp/data/a.txt does not exist ` +
            `(relative paths are relative to the experiment file); fix the path`,
        );
        return true;
      },
    );
  }
  assert.deepEqual([...Deno.readDirSync(`${results}/cache/entries`)], [], "nothing ran");
  Deno.removeSync(root, { recursive: true });
});

Deno.test("key files: loading the experiment file reports a missing one at the param naming it", async () => {
  const { root, yaml } = project();
  Deno.removeSync(`${root}/exp/data/a.txt`);
  const col = YAML.split("\n")[2].indexOf("data/a.txt") + 1;
  await assert.rejects(() => loadExperimentFile(yaml, registry), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(
      e.message.split("\n")[0],
      `${yaml}:3:${col}: stages.count.with.path: ${root}/exp/data/a.txt does not exist ` +
        `(relative paths are relative to the experiment file); fix the path`,
    );
    return true;
  });
  // Present again: it loads.
  Deno.writeTextFileSync(`${root}/exp/data/a.txt`, "x\n");
  assert.equal((await loadExperimentFile(yaml, registry)).points.length, 1);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("key files: experimentDir and resolveIn", () => {
  const cwd = Deno.cwd();
  assert.equal(experimentDir("x.yaml"), cwd);
  assert.equal(experimentDir("exp/x.yaml"), `${cwd}/exp`);
  assert.equal(experimentDir("/a/b/x.yaml"), "/a/b");
  assert.equal(experimentDir("/x.yaml"), "/");
  assert.equal(resolveIn("/a/b", "../c/./d.txt"), "/a/c/d.txt");
  assert.equal(resolveIn("/a/b", "x/"), "/a/b/x");
  assert.equal(resolveIn("/a/b", "/abs/f"), "/abs/f");
  assert.equal(resolveIn(undefined, "rel/f"), "rel/f");
});

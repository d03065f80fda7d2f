/**
 * Plug-ins (issue 15): modules named under `plugins:` add stage kinds; their
 * source hash is in the keys of the instances they define or affect; bad
 * plug-ins are `FILE:LINE:COL` errors; worker threads load them too. The
 * worked example in examples/plugin/ is loaded with the lab's registry and its
 * estimator checked.
 */
import assert from "node:assert/strict";
import { ConfigError, loadExperimentFile } from "../../pipeline/config.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { sourceHash } from "../../pipeline/plugins.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import type { StageRegistry } from "../../pipeline/types.ts";
import { registry as toyRegistry } from "../fixtures/toy_stages.ts";

const TOY_MODULE = new URL("../fixtures/toy_stages.ts", import.meta.url).href;

/** A plug-in adding `triple` (x → 3x), importing a helper from its own directory. */
const PLUGIN = `import { factor } from "./helper.ts";
export const stageKinds = [{
  name: "triple",
  version: 1,
  doc: "x times three",
  params: {},
  inputs: { x: { doc: "a number" } },
  run(ctx) {
    const v = JSON.parse(Deno.readTextFileSync(ctx.inputs.x.dir + "/value.json")).value;
    Deno.writeTextFileSync(ctx.outDir + "/value.json", JSON.stringify({ value: v * factor }));
    ctx.metric("value", v * factor);
    return Promise.resolve();
  },
}];
`;

const EXPERIMENT = `name: plugged
plugins:
  - ./plug/triple.ts
stages:
  a: { kind: source, with: { base: 2 } }
  b: { kind: triple, needs: { x: a } }
  c: { kind: scale, needs: { x: b }, with: { factor: 10 } }
`;

/** A temp dir holding the experiment and its plug-in (with a local helper module). */
function project(experiment = EXPERIMENT, plugin = PLUGIN, helper = "export const factor = 3;\n") {
  const dir = Deno.makeTempDirSync();
  Deno.mkdirSync(`${dir}/plug`);
  Deno.writeTextFileSync(`${dir}/plug/triple.ts`, plugin);
  Deno.writeTextFileSync(`${dir}/plug/helper.ts`, helper);
  Deno.writeTextFileSync(`${dir}/exp.yaml`, experiment);
  return dir;
}

function opts(dir: string, registry: StageRegistry, extra: Partial<ExecuteOptions> = {}) {
  return { resultsDir: `${dir}/results`, registry, reporter: new SilentReporter(), ...extra };
}

function valueOf(summary: Awaited<ReturnType<typeof execute>>, dir: string, label: string) {
  const key = summary.details.find((d) => d.label === label)!.key!;
  const path = `${dir}/results/cache/entries/${key.slice(0, 2)}/${key}/out/value.json`;
  return JSON.parse(Deno.readTextFileSync(path)).value;
}

async function problemsOf(path: string): Promise<string[]> {
  try {
    await loadExperimentFile(path, toyRegistry);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("expected a ConfigError");
}

Deno.test("a plug-in's stage kind runs, and its source hash is in the keys of its instances only", async () => {
  const dir = project();
  const plan = await loadExperimentFile(`${dir}/exp.yaml`, toyRegistry);
  assert.ok(plan.registry.names().includes("triple"));
  assert.equal(toyRegistry.get("triple"), undefined, "the lab's registry is not mutated");
  const first = await execute(plan.points, opts(dir, plan.registry));
  assert.equal(first.computed, 3);
  assert.equal(valueOf(first, dir, "c"), 60);
  const { hash, files } = sourceHash(`${dir}/plug/triple.ts`);
  assert.deepEqual(files.map((f) => f.slice(dir.length)), ["/plug/helper.ts", "/plug/triple.ts"]);
  const manifest = (label: string) => {
    const key = first.details.find((d) => d.label === label)!.key!;
    return JSON.parse(
      Deno.readTextFileSync(`${dir}/results/cache/entries/${key.slice(0, 2)}/${key}/manifest.json`),
    );
  };
  assert.deepEqual(manifest("b").keyParts.sources, { "./plug/triple.ts": hash });
  assert.equal(manifest("a").keyParts.sources, undefined);

  // Editing the plug-in's local import changes its hash: b reruns and --explain says why;
  // a (a lab kind) stays cached.
  Deno.writeTextFileSync(`${dir}/plug/helper.ts`, "export const factor = 3; // edited\n");
  assert.notEqual(sourceHash(`${dir}/plug/triple.ts`).hash, hash);
  const again = await loadExperimentFile(`${dir}/exp.yaml`, toyRegistry);
  const dry = await execute(
    again.points,
    opts(dir, again.registry, { dryRun: true, explain: true }),
  );
  const by = (label: string) => dry.details.find((d) => d.label === label)!;
  assert.equal(by("a").status, "hit");
  assert.equal(by("b").status, "miss");
  assert.equal(by("b").why!.length, 1);
  assert.match(
    by("b").why![0],
    /^plug-in \.\/plug\/triple\.ts source changed \([0-9a-f]{8} → [0-9a-f]{8}\)$/,
  );
  assert.equal(by("c").status, "blocked");
  // Early cutoff still holds: same bytes out of b, so c hits after b reruns.
  const rerun = await execute(again.points, opts(dir, again.registry));
  assert.deepEqual(
    Object.fromEntries(rerun.details.map((d) => [d.label, d.status])),
    { a: "hit", b: "ran", c: "hit" },
  );
});

Deno.test("worker threads (jobs > 1) load the plug-ins too", async () => {
  const dir = project(EXPERIMENT.replace("base: 2", "base: 5"));
  const plan = await loadExperimentFile(`${dir}/exp.yaml`, toyRegistry);
  const r = await execute(
    plan.points,
    opts(dir, plan.registry, { jobs: 2, registryModule: TOY_MODULE }),
  );
  assert.equal(r.failed, 0, JSON.stringify(r.runs));
  assert.equal(valueOf(r, dir, "c"), 150);
});

Deno.test("a stage kind name taken by the lab or by another plug-in is an error at its line", async () => {
  const taken = PLUGIN.replace('name: "triple"', 'name: "scale"');
  const dir = project(EXPERIMENT, taken);
  assert.deepEqual(await problemsOf(`${dir}/exp.yaml`), [
    `${dir}/exp.yaml:3:5: plugins[0]: ./plug/triple.ts: stage kind "scale" is already registered (by the lab); choose another name`,
  ]);
  const twice = project(
    EXPERIMENT.replace("  - ./plug/triple.ts", "  - ./plug/triple.ts\n  - ./plug/copy.ts"),
  );
  Deno.writeTextFileSync(`${twice}/plug/copy.ts`, PLUGIN);
  assert.deepEqual(await problemsOf(`${twice}/exp.yaml`), [
    `${twice}/exp.yaml:4:5: plugins[1]: ./plug/copy.ts: stage kind "triple" is already registered (by plug-in ./plug/triple.ts); choose another name`,
  ]);
});

Deno.test("missing, broken and malformed plug-ins are FILE:LINE:COL errors; unknown kinds too", async () => {
  const missing = project(EXPERIMENT.replace("./plug/triple.ts", "./plug/nope.ts"));
  const [line] = await problemsOf(`${missing}/exp.yaml`);
  assert.ok(
    line.startsWith(`${missing}/exp.yaml:3:5: plugins[0]: no module file ./plug/nope.ts`),
    line,
  );

  const broken = project(EXPERIMENT, "throw new Error('boom at import');\n");
  assert.deepEqual(await problemsOf(`${broken}/exp.yaml`), [
    `${broken}/exp.yaml:3:5: plugins[0]: ./plug/triple.ts: failed to load: boom at import`,
  ]);

  const shape = project(EXPERIMENT, "export const stageKinds = [{ name: 'x' }];\n");
  const [shapeLine] = await problemsOf(`${shape}/exp.yaml`);
  assert.match(
    shapeLine,
    /:3:5: plugins\[0\]: \.\/plug\/triple\.ts: export stageKinds must be a list/,
  );

  const notList = project(EXPERIMENT.replace("plugins:\n  - ./plug/triple.ts", "plugins: 7"));
  const [notListLine] = await problemsOf(`${notList}/exp.yaml`);
  assert.match(notListLine, /exp\.yaml:2:10: plugins: expected a list of module paths/);

  // Without the plug-in, its kind is the ordinary unknown-kind error.
  const without = project(EXPERIMENT.replace("plugins:\n  - ./plug/triple.ts\n", ""));
  const lines = await problemsOf(`${without}/exp.yaml`);
  assert.ok(
    lines.some((l) => /exp\.yaml:4:14: stages\.b\.kind: unknown stage kind "triple"/.test(l)),
    lines.join("\n"),
  );
});

Deno.test("examples/plugin: the worked example loads with the lab, and its estimator is what it says", async () => {
  const { registry } = await import("../../stages/mod.ts");
  const { getEstimator, estimatorNames } = await import("../../algorithms/credit/mod.ts");
  const file = new URL("../../examples/plugin/experiment.yaml", import.meta.url).pathname;
  const plan = await loadExperimentFile(file, registry);
  assert.equal(plan.points.length, 2);
  assert.ok(estimatorNames().includes("planning-only"));
  const hash =
    sourceHash(new URL("../../examples/plugin/my_estimator.ts", import.meta.url).pathname)
      .hash;
  assert.deepEqual(plan.registry.get("assign-credit")!.sources, { "./my_estimator.ts": hash });
  assert.deepEqual(plan.registry.get("credit-stats")!.sources, { "./my_estimator.ts": hash });
  assert.equal(plan.registry.get("sample")!.sources, undefined);
  // Â = r − group mean on planning tokens, 0 elsewhere.
  const out = getEstimator("planning-only")({
    rewards: [1, 0],
    groups: [0, 0],
    lengths: [3, 2],
    planning: [[true, false, true], [false, true]],
    entropy: [[0, 0, 0], [0, 0]],
  }, { alpha: 0.2, stdScaling: "none", entropyTopFrac: 0.3 });
  assert.deepEqual(out.advantages, [[0.5, 0, 0.5], [0, -0.5]]);
});

Deno.test("examples/plugin runs end to end with the lab (toy size, both workers)", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const dir = Deno.makeTempDirSync();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${root}cli/run.ts`,
      `${root}examples/plugin/experiment.yaml`,
      "--results",
      dir,
      "--quiet",
      "--jobs",
      "2",
      "--set",
      "warmstart.steps=20",
      "--set",
      "loop.steps=1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /points: 2 done, 0 failed/);
  const { ResultsStore } = await import("../../pipeline/store.ts");
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const r = await store.query(
      `SELECT r.label, m.value FROM metrics m JOIN runs r USING (run_id)
       WHERE m.stage = 'credit-stats' AND m.name = 'credit/nonzero_frac' ORDER BY 1`,
    );
    assert.deepEqual(r.rows.map(([label]) => String(label).split(" ")[0]), [
      "assign-credit.estimator=grpo",
      "assign-credit.estimator=planning-only",
    ]);
    assert.ok(r.rows.every(([, v]) => typeof v === "number" && v >= 0 && v <= 1));
  } finally {
    await store.close();
  }
});

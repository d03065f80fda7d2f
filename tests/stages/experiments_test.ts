/**
 * The shipped experiment files load against the real stage registry and
 * unroll to the expected plans (a dry run touches no cache).
 */
import assert from "node:assert/strict";
import { ConfigError, loadExperimentFile, loadExperimentText } from "../../pipeline/config.ts";
import { execute } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { registry } from "../../stages/mod.ts";

const dir = new URL("../../experiments/", import.meta.url).pathname;

async function dryRun(file: string) {
  const plan = await loadExperimentFile(`${dir}${file}`, registry);
  const summary = await execute(plan.points, {
    resultsDir: Deno.makeTempDirSync(),
    registry,
    dryRun: true,
    reporter: new SilentReporter(),
  });
  return { plan, summary };
}

Deno.test("hicra.yaml: grpo and hicra over 8 paired seeds share one warm start", async () => {
  const { plan, summary } = await dryRun("hicra.yaml");
  const seeds = [0, 1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(plan.points.map((p) => p.label), [
    ...seeds.map((s) => `assign-credit.estimator=grpo seed=${s}`),
    ...seeds.map((s) => `assign-credit.estimator=hicra seed=${s}`),
  ]);
  assert.equal(summary.details.filter((d) => d.stage === "warmstart").length, 1);
  assert.equal(summary.details.filter((d) => d.stage === "evaluate-base").length, 1);
  // A seed's step-0 sample is shared by its grpo and hicra points (same policy, same seed).
  assert.equal(summary.details.filter((d) => d.stage === "sample").length, 16 * 30 - 8);
  assert.equal(
    summary.blocked + summary.cached + summary.details.filter((d) => d.status === "miss").length,
    summary.instances,
  );
  // The primary metric is fixed in the file.
  assert.deepEqual(plan.compare?.metric, { stage: "final-eval", name: "pass@1/id" });
  assert.equal(plan.compare?.baseline, "grpo");
});

/** The experiment file without its header comments, name, description, compare and sweep. */
function baseConfig(file: string): string {
  const text = Deno.readTextFileSync(`${dir}${file}`);
  return text.slice(text.indexOf("\nseed:"), text.indexOf("\nsweep:"));
}

Deno.test("ablations.yaml: the main job's base config, one change per condition, 8 seeds", async () => {
  // Line for line the main job's but for the sampling policy wired into assign-credit for
  // segment-mc (other estimators ignore it, so their credit bytes and updates are the same).
  assert.equal(
    baseConfig("ablations.yaml").replace(
      "mask: cluster-entropy, policy: prev.update }",
      "mask: cluster-entropy }",
    ),
    baseConfig("hicra.yaml"),
  );
  const { plan } = await dryRun("ablations.yaml");
  const conditions = [...new Set(plan.points.map((p) => p.overrides.condition))];
  assert.deepEqual(conditions, [
    "grpo",
    "hicra",
    "sg-oracle",
    "sg-mined",
    "placebo",
    "high-entropy",
    "hicra-code",
    "hicra-code-entropy",
    "entropy-reg",
    "alpha-0.5",
    "forking-tokens",
    "gtpo",
    "gtpo-group",
    "dr-grpo",
    "gspo",
    "kl-cov",
    "clip-cov",
    "segment-mc",
    "segment-mc-sg",
  ]);
  assert.equal(plan.points.length, 152);
  const placebo = plan.points.find((p) => p.overrides.condition === "placebo")!;
  assert.equal(placebo.experiment.stages["assign-credit"].params.estimator, "placebo");
  const reg = plan.points.find((p) => p.overrides.condition === "entropy-reg")!;
  assert.equal(reg.experiment.stages["assign-credit"].params.estimator, "grpo");
  assert.equal(reg.experiment.stages.update.params.entropy_coef, 0.01);
  // The rival methods change one thing each against GRPO's advantages.
  const gspo = plan.points.find((p) => p.overrides.condition === "gspo")!;
  assert.equal(gspo.experiment.stages["assign-credit"].params.estimator, "grpo");
  assert.equal(gspo.experiment.stages.update.params.ratio, "sequence");
  assert.equal(gspo.experiment.stages.update.params.clip_high, 4e-4);
  const gtpo = plan.points.find((p) => p.overrides.condition === "gtpo")!;
  assert.equal(gtpo.experiment.stages["assign-credit"].params.estimator, "gtpo");
  assert.equal(gtpo.experiment.stages.update.params.policy_loss, "vanilla");
  const mc = plan.points.find((p) => p.overrides.condition === "segment-mc")!.experiment.stages;
  assert.equal(mc["assign-credit"].params.estimator, "segment-mc");
  assert.equal(mc["assign-credit"].params.mc_reward, mc.sample.params.reward);
  assert.equal(mc["cluster-entropy"].params.method, "oracle");
  assert.deepEqual(mc["assign-credit"].needs.policy, { stage: "update", when: "prev" });
});

Deno.test("two_phase.yaml: a weaker warm start, strict reward, 4 seeds", async () => {
  const { plan } = await dryRun("two_phase.yaml");
  assert.equal(plan.points.length, 8);
  const p = plan.points[0].experiment.stages;
  assert.equal(p.warmstart.params.steps, 500);
  assert.equal(p.sample.params.reward, "strict");
  assert.equal(p["final-eval"].params.reward, "strict");
});

Deno.test("smoke.yaml: two points at toy size", async () => {
  const { plan } = await dryRun("smoke.yaml");
  assert.equal(plan.points.length, 2);
});

Deno.test("runtime settings are checked at load time against the stages' schema", () => {
  const text = (runtime: string) =>
    `name: t\nruntime: ${runtime}\nstages:\n  warmstart:\n    kind: warmstart\n`;
  const problems = (runtime: string, sets: string[] = []) => {
    try {
      loadExperimentText(text(runtime), "t.yaml", registry, sets);
    } catch (e) {
      if (e instanceof ConfigError) {
        return e.problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
      }
      throw e;
    }
    return [];
  };
  assert.deepEqual(problems("{ backend: onnx }"), []);
  assert.deepEqual(problems("{ backend: onnxx }"), [
    '2:21: runtime.backend: expected one of "wasm", "cpu", "webgpu", "onnx", got "onnxx"; did you mean "onnx"?',
  ]);
  assert.deepEqual(problems("{ backnd: wasm }"), [
    '2:12: runtime: unknown setting "backnd"; did you mean "backend"? (settings: backend)',
  ]);
  assert.match(
    problems("{ backend: wasm }", ["runtime.backend=wasmm"]).join("\n"),
    /did you mean "wasm"/,
  );
  // The file's own value stays in the plan as written (no defaults are added).
  const plan = loadExperimentText(text("{ backend: onnx }"), "t.yaml", registry);
  assert.deepEqual(plan.points[0].experiment.runtime, { backend: "onnx" });
});

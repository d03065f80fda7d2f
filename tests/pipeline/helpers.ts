/**
 * Shared helpers of the engine tests: toy experiment runs (in process and as
 * real `run` subprocesses), a replayable PRNG, and a tmpfs probe.
 *
 * @module
 */
import { loadExperimentText } from "../../pipeline/config.ts";
import { execute, type ExecuteSummary } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { registry } from "../fixtures/toy_stages.ts";

/** The toy loop experiment (tests/fixtures/toy_loop.yaml). */
export const TOY: string = Deno.readTextFileSync(
  new URL("../fixtures/toy_loop.yaml", import.meta.url),
);

/** The toy `run` command (tests/fixtures/toy_cli.ts). */
export const TOY_CLI: string = new URL("../fixtures/toy_cli.ts", import.meta.url).pathname;

/** Runs the toy experiment (with `--set` overrides) into `dir`, recording into its store. */
export async function runToyInto(
  dir: string,
  sets: string[] = [],
): Promise<{ runId: string; summary: ExecuteSummary }> {
  const plan = loadExperimentText(TOY, "toy.yaml", registry, sets);
  const store = await ResultsStore.open(dir);
  try {
    const summary = await execute(plan.points, {
      resultsDir: dir,
      registry,
      reporter: new SilentReporter(),
      sink: store,
    });
    return { runId: plan.points[0].runId, summary };
  } finally {
    await store.close();
  }
}

/** A new results directory holding one toy run (with `--set` overrides). */
export async function toyResults(sets: string[] = []): Promise<string> {
  const dir = Deno.makeTempDirSync();
  await runToyInto(dir, sets);
  return dir;
}

/** The toy `run` command line for an experiment file and a results directory. */
export function toyRunArgs(dir: string, file: string, quiet = true): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    TOY_CLI,
    file,
    "--results",
    dir,
    ...(quiet ? ["--quiet"] : []),
  ];
}

/** Spawns a toy `run`; every instance it executes is appended to the file `log`. */
export function spawnToyRun(
  dir: string,
  file: string,
  log: string,
  quiet = true,
): Deno.ChildProcess {
  const [exe, ...args] = toyRunArgs(dir, file, quiet);
  return new Deno.Command(exe, {
    args,
    env: { TOY_EXEC_LOG: log, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Instance labels (`stage@step`) executed according to a toy log file (none if absent). */
export function executed(log: string): string[] {
  try {
    return Deno.readTextFileSync(log).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** A small seeded PRNG (mulberry32), so a failing random schedule can be replayed. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether this machine lets us mount a tmpfs in a private mount namespace. */
export function canMountTmpfs(): boolean {
  if (Deno.build.os !== "linux") return false;
  const dir = Deno.makeTempDirSync();
  try {
    return new Deno.Command("unshare", {
      args: ["-rm", "sh", "-c", 'mount -t tmpfs tmpfs "$0"', dir],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Readers of real RL rollout dumps into one row shape, {@link RealRow}:
 * - `verl`: `trainer.rollout_data_dir` files `<step>.jsonl` (a directory of them, or one file);
 *   keys `input`, `output`, `score`, `step` (`gts` and reward extras are kept as extras). No
 *   token ids: the texts are tokenized later, and rows are grouped by `input`.
 * - `trl`: `GRPOTrainer(log_completions=True)` parquet: `step, prompt, completion, <reward
 *   columns>, advantage`; the reward is the sum of the reward columns (TRL sums them, weights 1).
 *   Read with DuckDB's `read_parquet`.
 * - `hicra`: our JSONL with token ids, log-probs and entropies per token (bridge/FORMAT.md).
 *
 * Every reader validates the whole file before returning anything: a malformed line, a missing
 * key or a wrong type is a `UserError` `FILE:LINE[:COL]: …` (parquet: `FILE: row N: …`).
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { UserError } from "../pipeline/errors.ts";
import { locatedError, parseJsonAt } from "./errors.ts";

/** One rollout, whatever format it came from. */
export interface RealRow {
  /** Training step the rollout was sampled at. */
  step: number;
  /** The prompt text; rollouts of one prompt (and step) form a group. */
  prompt: string;
  /** The response text (for `hicra` rows with ids: informational, ids are authoritative). */
  response: string;
  /** Scalar reward (verl `score`, the sum of TRL's reward columns, ours `reward`). */
  reward: number;
  /** Whether the rollout solved the problem, when the format says so (ours `correct`). */
  correct: boolean | null;
  /** Response token ids (ours only). */
  ids: number[] | null;
  /** Per-token log π of the sampled token (ours only). */
  logprobs: number[] | null;
  /** Per-token entropy of the next-token distribution, nats (ours only). */
  entropy: number[] | null;
  /** Where the row came from, for messages: `FILE:LINE` or `FILE: row N`. */
  origin: string;
}

/** The formats {@link readRollouts} understands. */
export const FORMATS = ["verl", "trl", "hicra"] as const;
/** A rollout dump format. */
export type Format = typeof FORMATS[number];

/** Reads every row of a dump (a file, or for `verl` a directory of `<step>.jsonl`). */
export async function readRollouts(format: Format, path: string): Promise<RealRow[]> {
  if (format === "trl") return await readTrl(path);
  let stat: Deno.FileInfo;
  try {
    stat = Deno.statSync(path);
  } catch {
    throw new UserError(`${path}: not found; give the ${format} rollout file or directory`);
  }
  if (stat.isDirectory) {
    if (format !== "verl") throw new UserError(`${path}: is a directory; give the .jsonl file`);
    const files = [...Deno.readDirSync(path)].filter((e) => /^\d+\.jsonl$/.test(e.name))
      .map((e) => e.name).sort((a, b) => parseInt(a) - parseInt(b));
    if (files.length === 0) {
      throw new UserError(`${path}: no <step>.jsonl files (verl's trainer.rollout_data_dir)`);
    }
    return files.flatMap((f) => readJsonl(`${path}/${f}`, verlRow));
  }
  return readJsonl(path, format === "verl" ? verlRow : hicraRow);
}

type RowParser = (obj: Record<string, unknown>, at: Where) => RealRow;

interface Where {
  file: string;
  line: number;
}

function readJsonl(file: string, parse: RowParser): RealRow[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as Error).message})`);
  }
  const rows: RealRow[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const obj = parseJsonAt(line, file, i + 1);
    const at = { file, line: i + 1 };
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      throw locatedError(file, i + 1, 1, "each line must be one JSON object");
    }
    rows.push(parse(obj as Record<string, unknown>, at));
  });
  if (rows.length === 0) throw new UserError(`${file}: no rows`);
  return rows;
}

function need(obj: Record<string, unknown>, key: string, at: Where, fmt: string): unknown {
  if (!(key in obj) || obj[key] === null || obj[key] === undefined) {
    throw locatedError(
      at.file,
      at.line,
      null,
      `missing key "${key}" (${fmt} rows need ${REQUIRED[fmt]}; this row has ` +
        `${Object.keys(obj).join(", ") || "no keys"})`,
    );
  }
  return obj[key];
}

const REQUIRED: Record<string, string> = {
  verl: "input, output, score, step",
  hicra: "step, prompt, reward and response_ids or response",
};

function typed<T>(
  v: unknown,
  ok: (v: unknown) => boolean,
  what: string,
  key: string,
  at: Where,
): T {
  if (!ok(v)) {
    throw locatedError(
      at.file,
      at.line,
      null,
      `"${key}" must be ${what} (got ${JSON.stringify(v)})`,
    );
  }
  return v as T;
}

const isStr = (v: unknown) => typeof v === "string";
const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const isStep = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const isNumArr = (v: unknown) => Array.isArray(v) && v.every(isNum);
const isIdArr = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);

function verlRow(o: Record<string, unknown>, at: Where): RealRow {
  const g = (k: string) => need(o, k, at, "verl");
  return {
    step: typed(g("step"), isStep, "an integer >= 0", "step", at),
    prompt: typed(g("input"), isStr, "a string", "input", at),
    response: typed(g("output"), isStr, "a string", "output", at),
    reward: typed(g("score"), isNum, "a finite number", "score", at),
    correct: null,
    ids: null,
    logprobs: null,
    entropy: null,
    origin: `${at.file}:${at.line}`,
  };
}

function hicraRow(o: Record<string, unknown>, at: Where): RealRow {
  const g = (k: string) => need(o, k, at, "hicra");
  const opt = <T>(k: string, ok: (v: unknown) => boolean, what: string): T | null =>
    o[k] === undefined || o[k] === null ? null : typed<T>(o[k], ok, what, k, at);
  const ids = opt<number[]>("response_ids", isIdArr, "a list of token ids");
  const response = ids === null
    ? typed<string>(g("response"), isStr, "a string", "response", at)
    : opt<string>("response", isStr, "a string") ?? "";
  const row: RealRow = {
    step: typed(g("step"), isStep, "an integer >= 0", "step", at),
    prompt: typed(g("prompt"), isStr, "a string", "prompt", at),
    response,
    reward: typed(g("reward"), isNum, "a finite number", "reward", at),
    correct: opt<boolean>("correct", (v) => typeof v === "boolean", "true or false"),
    ids,
    logprobs: opt("logprobs", isNumArr, "a list of numbers"),
    entropy: opt("entropy", isNumArr, "a list of numbers"),
    origin: `${at.file}:${at.line}`,
  };
  for (const k of ["logprobs", "entropy"] as const) {
    const v = row[k];
    if (v === null) continue;
    if (ids === null) {
      throw locatedError(at.file, at.line, null, `"${k}" needs "response_ids" (one value per id)`);
    }
    if (v.length !== ids.length) {
      throw locatedError(
        at.file,
        at.line,
        null,
        `"${k}" has ${v.length} values but "response_ids" has ${ids.length}; give one per token`,
      );
    }
  }
  return row;
}

/** Columns of TRL's completions table that are not reward functions. */
const TRL_FIXED = new Set(["step", "prompt", "completion", "advantage", "image", "images"]);

async function readTrl(file: string): Promise<RealRow[]> {
  try {
    Deno.statSync(file);
  } catch {
    throw new UserError(`${file}: not found; give TRL's completions parquet (log_completions)`);
  }
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    const src = `read_parquet('${file.replaceAll("'", "''")}')`;
    let cols: string[];
    try {
      const d = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
      cols = d.getRowObjects().map((r) => String(r.column_name));
    } catch (e) {
      throw new UserError(`${file}: not a readable parquet file (${(e as Error).message})`);
    }
    for (const c of ["step", "prompt", "completion"]) {
      if (!cols.includes(c)) {
        throw new UserError(
          `${file}: no column "${c}" (has ${cols.join(", ")}); TRL's completions parquet has ` +
            `step, prompt, completion, <reward columns>, advantage`,
        );
      }
    }
    const rewards = cols.filter((c) => !TRL_FIXED.has(c));
    if (rewards.length === 0) {
      throw new UserError(`${file}: no reward columns (has ${cols.join(", ")})`);
    }
    const q = (c: string) => `"${c.replaceAll('"', '""')}"`;
    const res = await con.runAndReadAll(
      `SELECT CAST(step AS BIGINT) AS step, CAST(prompt AS VARCHAR) AS prompt, ` +
        `CAST(completion AS VARCHAR) AS completion, ` +
        rewards.map((c, i) => `CAST(${q(c)} AS DOUBLE) AS r${i}`).join(", ") +
        ` FROM ${src}`,
    );
    return res.getRowObjects().map((r, i) => {
      const where = `${file}: row ${i + 1}`;
      const step = Number(r.step);
      if (r.step === null || !isStep(step)) {
        throw new UserError(`${where}: "step" must be an integer >= 0 (got ${r.step})`);
      }
      for (const k of ["prompt", "completion"]) {
        if (r[k] === null) throw new UserError(`${where}: "${k}" is null`);
      }
      let reward = 0;
      rewards.forEach((c, j) => {
        const v = r[`r${j}`];
        if (v === null || !isNum(v)) {
          throw new UserError(`${where}: reward column "${c}" is ${v}, not a number`);
        }
        reward += v as number;
      });
      return {
        step,
        prompt: String(r.prompt),
        response: String(r.completion),
        reward,
        correct: null,
        ids: null,
        logprobs: null,
        entropy: null,
        origin: where,
      };
    });
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

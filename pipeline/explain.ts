/**
 * Explains a cache miss: compares an instance's key parts with the nearest
 * earlier entry of the same stage and lists what changed.
 *
 * @module
 */
import type { KeyParts, Manifest } from "./cache.ts";
import type { Json } from "./types.ts";

/** Index of earlier entries by stage name. */
export class EntryIndex {
  #byStage = new Map<string, Manifest[]>();

  constructor(manifests: Iterable<Manifest>) {
    for (const m of manifests) {
      const list = this.#byStage.get(m.stage) ?? [];
      list.push(m);
      this.#byStage.set(m.stage, list);
    }
  }

  /** Adds an entry written during this run. */
  add(m: Manifest): void {
    const list = this.#byStage.get(m.stage) ?? [];
    list.push(m);
    this.#byStage.set(m.stage, list);
  }

  /** Explains why `parts` for stage `stage` missed; one line per difference. */
  explain(stage: string, parts: KeyParts): string[] {
    const candidates = (this.#byStage.get(stage) ?? []).filter((m) =>
      m.keyParts.kind === parts.kind
    );
    if (candidates.length === 0) {
      return [`no earlier entry of stage ${stage}`];
    }
    let best: string[] | null = null;
    let bestScore = Infinity;
    let bestTime = "";
    for (const m of candidates) {
      const diff = diffKeyParts(m.keyParts, parts);
      const score = diff.length + (m.keyParts.step === parts.step ? 0 : 0.5);
      if (
        score < bestScore || (score === bestScore && m.createdAt > bestTime)
      ) {
        best = diff;
        bestScore = score;
        bestTime = m.createdAt;
      }
    }
    return best!.length ? best! : ["identical key parts (entry was removed)"];
  }
}

/** Lists the differences between two sets of key parts, e.g. `params.alpha: 0.2 → 0.3`. */
export function diffKeyParts(old: KeyParts, now: KeyParts): string[] {
  const out: string[] = [];
  if (old.version !== now.version) {
    out.push(`version ${old.version} → ${now.version}`);
  }
  diffJson("params", old.params, now.params, out);
  const inputs = new Set([
    ...Object.keys(old.inputs),
    ...Object.keys(now.inputs),
  ]);
  for (const name of [...inputs].sort()) {
    const a = old.inputs[name];
    const b = now.inputs[name];
    if (a !== b) {
      out.push(
        `input ${name} changed (${short(a)} → ${short(b)})`,
      );
    }
  }
  if (old.seed !== now.seed) out.push(`seed ${old.seed} → ${now.seed}`);
  diffJson("runtime", old.runtime, now.runtime, out);
  if (old.step !== now.step) out.push(`step ${old.step} → ${now.step}`);
  const sources = new Set([...Object.keys(old.sources ?? {}), ...Object.keys(now.sources ?? {})]);
  for (const path of [...sources].sort()) {
    const a = old.sources?.[path];
    const b = now.sources?.[path];
    if (a !== b) out.push(`plug-in ${path} source changed (${short(a)} → ${short(b)})`);
  }
  const files = new Set([...Object.keys(old.files ?? {}), ...Object.keys(now.files ?? {})]);
  for (const path of [...files].sort()) {
    const a = old.files?.[path];
    const b = now.files?.[path];
    if (a !== b) out.push(`file ${path} changed (${short(a)} → ${short(b)})`);
  }
  return out;
}

function short(hash: string | undefined): string {
  return hash ? hash.slice(0, 8) : "none";
}

function diffJson(path: string, a: Json, b: Json, out: string[]): void {
  const isObj = (v: Json): v is { [k: string]: Json } =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      diffJson(`${path}.${k}`, a[k] ?? null, b[k] ?? null, out);
    }
    return;
  }
  const ja = JSON.stringify(a);
  const jb = JSON.stringify(b);
  if (ja !== jb) out.push(`${path}: ${ja} → ${jb}`);
}

/** A miss reason reduced to its kind, for per-stage summaries: `params.lr: 1 → 2` → `params changed: lr`. */
export function reasonKind(why: string): string {
  let m = /^params\.([^:]+):/.exec(why);
  if (m) return `params changed: ${m[1]}`;
  m = /^runtime\.([^:]+):/.exec(why);
  if (m) return `runtime changed: ${m[1]}`;
  m = /^input (\S+) changed/.exec(why);
  if (m) return `input changed: ${m[1]}`;
  m = /^plug-in (\S+) source changed/.exec(why);
  if (m) return `plug-in changed: ${m[1]}`;
  m = /^file (\S+) changed/.exec(why);
  if (m) return `file changed: ${m[1]}`;
  if (why.startsWith("no earlier entry")) return "new";
  if (why.startsWith("waits for")) return "after upstream";
  if (why.startsWith("corrupt entry")) return "corrupt entry";
  return why.split(/[ :]/)[0];
}

/** One instance's status and miss reasons, as the executor reports them. */
export interface ExplainedInstance {
  stage: string;
  status: string;
  why?: string[];
}

/**
 * Summarises instances per stage (in order of first appearance): how many
 * were cached and how many run, and the kinds of miss reasons with their
 * counts, e.g. `update: 240 cached, 30 to run (params changed: lr ×30)`.
 * Input changes (the echo of an upstream miss) are left out when the stage
 * has other reasons, so the summary names the cause.
 */
export function summarizeExplain(details: readonly ExplainedInstance[]): string[] {
  const stages = new Map<string, { cached: number; run: number; kinds: Map<string, number> }>();
  for (const d of details) {
    const s = stages.get(d.stage) ?? { cached: 0, run: 0, kinds: new Map<string, number>() };
    stages.set(d.stage, s);
    if (d.status === "hit") {
      s.cached++;
      continue;
    }
    if (d.status === "skipped") continue;
    s.run++;
    const kinds = new Set((d.why ?? []).map(reasonKind));
    for (const k of kinds) s.kinds.set(k, (s.kinds.get(k) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const [stage, s] of stages) {
    let kinds = [...s.kinds];
    const own = kinds.filter(([k]) => !k.startsWith("input changed"));
    if (own.length) kinds = own;
    // Kinds with a subject (`params changed: lr`) are grouped: `params changed: lr, alpha ×3`.
    const count = (n: number) => n === s.run ? "" : ` ×${n}`;
    const groups = new Map<string, string[]>();
    for (const [k, n] of kinds) {
      const colon = k.indexOf(": ");
      const head = colon < 0 ? k : k.slice(0, colon);
      const list = groups.get(head) ?? [];
      list.push(colon < 0 ? `${k}${count(n)}` : `${k.slice(colon + 2)}${count(n)}`);
      groups.set(head, list);
    }
    const why = [...groups].map(([head, items]) =>
      items[0].startsWith(head) ? items[0] : `${head}: ${items.join(", ")}`
    ).join("; ");
    out.push(`${stage}: ${s.cached} cached, ${s.run} to run${why ? ` (${why})` : ""}`);
  }
  return out;
}

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

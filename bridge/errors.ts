/**
 * Located user errors for the bridge's readers: `FILE:LINE:COL: message`, raised as the
 * engine's `UserError` so the CLI prints them without a stack trace.
 *
 * @module
 */
import { UserError } from "../pipeline/errors.ts";

/** A `UserError` whose message starts with `file:line:col:` (col omitted when unknown). */
export function locatedError(file: string, line: number, col: number | null, message: string) {
  return new UserError(`${file}:${line}${col === null ? "" : `:${col}`}: ${message}`);
}

/** 1-based line and column of a UTF-16 offset in `text`. */
export function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1, start = 0;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, col: pos - start + 1 };
}

/**
 * `JSON.parse` that reports a syntax error as `FILE:LINE:COL: not valid JSON (…)`.
 *
 * @param firstLine line number of `text`'s first line in the file (for one JSONL line)
 */
export function parseJsonAt(text: string, file: string, firstLine = 1): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /at position (\d+)/.exec(msg);
    let pos = m ? Number(m[1]) : text.length;
    // Newer V8: `Unexpected token 'B', ..."{"a": BPE}"... is not valid JSON` (no position).
    const near = /^Unexpected token '(.+?)', (?:\.\.\.)?"(.*?)"(?:\.\.\.)? is not valid JSON$/s
      .exec(msg);
    if (!m && near && text.includes(near[2])) {
      pos = text.indexOf(near[2]) + Math.max(0, near[2].indexOf(near[1]));
    }
    const { line, col } = lineCol(text, pos);
    const why = msg.replace(/, (\.\.\.)?".*" is not valid JSON$/s, "").replace(
      / in JSON at position.*$/s,
      "",
    );
    throw locatedError(file, firstLine + line - 1, col, `not valid JSON (${why})`);
  }
}

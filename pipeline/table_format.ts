/**
 * Renders query results as text: pipe-aligned tables, CSV (RFC 4180 quoting)
 * and JSON (an array of row objects).
 *
 * @module
 */
import type { Json } from "./types.ts";

/** Options of `formatTable`. */
export interface TableOptions {
  /** DuckDB column types; float columns then show 4 decimals even for whole values. */
  types?: string[];
  /** Longest cell text before truncation with "…" (default 60). */
  maxWidth?: number;
}

const FLOAT_TYPE = /^(DOUBLE|FLOAT|REAL|DECIMAL)/i;
const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DOUBLE|FLOAT|REAL|DECIMAL)/i;

/**
 * A pipe-aligned text table (Markdown style): numbers right-aligned, floats
 * with 4 decimals (4 significant digits below 1), NULL as an empty cell,
 * long text truncated with "…". Ends without a newline.
 */
export function formatTable(
  columns: string[],
  rows: Json[][],
  opts: TableOptions = {},
): string {
  const maxWidth = opts.maxWidth ?? 60;
  const numeric = columns.map((_, i) =>
    opts.types?.[i] !== undefined
      ? NUMERIC_TYPE.test(opts.types[i])
      : rows.some((r) => typeof r[i] === "number") &&
        rows.every((r) => r[i] === null || typeof r[i] === "number")
  );
  const float = columns.map((_, i) => FLOAT_TYPE.test(opts.types?.[i] ?? ""));
  const cells = rows.map((r) =>
    columns.map((_, i) => truncate(cellText(r[i] ?? null, float[i]), maxWidth))
  );
  const head = columns.map((c) => truncate(oneLine(c), maxWidth));
  const widths = head.map((h, i) => Math.max(3, len(h), ...cells.map((r) => len(r[i]))));
  const line = (vals: string[]) =>
    "| " +
    vals.map((v, i) => numeric[i] ? padStart(v, widths[i]) : padEnd(v, widths[i]))
      .join(" | ") +
    " |";
  const sep = "|" +
    widths.map((w, i) => numeric[i] ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2)).join("|") + "|";
  return [line(head), sep, ...cells.map(line)].join("\n");
}

/** A number as shown in tables: integers as is, floats to 4 decimals / 4 significant digits. */
export function formatNumber(v: number, asFloat = false): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && !asFloat) return String(v);
  const a = Math.abs(v);
  if (a === 0) return (0).toFixed(4);
  if (a >= 1e15) return v.toPrecision(4);
  if (a >= 1) return v.toFixed(4);
  return v.toPrecision(4);
}

/** CSV with a header line; fields quoted per RFC 4180 when needed; NULL as empty. */
export function formatCsv(columns: string[], rows: Json[][]): string {
  const line = (vals: string[]) => vals.map(csvField).join(",");
  return [line(columns), ...rows.map((r) => line(r.map(plainText)))].join("\n");
}

/** A JSON array of row objects (column name → value), pretty-printed. */
export function formatJson(columns: string[], rows: Json[][]): string {
  const objs = rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i] ?? null])));
  return JSON.stringify(objs, null, 2);
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Full text of a value: NULL → "", objects → JSON. */
function plainText(v: Json): string {
  if (v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function cellText(v: Json, asFloat: boolean): string {
  if (typeof v === "number") return formatNumber(v, asFloat);
  return oneLine(plainText(v));
}

/** Control characters (newlines, tabs) would break the table layout. */
function oneLine(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/\r?\n/g, "⏎").replace(/[\x00-\x1f]/g, " ");
}

function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join("") + "…";
}

function len(s: string): number {
  return [...s].length;
}

function padStart(s: string, w: number): string {
  return " ".repeat(Math.max(0, w - len(s))) + s;
}

function padEnd(s: string, w: number): string {
  return s + " ".repeat(Math.max(0, w - len(s)));
}

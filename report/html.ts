/**
 * HTML building blocks of the report: the page shell with its inline CSS,
 * sections, figure grids and tables of query results.
 *
 * @module
 */
import { formatNumber } from "../pipeline/table_format.ts";
import type { QueryResult } from "../pipeline/store.ts";
import type { Json } from "../pipeline/types.ts";
import { escapeXml } from "./svg.ts";

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
  margin: 0; background: #f6f7f9; }
main { max-width: 1300px; margin: 0 auto; padding: 20px 16px 40px; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 6px; padding-bottom: 4px; border-bottom: 2px solid #dde1e6; }
h3 { font-size: 14px; margin: 14px 0 4px; color: #333; }
p.note, p.meta { color: #555; margin: 4px 0 10px; max-width: 900px; }
p.error { color: #a40000; background: #fff0f0; padding: 6px 10px; border-radius: 4px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid.row { flex-wrap: nowrap; overflow-x: auto; }
.grid.row > .card { flex: none; }
.card { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 6px 4px 2px; }
svg.chart { display: block; }
table { border-collapse: collapse; background: #fff; font-size: 12.5px; margin: 6px 0 12px; }
th, td { border: 1px solid #e1e4e8; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
table.runs td { white-space: nowrap; }
table.runs td:nth-last-child(-n+2) { white-space: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.runs td.err, td.err { color: #a40000; max-width: 360px; white-space: normal; }
.scroll { overflow-x: auto; }
`;

/** A complete, self-contained HTML page (inline CSS, no scripts). */
export function page(title: string, body: string[]): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    "<main>",
    ...body,
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** A titled section with an id (for links). */
export function section(id: string, title: string, content: string[]): string {
  return [
    `<section id="${escapeXml(id)}">`,
    `<h2>${escapeXml(title)}</h2>`,
    ...content,
    "</section>",
  ].join("\n");
}

/** A paragraph of explanatory text (escaped). */
export function note(text: string, cls = "note"): string {
  return `<p class="${cls}">${escapeXml(text)}</p>`;
}

/**
 * A wrapping row of charts, each in a card; with `cls` "row", one row that
 * never wraps (scrolls instead), so that stacked rows keep their columns.
 */
export function grid(charts: string[], cls = ""): string {
  return `<div class="grid${cls ? ` ${escapeXml(cls)}` : ""}">\n${
    charts.map((c) => `<div class="card">\n${c}\n</div>`).join("\n")
  }\n</div>`;
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|DOUBLE|FLOAT|REAL|DECIMAL)/i;
const FLOAT = /^(DOUBLE|FLOAT|REAL|DECIMAL)/i;

/** Text of one cell: numbers as in `deno task sql`, NULL as empty, objects as JSON. */
function cellText(v: Json, asFloat: boolean): string {
  if (v === null) return "";
  if (typeof v === "number") return formatNumber(v, asFloat);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** An HTML table of a query result (numbers right-aligned, `error` column highlighted). */
export function resultTable(r: QueryResult, cls = ""): string {
  const numeric = r.types.map((t) => NUMERIC.test(t));
  const float = r.types.map((t) => FLOAT.test(t));
  const head = r.columns.map((c) => `<th>${escapeXml(c)}</th>`).join("");
  const rows = r.rows.map((row) =>
    "<tr>" +
    row.map((v, i) => {
      const c = numeric[i] ? ' class="num"' : r.columns[i] === "error" && v ? ' class="err"' : "";
      return `<td${c}>${escapeXml(cellText(v, float[i]))}</td>`;
    }).join("") +
    "</tr>"
  );
  const attr = cls ? ` class="${escapeXml(cls)}"` : "";
  return `<div class="scroll"><table${attr}>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${
    rows.join("\n")
  }\n</tbody>\n</table></div>`;
}

/**
 * The results database's schema, described: every table, view and column
 * with a one-line meaning, for `deno task sql --schema` and the README.
 *
 * The engine's tables and views are described next to their DDL in
 * `store.ts` ({@linkcode STORE_DOCS}); a lab adds the row tables its stages
 * write (their column types are inferred from the rows, so none are listed).
 * Whatever a database holds beyond the descriptions is listed too, marked
 * undocumented.
 *
 * @module
 */
import { COMPARISON_COLUMNS } from "./compare.ts";
import { type ResultsStore, STORE_DOCS } from "./store.ts";

/** One column: name, SQL type (empty for inferred types) and meaning. */
export interface ColumnDoc {
  name: string;
  type: string;
  doc: string;
}

/** One table or view. */
export interface TableDoc {
  name: string;
  /** `table`: fixed DDL; `row table`: written by stages, types inferred; `view`. */
  kind: "table" | "row table" | "view";
  doc: string;
  columns: ColumnDoc[];
}

/** Marker of a table or column the descriptions do not cover. */
export const UNDOCUMENTED = "(no description)";

/** The `comparisons` table (written by `compare.ts`): one row per condition × metric. */
export const COMPARISONS_DOC: TableDoc = {
  name: "comparisons",
  kind: "table",
  doc: "paired comparisons of conditions against a baseline (deno task compare); " +
    "one row per experiment × metric × condition",
  columns: [
    ["experiment", "VARCHAR", "experiment name"],
    ["metric", "VARCHAR", "metric name"],
    ["condition", "VARCHAR", "the compared condition (its label without seed=N)"],
    ["baseline", "VARCHAR", "the baseline condition"],
    ["n", "INTEGER", "paired seeds"],
    ["mean_condition", "DOUBLE", "mean of the condition over its paired seeds"],
    ["mean_baseline", "DOUBLE", "mean of the baseline over the same seeds"],
    ["diff", "DOUBLE", "mean paired difference (condition − baseline)"],
    ["ci_lo", "DOUBLE", "lower end of the 95% Student-t CI of diff"],
    ["ci_hi", "DOUBLE", "upper end of that CI"],
    ["p_t", "DOUBLE", "paired t-test p (primary metric only)"],
    ["p_perm", "DOUBLE", "sign-flip permutation p (primary metric only)"],
    ["boot_lo", "DOUBLE", "lower end of the bootstrap 95% CI of diff"],
    ["boot_hi", "DOUBLE", "upper end of the bootstrap CI"],
    ["p_holm", "DOUBLE", "Holm-adjusted p_t across the conditions"],
    ["mde", "DOUBLE", "smallest difference detectable at 80% power with these pairs"],
    ["significant", "BOOLEAN", "p_holm < alpha (primary metric only)"],
    ["stage", "VARCHAR", "stage that records the metric"],
    ["aggregate", "VARCHAR", "last | mean: how a run's per-step values became one number"],
    ["role", "VARCHAR", "primary (tested) or secondary (descriptive)"],
  ].map(([name, type, doc]) => ({ name, type, doc })),
};

// The description above must follow the table's columns.
if (COMPARISONS_DOC.columns.map((c) => c.name).join() !== COMPARISON_COLUMNS.join()) {
  throw new Error("schema.ts: COMPARISONS_DOC does not match COMPARISON_COLUMNS");
}

/** Tables, views and their columns (name, type) as a database holds them. */
export async function liveSchema(
  store: ResultsStore,
): Promise<{ name: string; view: boolean; columns: { name: string; type: string }[] }[]> {
  const r = await store.query(
    `SELECT t.table_name, t.table_type = 'VIEW', c.column_name, c.data_type
     FROM information_schema.tables t JOIN information_schema.columns c
       ON c.table_schema = t.table_schema AND c.table_name = t.table_name
     WHERE t.table_schema = 'main' AND t.table_catalog = current_database()
       AND c.table_catalog = current_database()
     ORDER BY t.table_name, c.ordinal_position`,
  );
  const out = new Map<
    string,
    { name: string; view: boolean; columns: { name: string; type: string }[] }
  >();
  for (const [table, view, column, type] of r.rows) {
    const t = out.get(String(table)) ??
      { name: String(table), view: view === true, columns: [] };
    t.columns.push({ name: String(column), type: String(type) });
    out.set(t.name, t);
  }
  return [...out.values()];
}

/**
 * The descriptions, extended by what `live` (a database's tables) holds
 * beyond them: undocumented tables and columns are appended, marked
 * {@linkcode UNDOCUMENTED}.
 */
export function mergeSchema(
  docs: TableDoc[],
  live: Awaited<ReturnType<typeof liveSchema>> = [],
): TableDoc[] {
  const out = docs.map((t) => ({ ...t, columns: [...t.columns] }));
  for (const t of live) {
    let doc = out.find((d) => d.name === t.name);
    if (!doc) {
      doc = { name: t.name, kind: t.view ? "view" : "table", doc: UNDOCUMENTED, columns: [] };
      out.push(doc);
    }
    for (const c of t.columns) {
      if (!doc.columns.some((d) => d.name === c.name)) {
        doc.columns.push({ name: c.name, type: c.type, doc: UNDOCUMENTED });
      }
    }
  }
  return out;
}

/** The schema as text: a header line per table, one aligned line per column. */
export function formatSchema(tables: TableDoc[]): string {
  const nameWidth = Math.max(...tables.flatMap((t) => t.columns.map((c) => c.name.length)));
  const typeWidth = Math.max(...tables.flatMap((t) => t.columns.map((c) => c.type.length)));
  return tables.map((t) =>
    [
      `${t.name} (${t.kind}): ${t.doc}`,
      ...t.columns.map((c) =>
        `  ${c.name.padEnd(nameWidth)}  ${(c.type || "-").padEnd(typeWidth)}  ${c.doc}`
      ),
    ].join("\n")
  ).join("\n\n");
}

/** Every description: the store's tables and views, `comparisons`, then `extra` (a lab's row tables). */
export function schemaDocs(extra: TableDoc[] = []): TableDoc[] {
  return [...STORE_DOCS, COMPARISONS_DOC, ...extra];
}

/**
 * The text of `sql --schema`: {@linkcode formatSchema} of the descriptions,
 * followed, when `store` holds tables or columns they do not cover, by those
 * (marked {@linkcode UNDOCUMENTED}) under a line naming `where`.
 */
export async function describeSchema(
  store: ResultsStore | null,
  extra: TableDoc[],
  where: string,
): Promise<string> {
  const docs = schemaDocs(extra);
  const text = formatSchema(docs);
  if (!store) return text;
  const merged = mergeSchema(docs, await liveSchema(store));
  const beyond = merged.flatMap((t) => {
    const known = docs.find((d) => d.name === t.name);
    const cols = t.columns.filter((c) => !known?.columns.some((k) => k.name === c.name));
    return cols.length ? [{ ...t, columns: cols }] : [];
  });
  return beyond.length
    ? `${text}\n\nAlso in ${where}, not described above:\n\n${formatSchema(beyond)}`
    : text;
}

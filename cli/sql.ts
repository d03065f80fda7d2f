/**
 * `deno task sql`: the engine's SQL command, with the lab's row tables
 * described for `--schema`.
 *
 * @module
 */
import { sqlMain } from "../pipeline/sql_cli.ts";
import { LAB_TABLE_DOCS } from "./table_docs.ts";

if (import.meta.main) Deno.exit(await sqlMain(Deno.args, undefined, { tables: LAB_TABLE_DOCS }));

/**
 * Helpers for `StageKind.keyParams`: normalising the params a setting ignores,
 * so that they do not split the cache.
 *
 * @module
 */
import { canonicalJson } from "./hash.ts";
import type { Json, JsonObject, ParamsSchema } from "./types.ts";

/**
 * `params` with each of `names` replaced by its default from `schema` (a
 * param without a default is dropped). Replacing by the default, not removing,
 * keeps the keys of configs that already used the defaults unchanged.
 */
export function ignoreParams(
  schema: ParamsSchema,
  params: JsonObject,
  names: readonly string[],
): JsonObject {
  const out: JsonObject = { ...params };
  for (const name of names) {
    if (!(name in out)) continue;
    const fallback = schema[name]?.default;
    if (fallback === undefined) delete out[name];
    else out[name] = fallback as JsonObject[string];
  }
  return out;
}

/**
 * The params as they enter a cache key: those marked `omitAtDefault` are left
 * out while they equal their default (see {@linkcode ParamCommon}).
 */
export function keyedParams(schema: ParamsSchema, params: JsonObject): JsonObject {
  const out: JsonObject = { ...params };
  for (const [name, spec] of Object.entries(schema)) {
    if (
      spec.omitAtDefault && name in out &&
      canonicalJson(out[name]) === canonicalJson(spec.default as Json)
    ) delete out[name];
  }
  return out;
}

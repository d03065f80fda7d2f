/**
 * Canonical JSON and SHA-256 helpers: the basis of cache keys and run ids.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Json } from "./types.ts";

/** JSON with object keys sorted recursively, so equal values give equal text. */
export function canonicalJson(value: Json): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new Error(`Cannot hash a non-finite number: ${value}`);
  }
  return value;
}

/** Hex SHA-256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hex SHA-256 of the canonical JSON of a value. */
export function hashJson(value: Json): string {
  return sha256Hex(canonicalJson(value));
}

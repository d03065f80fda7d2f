/**
 * External files in cache keys. A stage kind that reads files named by its
 * params (not upstream artifacts) declares them with `StageKind.keyFiles`; the
 * executor hashes their contents and puts `files: { path → hash }` into the
 * instance's key parts, so a file rewritten in place misses the cache instead
 * of giving a stale hit. Paths are written as the experiment file writes them
 * (relative ones are resolved against its folder), so keys do not depend on
 * where the checkout lives.
 *
 * @module
 */
import { hashDirectory } from "./cache.ts";
import { UserError } from "./errors.ts";
import { sha256Hex } from "./hash.ts";
import type { JsonObject, StageKind } from "./types.ts";

/** Absolute folder of an experiment file (its relative paths are resolved against it). */
export function experimentDir(file: string): string {
  const cut = file.lastIndexOf("/");
  const dir = cut < 0 ? "." : cut === 0 ? "/" : file.slice(0, cut);
  return dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`.replace(/\/\.$/, "");
}

/** `path` resolved against `dir` (absolute paths as they are; no `dir`: the working directory). */
export function resolveIn(dir: string | undefined, path: string): string {
  if (path.startsWith("/") || dir === undefined) return path;
  if (!dir.startsWith("/")) return `${dir}/${path}`;
  // Lexically normalised (`/a/b/../c` → `/a/c`), so messages name the file plainly.
  const out: string[] = [];
  for (const part of `${dir}/${path}`.split("/")) {
    if (part === "..") out.pop();
    else if (part !== "." && part !== "") out.push(part);
  }
  return `/${out.join("/")}`;
}

/**
 * Content hash of a file (SHA-256 of its bytes) or of a directory (its files'
 * relative names and bytes, as output hashes are computed).
 */
export function hashPath(path: string): string {
  const info = Deno.statSync(path);
  return info.isDirectory ? hashDirectory(path) : sha256Hex(Deno.readFileSync(path));
}

/** Hashes key files, each resolved path once per instance of this class. */
export class KeyFileHasher {
  #memo = new Map<string, string>();

  /**
   * `files` key part of an instance of `kind` with `params`: path as declared →
   * content hash; undefined when the kind declares none (its keys keep their old
   * shape). A missing or unreadable file is a {@linkcode UserError} naming it.
   */
  files(
    kind: StageKind,
    params: JsonObject,
    dir: string,
    where: string,
  ): Record<string, string> | undefined {
    const paths = kind.keyFiles?.(params, dir) ?? [];
    if (paths.length === 0) return undefined;
    const out: Record<string, string> = {};
    for (const p of paths) {
      const abs = resolveIn(dir, p);
      let h = this.#memo.get(abs);
      if (h === undefined) {
        try {
          h = hashPath(abs);
        } catch (e) {
          const why = e instanceof Deno.errors.NotFound
            ? "does not exist"
            : `cannot be read (${e instanceof Error ? e.message : e})`;
          const rel = p.startsWith("/")
            ? ""
            : " (relative paths are relative to the experiment file)";
          throw new UserError(`${where}: file ${abs} ${why}${rel}; fix the path`);
        }
        this.#memo.set(abs, h);
      }
      out[p] = h;
    }
    return out;
  }
}

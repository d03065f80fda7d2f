/**
 * A stage-kind registry: unknown or duplicate names are errors.
 *
 * @module
 */
import type { ParamSpec, StageKind, StageRegistry } from "./types.ts";

/**
 * Builds a registry from stage kinds (a name registered twice throws) and
 * an optional schema of the `runtime:` settings.
 */
export function createRegistry(
  kinds: StageKind[],
  runtime?: Record<string, ParamSpec>,
): StageRegistry & {
  register(kind: StageKind): void;
} {
  const map = new Map<string, StageKind>();
  const register = (kind: StageKind) => {
    if (map.has(kind.name)) {
      throw new Error(`Stage kind "${kind.name}" is already registered`);
    }
    map.set(kind.name, kind);
  };
  kinds.forEach(register);
  return {
    get: (name) => map.get(name),
    names: () => [...map.keys()].sort(),
    runtime,
    register,
  };
}

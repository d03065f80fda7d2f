/**
 * A stage-kind registry: unknown or duplicate names are errors.
 *
 * @module
 */
import type { StageKind, StageRegistry } from "./types.ts";

/** Builds a registry from stage kinds; a name registered twice throws. */
export function createRegistry(kinds: StageKind[]): StageRegistry & {
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
    register,
  };
}

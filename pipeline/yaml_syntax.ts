/**
 * Where an unclosed YAML construct opened. The YAML parser reports an
 * unclosed flow map, flow list or quoted string where it gave up (often many
 * lines later); the user has to fix the place where the construct opened.
 * This walks the parser's concrete syntax tree for flow collections without
 * their closing bracket and quoted scalars without their closing quote.
 *
 * @module
 */
import { Parser } from "yaml";

/** A construct that opens and is never closed. */
export interface Opening {
  /** Offset of the opening bracket or quote in the text. */
  offset: number;
  /** What it is, for messages: "flow map", "flow list", "quoted string". */
  what: string;
  /** The character that closes it. */
  close: string;
}

const CLOSERS: Record<string, string> = { "{": "}", "[": "]" };

/** True when a quoted scalar's source ends with its own, unescaped closing quote. */
function quoteClosed(source: string): boolean {
  const q = source[0];
  if (source.length < 2 || !source.endsWith(q)) return false;
  if (q === "'") return true;
  let slashes = 0;
  for (let i = source.length - 2; i > 0 && source[i] === "\\"; i--) slashes++;
  return slashes % 2 === 0;
}

/** Unclosed flow collections and quoted strings of `text`, by offset. */
export function unclosedConstructs(text: string): Opening[] {
  const out: Opening[] = [];
  const walk = (token: unknown): void => {
    if (Array.isArray(token)) return token.forEach(walk);
    if (!token || typeof token !== "object") return;
    const t = token as Record<string, unknown>;
    if (t.type === "flow-collection") {
      const start = t.start as { source: string; offset: number };
      const close = CLOSERS[start.source];
      const ends = (t.end as { source: string }[] | undefined) ?? [];
      if (close && !ends.some((e) => e.source === close)) {
        out.push({
          offset: start.offset,
          what: start.source === "{" ? "flow map" : "flow list",
          close,
        });
      }
    }
    if (
      (t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar") &&
      typeof t.source === "string" && !quoteClosed(t.source)
    ) {
      out.push({ offset: t.offset as number, what: "quoted string", close: t.source[0] });
    }
    for (const [key, value] of Object.entries(t)) {
      if (key !== "start" && value && typeof value === "object") walk(value);
    }
  };
  try {
    for (const token of new Parser().parse(text)) walk(token);
  } catch {
    // The CST parser does not throw on bad input; if it ever does, no hint.
  }
  return out.sort((a, b) => a.offset - b.offset);
}

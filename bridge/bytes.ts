/**
 * The GPT-2 byte ↔ unicode table of byte-level BPE vocabularies (GPT-2, Llama 3, Qwen2/3):
 * every byte 0..255 is written as one printable character in the vocabulary's token strings
 * (printable Latin-1 bytes as themselves, the others shifted to U+0100 and up, so a space is
 * `Ġ` U+0120 and a newline `Ċ` U+010A). Inverting the table turns a token string back into its
 * exact bytes.
 *
 * @module
 */

/** byte → character, as `bytes_to_unicode()` in GPT-2's encoder.py. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b); // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b); // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) keep.push(b); // '®'..'ÿ'
  const out = new Array<string>(256);
  for (const b of keep) out[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (out[b] === undefined) out[b] = String.fromCodePoint(256 + n++);
  }
  return Object.freeze(out);
})();

/** character → byte, the inverse of {@link BYTE_TO_CHAR}. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c, b]),
);

/**
 * The bytes a byte-level token string stands for.
 *
 * @throws RangeError naming the character when the string holds one outside the table
 *   (the vocabulary is not byte-level BPE).
 */
export function tokenStringToBytes(token: string): Uint8Array {
  const chars = [...token];
  const out = new Uint8Array(chars.length);
  chars.forEach((c, i) => {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) {
      throw new RangeError(
        `token ${JSON.stringify(token)} holds ${JSON.stringify(c)}, which is not in the ` +
          `GPT-2 byte table: not a byte-level BPE vocabulary`,
      );
    }
    out[i] = b;
  });
  return out;
}

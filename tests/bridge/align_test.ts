/** Byte-level alignment and planning masks on Qwen3's real tokenizer (hand-checked ids). */
import assert from "node:assert/strict";
import { BYTE_TO_CHAR, CHAR_TO_BYTE, tokenStringToBytes } from "../../bridge/bytes.ts";
import { decodeUtf8, planningMask, tokenSpans, unitSpans } from "../../bridge/align.ts";
import { loadTokenizer } from "../../bridge/tokenizer.ts";
import { PAPER_STRATEGIC_GRAMS, toUnits } from "../../algorithms/planning/mod.ts";
import { Rng } from "../../algorithms/rng.ts";

const tok = await loadTokenizer("qwen3");
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test("GPT-2 byte table: 256 distinct printable chars, space is Ġ, newline is Ċ", () => {
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_TO_CHAR[0x20], "Ġ");
  assert.equal(BYTE_TO_CHAR[0x0a], "Ċ");
  assert.equal(BYTE_TO_CHAR[0x41], "A");
  assert.equal(CHAR_TO_BYTE.get("Ġ"), 0x20);
  assert.deepEqual([...tokenStringToBytes("Ġwait")], [0x20, 0x77, 0x61, 0x69, 0x74]);
  assert.throws(() => tokenStringToBytes("▁wait"), /not in the GPT-2 byte table/);
});

Deno.test("leading-space variants: 'wait' and ' wait' are different ids, both marked", () => {
  assert.deepEqual(tok.encode("wait"), [11489]);
  assert.deepEqual(tok.encode(" wait"), [3783]);
  assert.equal(tok.tokenString(3783), "Ġwait");
  assert.equal(tok.tokenString(13824), "ĠWait");
  assert.equal(hex(tok.tokenBytes(3783)), "20 77 61 69 74");
  const ids = tok.encode(" wait Wait");
  assert.deepEqual(ids, [3783, 13824]);
  const p = planningMask(ids, tok, PAPER_STRATEGIC_GRAMS);
  assert.deepEqual(p.mask, [true, true]);
  assert.deepEqual(p.matches.map((m) => [m.gram, m.start, m.end]), [["wait", 0, 1], [
    "wait",
    1,
    2,
  ]]);
  // Character spans include the leading space.
  assert.deepEqual([p.spans.charStart, p.spans.charEnd], [[0, 5], [5, 10]]);
});

Deno.test("<think> tags are added tokens: markup, never marked, never glue words", () => {
  const text = "<think>\nBut wait, let's check.</think> wait";
  const ids = tok.encode(text);
  assert.deepEqual(ids, [151667, 198, 3983, 3783, 11, 1077, 594, 1779, 13, 151668, 3783]);
  assert.ok(tok.isAdded(151667) && tok.isAdded(151668) && !tok.isAdded(3783));
  assert.equal(tok.tokenString(151668), "</think>");
  const p = planningMask(ids, tok, PAPER_STRATEGIC_GRAMS);
  assert.equal(p.spans.text, text);
  //                 <think>  \n    But   Ġwait  ,     Ġlet  's    Ġcheck .   </think> Ġwait
  assert.deepEqual(p.mask, [
    false,
    false,
    true,
    true,
    false,
    true,
    true,
    false,
    false,
    false,
    true,
  ]);
  assert.deepEqual(p.matches.map((m) => [m.gram, m.start, m.end]), [
    ["but wait", 2, 4],
    ["let's", 5, 7],
    ["wait", 10, 11],
  ]);
  // The tag's own text is never matched ("think" is not a unit here); it separates words.
  const tagged = planningMask(tok.encode("so<think>alright"), tok, ["think", "so alright"]);
  assert.deepEqual(tagged.matches.map((m) => [m.gram, m.start, m.end]), [["so alright", 0, 4]]);
  // ids: so, <think>, al, right ("alright" is one unit over two tokens)
  assert.deepEqual(tagged.mask, [true, false, true, true]);
});

Deno.test("multi-byte characters: Chinese tokens and an emoji split over three tokens", () => {
  const text = "你好世界 🤔👍 naïve";
  const ids = tok.encode(text);
  assert.deepEqual(ids, [108386, 99489, 11162, 97, 242, 144349, 94880, 586]);
  const s = tokenSpans(ids, tok);
  assert.equal(s.text, text);
  assert.equal(hex(tok.tokenBytes(108386)), "e4 bd a0 e5 a5 bd"); // 你好
  // 🤔 = f0 9f a4 94: "Ġ" + f0 9f | a4 | 94 → all three tokens cover character 5.
  assert.equal(hex(tok.tokenBytes(11162)), "20 f0 9f");
  assert.deepEqual(ids.map((_, t) => [s.charStart[t], s.charEnd[t]]), [
    [0, 2],
    [2, 4],
    [4, 6],
    [5, 6],
    [5, 6],
    [6, 7],
    [7, 11],
    [11, 13],
  ]);
  assert.deepEqual(s.byteStart.slice(0, 4), [0, 6, 12, 15]);
  // A gram on the split character's word marks all three tokens and the next emoji's token.
  const p = planningMask(ids, tok, ["🤔 👍"]);
  assert.deepEqual(p.mask, [false, false, true, true, true, true, false, false]);
  // "naïve" is one unit across "Ġnaï" + "ve".
  assert.deepEqual(planningMask(ids, tok, ["naïve"]).mask.slice(6), [true, true]);
});

Deno.test("curly apostrophes, glued punctuation and whole-word matching", () => {
  const p = planningMask(
    tok.encode("Let’s break it down into manageable steps. butter,we can see"),
    tok,
    PAPER_STRATEGIC_GRAMS,
  );
  const marked = p.matches.map((m) => m.gram);
  assert.deepEqual(marked, ["let's", "break it down into manageable steps", "we can see"]);
  assert.ok(!marked.includes("but"), '"but" never matches inside "butter"');
});

Deno.test("truncated UTF-8 decodes to U+FFFD per byte and keeps spans in range", () => {
  const { text, charOf } = decodeUtf8(new Uint8Array([0x61, 0xf0, 0x9f, 0x62]));
  assert.equal(text, "a\uFFFD\uFFFDb");
  assert.deepEqual([...charOf], [0, 1, 2, 3]);
  const s = tokenSpans([11162], tok); // " " + f0 9f alone
  assert.equal(s.text, " \uFFFD\uFFFD");
  assert.deepEqual([s.charStart[0], s.charEnd[0]], [0, 3]);
});

Deno.test("unitSpans agrees with toUnits on random text and spans slice the text", () => {
  const alphabet = [
    "a",
    "B",
    "é",
    "你",
    "7",
    " ",
    "  ",
    "\n",
    ",",
    ".",
    "'",
    "’",
    "-",
    "?",
    "#",
    "🤔",
    "wait",
    "let's",
  ];
  const rng = new Rng(11);
  for (let trial = 0; trial < 300; trial++) {
    let text = "";
    const n = rng.int(0, 19);
    for (let i = 0; i < n; i++) text += alphabet[rng.int(0, alphabet.length - 1)];
    const spans = unitSpans(text);
    const chars = [...text];
    for (const u of spans) assert.equal(chars.slice(u.start, u.end).join(""), u.unit);
    assert.deepEqual(spans.flatMap((u) => toUnits(u.unit)), toUnits(text), JSON.stringify(text));
  }
});

Deno.test("encode → decode round-trips project text exactly", () => {
  const text = "<think>\nThe plan is to think of this as then work our way . 3 * 8 = 24 .\n" +
    "But wait , let's backtrack .</think>\nanswer 3 * 8 - 5";
  assert.equal(tokenSpans(tok.encode(text), tok).text, text);
});

import assert from "node:assert/strict";
import { Rng } from "../../algorithms/rng.ts";
import {
  BOS,
  EOS,
  generateProblems,
  generateTrace,
  PAD,
  splitWords,
  testbedVocabulary,
  UNK,
  WordTokenizer,
} from "../../algorithms/tasks/mod.ts";

const tok = WordTokenizer.testbed();

Deno.test("vocabulary is fixed, small and starts with the specials", () => {
  assert.deepEqual(testbedVocabulary(), testbedVocabulary());
  assert.deepEqual([PAD, BOS, EOS, UNK], [0, 1, 2, 3]);
  assert.deepEqual(tok.tokens([0, 1, 2, 3]), [
    "<pad>",
    "<bos>",
    "<eos>",
    "<unk>",
  ]);
  assert.ok(tok.size <= 200, `${tok.size}`);
  for (let n = 0; n <= 100; n++) assert.notEqual(tok.id(String(n)), UNK);
});

Deno.test("encode → decode round-trips 1000 traces without UNK", () => {
  const rng = new Rng(8);
  const problems = [
    ...generateProblems({ seed: 8, count: 400, split: "train" }),
    ...generateProblems({ seed: 8, count: 200, split: "ood" }),
    ...generateProblems({ seed: 8, count: 400, split: "train", difficulty: 2 }),
  ];
  for (const p of problems) {
    const t = generateTrace(p, rng, {
      pFirstChoiceCorrect: 0.5,
      pExecError: 0.2,
    });
    const text = t.words.join(" ");
    const ids = tok.encode(text, { bos: true, eos: true });
    assert.ok(!ids.includes(UNK), text);
    assert.equal(ids.length, t.words.length + 2);
    assert.deepEqual(tok.encode(t.words), ids.slice(1, -1));
    assert.equal(tok.decode(ids), text);
    assert.deepEqual(tok.tokens(ids.slice(1, -1)), t.words);
  }
});

Deno.test("unknown words map to UNK and specials can be kept", () => {
  const ids = tok.encode("reach banana 5", { eos: true });
  assert.deepEqual(ids.slice(1), [UNK, tok.id("5"), EOS]);
  assert.equal(tok.decode(ids), "reach <unk> 5");
  assert.equal(
    tok.decode([BOS, ...ids], { keepSpecial: true }),
    "<bos> reach <unk> 5 <eos>",
  );
  assert.equal(tok.encode("<eos>")[0], EOS);
});

Deno.test("toJSON / fromJSON restore the same tokenizer", () => {
  const copy = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
  assert.equal(copy.size, tok.size);
  assert.deepEqual(copy.vocab, tok.vocab);
  assert.throws(
    () => WordTokenizer.fromJSON({ kind: "word", vocab: ["a"] }),
    /vocab\[0\] must be "<pad>"/,
  );
  assert.throws(
    () => new WordTokenizer(["<pad>", "<bos>", "<eos>", "<unk>", "a", "a"]),
    /duplicate word "a"/,
  );
});

Deno.test("the word scheme lets the paper's Strategic Grams match", () => {
  assert.deepEqual(splitWords("Wait, but"), ["wait", ",", "but"]);
  assert.deepEqual(splitWords("let's backtrack"), ["let's", "backtrack"]);
  assert.deepEqual(splitWords("wait, that's not right"), [
    "wait",
    ",",
    "that's",
    "not",
    "right",
  ]);
  assert.deepEqual(splitWords("let's double-check"), ["let's", "double-check"]);
  assert.deepEqual(splitWords("does this make sense?"), [
    "does",
    "this",
    "make",
    "sense",
    "?",
  ]);
  assert.deepEqual(splitWords("(3+8)*5=55."), [
    "(",
    "3",
    "+",
    "8",
    ")",
    "*",
    "5",
    "=",
    "55",
    ".",
  ]);
  for (const sg of ["but wait", "wait , but", "let's backtrack"]) {
    assert.ok(!tok.encode(sg).includes(UNK), sg);
  }
});

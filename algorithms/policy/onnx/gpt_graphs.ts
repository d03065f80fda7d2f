/**
 * The GPT of ../gpt.ts written as ONNX graphs, for onnxruntime:
 *
 *  - `inferenceGraph`: logits for new tokens, optionally after cached keys
 *    and values (sampling, evaluation);
 *  - `scoringGraph`: per-token log-probs and entropies of target tokens;
 *  - `gradientGraph`: the scoring graph, then every parameter's gradient from
 *    a loss's gradient with respect to those log-probs and entropies — the
 *    hand-derived backward pass of the same network.
 *
 * Weights are graph inputs named as in `parameterSpecs` (so one session
 * serves every update of a model), tokens are int32 [B, T], `positions`
 * int32 [B or 1, T] the tokens' positions and `mask` [B or 1, 1, T, S] the
 * additive attention mask over all S = cached + new keys (per row, so rows
 * of different lengths share a batch). The math mirrors gpt.ts: pre-LN
 * blocks, exact (erf) GELU, softmax attention with q scaled by 1/√(d/H),
 * LayerNorm ε = 1e-5. tests/policy/onnx_test.ts checks values and gradients
 * against the tfjs implementation.
 *
 * @module
 */

import { DataType } from "./proto.ts";
import { GraphBuilder } from "./graph.ts";
import { type GptConfig, parameterSpecs } from "../gpt.ts";

const LN_EPS = 1e-5;

/** Name of a parameter's gradient output. */
export function gradName(param: string): string {
  return `grad.${param}`;
}

function declareWeights(g: GraphBuilder, config: GptConfig): Map<string, string> {
  const w = new Map<string, string>();
  for (const spec of parameterSpecs(config)) w.set(spec.name, g.floatInput(spec.name, spec.shape));
  return w;
}

/** Exact GELU as in gpt.ts: x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); returns both. */
function gelu(g: GraphBuilder, x: string): { y: string; cdf: string } {
  const cdf = g.mul(
    g.add(g.node("Erf", [g.mul(x, g.scalar(Math.SQRT1_2))]), g.scalar(1)),
    g.scalar(0.5),
  );
  return { y: g.mul(x, cdf), cdf };
}

/**
 * Float one-hot rows [N, depth] of int32 ids [B, T]. The ids are cast to
 * int64: ORT's CPU OneHot has no int32-ids / int64-depth / float kernel.
 */
function oneHot(g: GraphBuilder, ids: string, depth: number): string {
  const flat = g.node("Cast", [g.reshape(ids, [-1])], { to: DataType.INT64 });
  const offOn = g.node("Constant", [], {
    value: { floatTensor: Float32Array.of(0, 1), dims: [2] },
  });
  return g.node("OneHot", [flat, g.ints([depth]), offOn], { axis: -1 });
}

/** LayerNorm over the last axis: [y, mean, 1/std] (the latter two [N, 1], for the backward pass). */
function layerNorm(g: GraphBuilder, x: string, gain: string, bias: string): string[] {
  return g.nodeN("LayerNormalization", [x, gain, bias], 3, {
    axis: -1,
    epsilon: { float: LN_EPS },
  });
}

/** Forward-pass values the backward pass reads, by name (`l{i}.x`, `l{i}.q`, …, `af`, `logits`). */
export type Activations = Map<string, string>;

/**
 * Adds the forward pass with a `logits` [B, T, V] output. With `cache`,
 * reads past keys/values (`past_k{i}`, `past_v{i}`) and outputs
 * this step's `new_k{i}` / `new_v{i}`. Returns the activations for `backward`.
 */
export function forward(g: GraphBuilder, config: GptConfig, cache: boolean): Activations {
  const { dModel: d, nHeads: h, vocabSize: vocab, nLayers } = config;
  const hd = d / h;
  const w = declareWeights(g, config);
  const W = (name: string) => w.get(name)!;
  const tokens = g.input("tokens", DataType.INT32, ["B", "T"]);
  const positions = g.input("positions", DataType.INT32, ["PB", "T"]);
  const mask = g.floatInput("mask", ["MB", 1, "T", "S"]);
  const bt = g.node("Shape", [tokens]);
  const headsShape = g.node("Concat", [bt, g.ints([3 * h, hd])], { axis: 0 });
  const acts: Activations = new Map();
  const save = (name: string, value: string) => acts.set(name, value);
  /** LayerNorm `ln` of x, saving a{key}, mean{key} and rstd{key} (prefixed) for the backward pass. */
  const norm = (x: string, ln: string, prefix: string, key: string) => {
    const [y, mean, rstd] = layerNorm(g, x, W(`${ln}.g`), W(`${ln}.b`));
    save(`${prefix}mean${key}`, mean);
    save(`${prefix}rstd${key}`, rstd);
    save(`${prefix}a${key}`, y);
    return y;
  };

  const emb = g.add(
    g.node("Gather", [W("tok_emb"), tokens]),
    g.node("Gather", [W("pos_emb"), positions]),
  );
  let x = g.reshape(emb, [-1, d]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  for (let i = 0; i < nLayers; i++) {
    const p = `h${i}.`;
    const s = `l${i}.`;
    save(`${s}x`, x);
    const a1 = norm(x, `${p}ln1`, s, "1");
    const qkv = g.gemm(a1, W(`${p}attn.w_qkv`), W(`${p}attn.b_qkv`));
    const heads = g.transpose(g.reshape(qkv, headsShape), [0, 2, 1, 3]); // [B, 3H, T, hd]
    const [q, kNew, vNew] = g.nodeN("Split", [heads, g.ints([h, h, h])], 3, { axis: 1 });
    const qScaled = g.mul(q, scale);
    const swap = [0, 1, 3, 2];
    let scores = g.matmul(qScaled, g.transpose(kNew, swap)); // [B, H, T, T]
    let past: { k: string; v: string } | null = null;
    if (cache) {
      // Scores against the cache and against the new keys are computed apart
      // and joined: concatenating the (large) cache itself cost ~0.3 ms per
      // decoding step at B = 32.
      past = {
        k: g.floatInput(`past_k${i}`, ["B", h, "P", hd]),
        v: g.floatInput(`past_v${i}`, ["B", h, "P", hd]),
      };
      g.output(`new_k${i}`, kNew, ["B", h, "T", hd]);
      g.output(`new_v${i}`, vNew, ["B", h, "T", hd]);
      scores = g.node("Concat", [g.matmul(qScaled, g.transpose(past.k, swap)), scores], {
        axis: -1,
      });
    }
    save(`${s}q`, q);
    save(`${s}k`, kNew);
    save(`${s}v`, vNew);
    const probs = g.node("Softmax", [g.add(scores, mask)], { axis: -1 });
    save(`${s}p`, probs);
    let y: string;
    if (past) {
      const sizes = g.node("Concat", [
        g.node("Shape", [past.k], { start: 2, end: 3 }),
        g.node("Shape", [kNew], { start: 2, end: 3 }),
      ], { axis: 0 });
      const [pPast, pNew] = g.nodeN("Split", [probs, sizes], 2, { axis: -1 });
      y = g.add(g.matmul(pPast, past.v), g.matmul(pNew, vNew));
    } else {
      y = g.matmul(probs, vNew);
    }
    const ym = g.reshape(g.transpose(y, [0, 2, 1, 3]), [-1, d]);
    save(`${s}ym`, ym);
    const x1 = g.add(x, g.gemm(ym, W(`${p}attn.w_o`), W(`${p}attn.b_o`)));
    save(`${s}x1`, x1);
    const a2 = norm(x1, `${p}ln2`, s, "2");
    const hpre = g.gemm(a2, W(`${p}mlp.w_in`), W(`${p}mlp.b_in`));
    save(`${s}hpre`, hpre);
    const { y: gact, cdf } = gelu(g, hpre);
    save(`${s}gact`, gact);
    save(`${s}cdf`, cdf);
    x = g.add(x1, g.gemm(gact, W(`${p}mlp.w_out`), W(`${p}mlp.b_out`)));
  }
  save("xf", x);
  const af = norm(x, "ln_f", "", "f");
  const logits = g.matmul(af, W("head")); // [N, V]
  save("logits", logits);
  const logitsShape = g.node("Concat", [bt, g.ints([vocab])], { axis: 0 });
  g.output("logits", g.reshape(logits, logitsShape), ["B", "T", vocab]);
  return acts;
}

/**
 * Per-token statistics of `targets` [B, T] under softmax(logits ·
 * `inv_temperature`): outputs `logp` (log-prob of the target) and `entropy`
 * (nats), both [B, T]. Returns the values the loss gradient needs.
 */
function tokenStats(
  g: GraphBuilder,
  config: GptConfig,
  acts: Activations,
): { logpAll: string; probs: string; hot: string; entropy: string; invT: string } {
  const targets = g.input("targets", DataType.INT32, ["B", "T"]);
  const invT = g.floatInput("inv_temperature", []);
  const logpAll = g.node("LogSoftmax", [g.mul(acts.get("logits")!, invT)], { axis: -1 });
  const probs = g.node("Exp", [logpAll]);
  const hot = oneHot(g, targets, config.vocabSize);
  const bt = g.node("Shape", [targets]);
  const logp = g.node("ReduceSum", [g.mul(logpAll, hot), g.ints([-1])], { keepdims: 0 });
  g.output("logp", g.reshape(logp, bt), ["B", "T"]);
  const entropy = g.node("Neg", [
    g.node("ReduceSum", [g.mul(probs, logpAll), g.ints([-1])], { keepdims: 1 }),
  ]); // [N, 1]
  g.output("entropy", g.reshape(entropy, bt), ["B", "T"]);
  return { logpAll, probs, hot, entropy, invT };
}

/**
 * Inference: logits [B, T, V] of `tokens` at `positions`. With `cache`,
 * also reads past keys/values [B, H, P, d/H] per layer and returns the
 * new tokens' keys and values as `new_k{i}` / `new_v{i}` [B, H, T, d/H]
 * (P may be 0).
 */
export function inferenceGraph(config: GptConfig, cache: boolean): Uint8Array {
  const g = new GraphBuilder();
  forward(g, config, cache);
  return g.encode();
}

/**
 * Scoring: the per-token `logp` and `entropy` [B, T] of `targets` under
 * softmax(logits · `inv_temperature`) (training losses and evaluation read
 * nothing else of the logits).
 */
export function scoringGraph(config: GptConfig): Uint8Array {
  const g = new GraphBuilder();
  tokenStats(g, config, forward(g, config, false));
  return g.encode();
}

/**
 * Gradients: the scoring graph, then from `dlogp` and `dentropy` [B, T]
 * (a loss's gradient with respect to `logp` and `entropy`) every parameter's
 * gradient as `grad.<name>`, through
 * d/du = dlogp·(onehot − p) − dentropy·p·(log p + H), u = logits/τ.
 * `grad.pos_emb` covers only the T positions used ([T, d]); the caller pads
 * it to the context length. Recomputing the forward pass here costs less
 * than exporting its ~40 MB of activations to JS and back (measured: ~25 ms
 * per B32×T64 step).
 */
export function gradientGraph(config: GptConfig): Uint8Array {
  const g = new GraphBuilder();
  const acts = forward(g, config, false);
  const { logpAll, probs, hot, entropy, invT } = tokenStats(g, config, acts);
  const column = (name: string) => g.reshape(g.floatInput(name, ["B", "T"]), [-1, 1]);
  const dlogp = column("dlogp");
  const dentropy = column("dentropy");
  const du = g.sub(
    g.mul(g.sub(hot, probs), dlogp),
    g.mul(g.mul(probs, g.add(logpAll, entropy)), dentropy),
  );
  backward(g, config, acts, g.mul(du, invT));
  return g.encode();
}

/**
 * LayerNorm backward for y = x̂·g + b, x̂ = (x − mean)·rstd:
 * dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), dx̂ = dy ⊙ g; returns dx and
 * writes the gain and bias gradients as outputs.
 */
function layerNormBackward(
  g: GraphBuilder,
  dy: string,
  x: string,
  mean: string,
  rstd: string,
  gain: string,
  paramPrefix: string,
  d: number,
): string {
  const xHat = g.mul(g.sub(x, mean), rstd);
  g.reduceSum(g.mul(dy, xHat), [0], 0, gradName(`${paramPrefix}.g`));
  g.reduceSum(dy, [0], 0, gradName(`${paramPrefix}.b`));
  g.output(gradName(`${paramPrefix}.g`), gradName(`${paramPrefix}.g`), [d]);
  g.output(gradName(`${paramPrefix}.b`), gradName(`${paramPrefix}.b`), [d]);
  const dxHat = g.mul(dy, gain);
  const centred = g.sub(dxHat, g.meanLast(dxHat));
  return g.mul(g.sub(centred, g.mul(xHat, g.meanLast(g.mul(dxHat, xHat)))), rstd);
}

/** Weight and bias gradients of y = a·W + b, and d(loss)/da. */
function linearBackward(
  g: GraphBuilder,
  dy: string,
  a: string,
  weight: string,
  param: string,
  shape: [number, number],
  bias?: string,
): string {
  g.gemm(a, dy, undefined, 1, 0, gradName(param));
  g.output(gradName(param), gradName(param), shape);
  if (bias) {
    g.reduceSum(dy, [0], 0, gradName(bias));
    g.output(gradName(bias), gradName(bias), [shape[1]]);
  }
  return g.gemm(dy, weight, undefined, 0, 1);
}

/** Adds the backward pass from d(loss)/d(logits) `dz` [N, V] and the forward's activations. */
function backward(g: GraphBuilder, config: GptConfig, acts: Activations, dz: string): void {
  const { dModel: d, nHeads: h, vocabSize: vocab, nLayers } = config;
  const hidden = d * config.mlpRatio;
  const hd = d / h;
  const W = (name: string) => {
    const spec = parameterSpecs(config).find((s) => s.name === name)!;
    return g.floatInput(name, spec.shape);
  };
  const S = (name: string) => {
    const value = acts.get(name);
    if (!value) throw new Error(`gradientGraph: no activation "${name}"`);
    return value;
  };
  const tokens = g.input("tokens", DataType.INT32, ["B", "T"]);
  const bt = g.node("Shape", [tokens]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  const swap = [0, 1, 3, 2];

  const daf = linearBackward(g, dz, S("af"), W("head"), "head", [d, vocab]);
  let dx = layerNormBackward(g, daf, S("xf"), S("meanf"), S("rstdf"), W("ln_f.g"), "ln_f", d);
  for (let i = nLayers - 1; i >= 0; i--) {
    const p = `h${i}.`;
    const s = (name: string) => S(`l${i}.${name}`);
    // d(loss)/d(input) of this block's linear layer `${p}${layer}.w_${w}` with input activation `act`.
    const linear = (dy: string, act: string, layer: string, w: string, shape: [number, number]) =>
      linearBackward(
        g,
        dy,
        s(act),
        W(`${p}${layer}.w_${w}`),
        `${p}${layer}.w_${w}`,
        shape,
        `${p}${layer}.b_${w}`,
      );
    // x2 = x1 + mlp(LN2(x1))
    const dgact = linear(dx, "gact", "mlp", "out", [hidden, d]);
    // GELU'(x) = Φ(x) + x·φ(x), reusing the forward's Φ; φ(x) = e^(−x²/2)/√(2π).
    const hpre = s("hpre");
    const scaled = g.mul(hpre, g.scalar(Math.SQRT1_2)); // x/√2: e^(−x²/2) = e^(−(x/√2)²)
    const gauss = g.node("Exp", [g.node("Neg", [g.mul(scaled, scaled)])]);
    const xPdf = g.mul(g.mul(hpre, gauss), g.scalar(1 / Math.sqrt(2 * Math.PI)));
    const dhpre = g.mul(dgact, g.add(s("cdf"), xPdf));
    const da2 = linear(dhpre, "a2", "mlp", "in", [d, hidden]);
    const x1 = s("x1");
    const dx1 = g.add(
      dx,
      layerNormBackward(g, da2, x1, s("mean2"), s("rstd2"), W(`${p}ln2.g`), `${p}ln2`, d),
    );
    // x1 = x + attn(LN1(x))
    const dym = linear(dx1, "ym", "attn", "o", [d, d]);
    const headShape = g.node("Concat", [bt, g.ints([h, hd])], { axis: 0 });
    const dy = g.transpose(g.reshape(dym, headShape), [0, 2, 1, 3]); // [B, H, T, hd]
    const [q, k, v, probs] = ["q", "k", "v", "p"].map((n) => s(n));
    const dprobs = g.matmul(dy, g.transpose(v, swap));
    const dv = g.matmul(g.transpose(probs, swap), dy);
    const rowDot = g.node("ReduceSum", [g.mul(dprobs, probs), g.ints([-1])], { keepdims: 1 });
    const dscores = g.mul(probs, g.sub(dprobs, rowDot));
    const dq = g.mul(g.matmul(dscores, k), scale);
    const dk = g.mul(g.matmul(g.transpose(dscores, swap), q), scale);
    const dheads = g.node("Concat", [dq, dk, dv], { axis: 1 }); // [B, 3H, T, hd]
    const dqkv = g.reshape(g.transpose(dheads, [0, 2, 1, 3]), [-1, 3 * d]);
    const da1 = linear(dqkv, "a1", "attn", "qkv", [d, 3 * d]);
    dx = g.add(
      dx1,
      layerNormBackward(g, da1, s("x"), s("mean1"), s("rstd1"), W(`${p}ln1.g`), `${p}ln1`, d),
    );
  }
  // Embeddings: x = tok_emb[tokens] + pos_emb[positions].
  const dx3 = g.reshape(dx, g.node("Concat", [bt, g.ints([d])], { axis: 0 }));
  g.reduceSum(dx3, [0], 0, gradName("pos_emb"));
  g.output(gradName("pos_emb"), gradName("pos_emb"), ["T", d]);
  const hot = oneHot(g, tokens, vocab);
  g.gemm(hot, dx, undefined, 1, 0, gradName("tok_emb"));
  g.output(gradName("tok_emb"), gradName("tok_emb"), [vocab, d]);
}

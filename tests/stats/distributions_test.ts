/**
 * Student t and normal distribution functions against closed forms and
 * published quantiles (reference values from SciPy 1.17 `scipy.stats.t`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  erfc,
  lnGamma,
  normalCdf,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTPdf,
  studentTQuantile,
  studentTSurvival,
  studentTTwoSidedP,
} from "../../stats/mod.ts";
import { near } from "./near.ts";

const TS = [-50, -7.5, -3, -1.2, -0.3, 0, 0.01, 0.5, 1, 2.4, 6, 40, 1e4];

Deno.test("lnGamma matches factorials and Γ(½) = √π", () => {
  near(lnGamma(1), 0, 1e-14);
  near(lnGamma(5), Math.log(24), 1e-13);
  near(lnGamma(20), Math.log(121645100408832000), 1e-12);
  near(lnGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
  near(lnGamma(1e-3), Math.log(999.4237724845955), 1e-11);
});

Deno.test("regularized incomplete beta: closed forms I_x(1,b) and I_x(a,1)", () => {
  for (const x of [0, 0.01, 0.3, 0.5, 0.9, 1]) {
    near(regularizedIncompleteBeta(x, 1, 3), 1 - (1 - x) ** 3, 1e-14, `I_${x}(1,3)`);
    near(regularizedIncompleteBeta(x, 2.5, 1), x ** 2.5, 1e-14, `I_${x}(2.5,1)`);
  }
  near(regularizedIncompleteBeta(0.5, 7, 7), 0.5, 1e-14);
});

Deno.test("t CDF with df = 1 is the Cauchy CDF ½ + atan(t)/π", () => {
  for (const t of TS) {
    near(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-14, `t=${t}`);
  }
});

Deno.test("t CDF with df = 2 is ½ + t / (2√(2+t²))", () => {
  for (const t of TS) {
    near(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-14, `t=${t}`);
  }
});

Deno.test("t CDF approaches the normal as df grows; df = Infinity is the normal", () => {
  for (const t of [-3, -1, 0, 0.5, 2, 4]) {
    near(studentTCdf(t, 1e6), normalCdf(t), 1e-6, `t=${t}`);
    assert.equal(studentTCdf(t, Infinity), normalCdf(t));
  }
  near(normalCdf(1.959963984540054), 0.975, 1e-15);
  near(normalCdf(-8), 6.22096057427178e-16, 1e-27);
  near(erfc(0.5), 0.4795001221869535, 1e-15);
  near(normalCdf(2), 0.9772498680518208, 1e-15);
  near(studentTCdf(2, 1e6), 0.9772497330743404, 1e-9);
});

Deno.test("t CDF matches SciPy at df = 5 and in the far tail; symmetric", () => {
  const ref: [number, number][] = [
    [-3, 0.01504962],
    [-0.5, 0.31914944],
    [0, 0.5],
    [0.7, 0.74242553],
    [2.5, 0.97275495],
    [10, 0.99991453],
  ];
  for (const [t, p] of ref) near(studentTCdf(t, 5), p, 5e-9, `t=${t}`);
  near(studentTSurvival(50, 3) / 8.808576020635984e-6, 1, 1e-10, "sf(50, 3)");
  near(studentTCdf(1.5, 0.5), 0.7460491046759459, 1e-12, "fractional df");
  for (const t of TS) near(studentTCdf(t, 7) + studentTCdf(-t, 7), 1, 1e-14);
  assert.equal(studentTTwoSidedP(0, 4), 1);
  near(studentTTwoSidedP(-2.776445105, 4), 0.05, 1e-9);
});

Deno.test("t density integrates to the CDF (trapezoid check) and matches Cauchy", () => {
  near(studentTPdf(0.3, 1), 1 / (Math.PI * (1 + 0.09)), 1e-15);
  let area = 0;
  const h = 1e-3;
  for (let x = -1; x < 1.5 - h / 2; x += h) {
    area += (studentTPdf(x, 6) + studentTPdf(x + h, 6)) * h / 2;
  }
  near(area, studentTCdf(1.5, 6) - studentTCdf(-1, 6), 1e-7);
});

Deno.test("t quantiles: textbook table values", () => {
  near(studentTQuantile(0.975, 4), 2.776445105, 1e-8);
  near(studentTQuantile(0.975, 9), 2.262157163, 1e-8);
  near(studentTQuantile(0.975, 30), 2.042272456, 1e-8);
  near(studentTQuantile(0.8, 7), 0.8960296443, 1e-9);
  near(studentTQuantile(0.025, 9), -2.262157163, 1e-8);
  near(studentTQuantile(0.975, 1), 12.70620474, 1e-7);
  near(studentTQuantile(0.6, 100), 0.25402218245822766, 1e-12);
  near(studentTQuantile(0.999, 2.5), 13.82219311086596, 1e-9);
  near(studentTQuantile(1e-10, 3) / -2225.769284683093, 1, 1e-9);
  near(normalQuantile(0.975), 1.959963984540054, 1e-12);
  assert.equal(studentTQuantile(0.5, 3), 0);
});

Deno.test("t quantile inverts the CDF for many df and p", () => {
  for (const df of [1, 2, 3.5, 10, 57, 1000]) {
    for (const p of [1e-6, 0.01, 0.2, 0.49, 0.51, 0.9, 0.995]) {
      near(studentTCdf(studentTQuantile(p, df), df), p, 1e-12 * Math.max(1, p * 10), `${df} ${p}`);
    }
  }
});

Deno.test("distribution functions reject invalid arguments", () => {
  assert.throws(() => studentTCdf(1, 0), RangeError);
  assert.throws(() => studentTQuantile(1, 5), RangeError);
  assert.throws(() => studentTQuantile(0, 5), RangeError);
  assert.throws(() => lnGamma(-1), RangeError);
});

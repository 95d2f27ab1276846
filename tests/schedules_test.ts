import { assert } from "./deps.ts";
import {
  cosineLr,
  cyclicLr,
  graceActive,
  normalizedEntropy,
  softmaxWithTemperature,
  sparsityAt,
  temperatureAt,
  thresholdAt,
} from "../runtime/loops/schedules.ts";

const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected}, got ${actual}`);

Deno.test("temperatureAt() runs the e-th epoch (1-based) at T0·β^e, ≈ 0.1 in the 50th with the paper's (1.3, 0.95)", () => {
  const schedule = { kind: "exponential", t0: 1.3, beta: 0.95 } as const;
  close(temperatureAt(schedule, 0, 8), 1.235);
  close(temperatureAt(schedule, 1, 8), 1.3 * 0.9025);
  close(temperatureAt(schedule, 4, 8), 1.3 * 0.95 ** 5);
  assert.ok(temperatureAt(schedule, 4, 8) >= 1 && temperatureAt(schedule, 5, 8) < 1, "5 epochs at T ≥ 1");
  close(temperatureAt(schedule, 49, 8), 0.1, 1e-4);
});

Deno.test("temperatureAt() returns the constant value for a constant schedule", () => {
  assert.equal(temperatureAt({ kind: "constant", value: 1 }, 17, 8), 1);
});

Deno.test("temperatureAt() computes the PAC schedule of eq. 7-8 with epoch 0 as t = 1", () => {
  const schedule = { kind: "pac", eta: 0.5, lipschitz: 2, delta: 0.1, nu: 0.1 } as const;
  // t = 1, N = 8: rho = 1 / (1 + ln(1/0.8)); T = 1 · rho · sqrt(8 · ln(π²·8/0.3)).
  const rho1 = 1 / (1 + Math.log(1.25));
  close(temperatureAt(schedule, 0, 8), rho1 * Math.sqrt(8 * Math.log((Math.PI ** 2 * 8) / 0.3)));
  // t = 4: rho = 4 / (4 + ln 1.25); T = rho · sqrt(2 · ln(π²·8·16/0.3)).
  const rho4 = 4 / (4 + Math.log(1.25));
  close(temperatureAt(schedule, 3, 8), rho4 * Math.sqrt(2 * Math.log((Math.PI ** 2 * 128) / 0.3)));
  assert.ok(temperatureAt(schedule, 200, 8) < temperatureAt(schedule, 20, 8));
});

Deno.test("temperatureAt() rejects a PAC schedule whose rho is undefined with a clear message", () => {
  const schedule = { kind: "pac", eta: 1, lipschitz: 1, delta: 0.1, nu: 10 } as const;
  assert.throws(() => temperatureAt(schedule, 0, 8), /choose a smaller nu/);
});

Deno.test("thresholdAt() gives c/N for a fixed policy and ν·e^-t for the PAC policy", () => {
  close(thresholdAt({ kind: "fixed", c: 0.4 }, 12, 8), 0.05);
  close(thresholdAt({ kind: "fixed", c: 0.4 }, 0, 7), 0.4 / 7);
  close(thresholdAt({ kind: "pac", nu: 0.1 }, 0, 8), 0.1 / Math.E);
  close(thresholdAt({ kind: "pac", nu: 0.1 }, 2, 8), 0.1 * Math.exp(-3));
});

Deno.test("sparsityAt() follows eq. 13 between t0 and t0 + nΔt and is clamped outside", () => {
  const s = { initial: 0, final: 0.8, start: 20, interval: 1, steps: 30, power: 3 };
  assert.equal(sparsityAt(s, 0), 0);
  assert.equal(sparsityAt(s, 19), 0);
  assert.equal(sparsityAt(s, 20), 0);
  close(sparsityAt(s, 35), 0.8 - 0.8 * 0.5 ** 3); // 0.7
  close(sparsityAt(s, 50), 0.8);
  close(sparsityAt(s, 80), 0.8);
});

Deno.test("sparsityAt() holds its value between prune steps of interval Δt", () => {
  const s = { initial: 0.1, final: 0.9, start: 10, interval: 5, steps: 4, power: 1 };
  close(sparsityAt(s, 14), 0.1);
  close(sparsityAt(s, 15), 0.3);
  close(sparsityAt(s, 19), 0.3);
  close(sparsityAt(s, 20), 0.5);
  close(sparsityAt(s, 30), 0.9);
});

Deno.test("cosineLr() matches PyTorch's CosineAnnealingLR and stays at the floor after the end", () => {
  close(cosineLr(0.025, 0.001, 0, 50), 0.025);
  close(cosineLr(0.025, 0.001, 25, 50), 0.013);
  close(cosineLr(0.025, 0.001, 10, 50), 0.001 + 0.024 * (1 + Math.cos(Math.PI / 5)) / 2);
  close(cosineLr(0.025, 0.001, 50, 50), 0.001);
  close(cosineLr(0.025, 0.001, 60, 50), 0.001);
});

Deno.test("cyclicLr() restarts each cycle at a peak decayed by the factor and anneals to the floor", () => {
  close(cyclicLr(0.025, 0, 0, 1500, 5, 0.5), 0.025);
  close(cyclicLr(0.025, 0, 300, 1500, 5, 0.5), 0.0125);
  close(cyclicLr(0.025, 0, 1200, 1500, 5, 0.5), 0.025 / 16);
  // Mid-cycle the power cosine (p = 10) is (10^0.5 - 1) / 9 of the amplitude.
  close(cyclicLr(0.025, 0, 150, 1500, 5, 0.5), 0.025 * (Math.sqrt(10) - 1) / 9);
  assert.ok(cyclicLr(0.025, 0, 299, 1500, 5, 0.5) < 1e-5);
});

Deno.test("cyclicLr() with power 1 is a plain cosine per cycle", () => {
  close(cyclicLr(0.1, 0.01, 5, 20, 2, 1, 1), cosineLr(0.1, 0.01, 5, 10));
  close(cyclicLr(0.1, 0.01, 15, 20, 2, 1, 1), cosineLr(0.1, 0.01, 5, 10));
});

Deno.test("graceActive() holds while T ≥ τ or while the epoch is below the grace epochs", () => {
  assert.equal(graceActive({ kind: "temperature", tau: 1 }, 0, 1.6), true);
  assert.equal(graceActive({ kind: "temperature", tau: 1 }, 9, 1), true);
  assert.equal(graceActive({ kind: "temperature", tau: 1 }, 10, 0.99), false);
  assert.equal(graceActive({ kind: "epochs", epochs: 5 }, 4, 0.1), true);
  assert.equal(graceActive({ kind: "epochs", epochs: 5 }, 5, 10), false);
  assert.equal(graceActive({ kind: "epochs", epochs: 0 }, 0, 1), false);
});

Deno.test("softmaxWithTemperature() matches hand-computed values", () => {
  const p = softmaxWithTemperature([0, Math.log(3)], 1);
  close(p[0] ?? NaN, 0.25);
  close(p[1] ?? NaN, 0.75);
  const q = softmaxWithTemperature([0, Math.log(3)], 0.5); // ratio 9
  close(q[1] ?? NaN, 0.9);
  assert.deepEqual(softmaxWithTemperature([], 1), []);
});

Deno.test("softmaxWithTemperature() gives no NaN at T = 1e-3 with α of ±1e3", () => {
  const p = softmaxWithTemperature([1e3, -1e3, 999.999, 0], 1e-3);
  for (const v of p) assert.ok(Number.isFinite(v));
  close(p.reduce((a, b) => a + b, 0), 1);
  close(p[0] ?? NaN, 1 / (1 + Math.exp(-1)));
  assert.equal(p[1], 0);
  assert.throws(() => softmaxWithTemperature([1, 2], 0), /temperature must be positive/);
});

Deno.test("normalizedEntropy() is 1 for uniform, 0 for one op, and 0 when n ≤ 1", () => {
  close(normalizedEntropy([0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125], 8), 1);
  close(normalizedEntropy([1], 8), 0);
  close(normalizedEntropy([0.5, 0.5], 4), 0.5);
  close(normalizedEntropy([0.5, 0.5, 0], 3), Math.log(2) / Math.log(3));
  assert.equal(normalizedEntropy([1], 1), 0);
});

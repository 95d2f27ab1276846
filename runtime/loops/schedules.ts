/**
 * Schedules of the search and of the evaluation training, as pure functions of the step (nanoGPT's
 * `get_lr` style): the temperature T (eq. 7–9), the pruning threshold θ (eq. 5, section 4.1), the
 * baselines' sparsity s_t (eq. 13), the learning rates, the grace test, and the softmax Φ(α; T) with
 * its normalized entropy. Nothing here holds state or touches tfjs.
 *
 * Convention: `t` is the 0-based count of epochs (or steps, with `schedule_unit: step`) done so
 * far, so `t = 0` is the first epoch. The paper's formulas count from 1 (Theorem 2's t, and eq. 9's
 * t, whose section-4.1 values only agree with 1-based epochs: see {@linkcode temperatureAt}), so
 * they are evaluated at `t + 1`.
 *
 * @module
 */

import type { Grace, SparsitySchedule, TemperatureSchedule, ThresholdPolicy } from "../../dsl/ir.ts";

/**
 * The temperature T of Φ = softmax(α / T) at step `t`.
 *
 * - `exponential`: T = T0 · β^(t+1) (eq. 9 with 1-based epochs: the e-th epoch, e = t + 1, runs at
 *   T0 · β^e). Section 4.1's T0 = 1.3, β = 0.95 then gives what the paper states: exactly five grace
 *   epochs above τ = 1 (T = 1.235 … 1.006 in epochs 1–5; Fig. 3) and T = 0.1000 in the 50th.
 *   Counted from 0, the same numbers give six grace epochs; the supplement's T0 = 1.6 gives nine
 *   (ten from 0) and ends at 0.12, contradicting its own stated aim ("a final temperature of 0.1
 *   and 5 epochs of grace-cycles").
 * - `constant`: T(t) = value (DARTS is T = 1).
 * - `pac`: Theorem 2, eq. 7–8 with a constant ν:
 *   T(τ) = η · L · ρ_τ · sqrt(8/τ · log(π² · N · τ² / (3δ))), ρ_τ = τ / (τ + log(1 / (N · ν))).
 *   The theorem counts from τ = 1, so the 0-based step `t` maps to τ = t + 1 (epoch 0 uses τ = 1).
 *
 * @param schedule The schedule from the IR.
 * @param t The 0-based epoch (or step).
 * @param candidates N, the number of candidate operations of the mixed op (used by `pac` only).
 * @returns The temperature, > 0.
 * @throws {RangeError} For `pac` when τ + log(1/(N·ν)) ≤ 0 (N·ν too large for that step).
 * @example
 * ```ts
 * import { temperatureAt } from "./schedules.ts";
 * temperatureAt({ kind: "exponential", t0: 1.3, beta: 0.95 }, 0, 7); // first epoch: 1.3 · 0.95 = 1.235
 * temperatureAt({ kind: "exponential", t0: 1.3, beta: 0.95 }, 49, 7); // 50th epoch: 0.1000
 * ```
 */
export function temperatureAt(schedule: TemperatureSchedule, t: number, candidates: number): number {
  switch (schedule.kind) {
    case "exponential":
      return schedule.t0 * schedule.beta ** (t + 1);
    case "constant":
      return schedule.value;
    case "pac": {
      const tau = t + 1;
      const n = candidates;
      const denominator = tau + Math.log(1 / (n * schedule.nu));
      if (!(denominator > 0)) {
        throw new RangeError(
          `the pac temperature is undefined at step ${t}: t + log(1/(N·nu)) = ${denominator} ` +
            `with N = ${n} and nu = ${schedule.nu} (choose a smaller nu)`,
        );
      }
      const rho = tau / denominator;
      const root = Math.sqrt((8 / tau) * Math.log((Math.PI ** 2 * n * tau ** 2) / (3 * schedule.delta)));
      return schedule.eta * schedule.lipschitz * rho * root;
    }
  }
}

/**
 * The pruning threshold θ at step `t`: an op whose Φ falls below it is pruned.
 *
 * - `fixed`: θ = c / N (section 4.1: c = 0.4).
 * - `pac`: θ_τ = ν · e^(−τ) (eq. 5, constant ν), with τ = t + 1 as in {@linkcode temperatureAt}.
 *
 * @param policy The threshold policy from the IR.
 * @param t The 0-based epoch (or step).
 * @param candidates N, the number of candidate operations the mixed op started with.
 * @returns The threshold θ.
 * @example
 * ```ts
 * import { thresholdAt } from "./schedules.ts";
 * thresholdAt({ kind: "fixed", c: 0.4 }, 10, 8); // 0.05
 * ```
 */
export function thresholdAt(policy: ThresholdPolicy, t: number, candidates: number): number {
  switch (policy.kind) {
    case "fixed":
      return policy.c / candidates;
    case "pac":
      return policy.nu * Math.exp(-(t + 1));
  }
}

/**
 * The target sparsity s_t (the fraction of ops pruned) of the pruning baselines, eq. 13:
 * s_t = s_f + (s_i − s_f) · (1 − (t − t0) / (n·Δt))^p. The sparsity changes only at the prune steps
 * t ∈ {t0, t0 + Δt, …, t0 + n·Δt}: between them it holds the last step's value. Before t0 it is s_i,
 * from t0 + n·Δt on it is s_f.
 *
 * @param s The schedule from the IR.
 * @param t The 0-based epoch (or step).
 * @returns The sparsity in [min(s_i, s_f), max(s_i, s_f)].
 * @example
 * ```ts
 * import { sparsityAt } from "./schedules.ts";
 * const s = { initial: 0, final: 0.8, start: 20, interval: 1, steps: 30, power: 3 };
 * sparsityAt(s, 50); // 0.8
 * ```
 */
export function sparsityAt(s: SparsitySchedule, t: number): number {
  if (t < s.start) return s.initial;
  if (s.steps <= 0 || s.interval <= 0) return s.final;
  const done = Math.min(s.steps, Math.floor((t - s.start) / s.interval));
  return s.final + (s.initial - s.final) * (1 - done / s.steps) ** s.power;
}

/**
 * PyTorch's `CosineAnnealingLR` with `T_max = total`, stepped once per epoch:
 * lr_t = lrMin + (lr − lrMin) · (1 + cos(π · t / total)) / 2. Unlike PyTorch, `t` is clamped to
 * [0, total], so the rate stays at lrMin after the last epoch instead of rising again.
 *
 * @param lr The initial rate.
 * @param lrMin The floor.
 * @param t The 0-based epoch.
 * @param total The number of epochs.
 * @returns The learning rate for epoch `t`.
 * @example
 * ```ts
 * import { cosineLr } from "./schedules.ts";
 * cosineLr(0.025, 0.001, 25, 50); // 0.013
 * ```
 */
export function cosineLr(lr: number, lrMin: number, t: number, total: number): number {
  if (total <= 0) return lr;
  const u = Math.min(Math.max(t, 0), total) / total;
  return lrMin + (lr - lrMin) * (1 + Math.cos(Math.PI * u)) / 2;
}

/**
 * The paper's evaluation schedule (section 4.2): `cycles` cycles of power-cosine annealing, the
 * amplitude of cycle k (0-based) being (lr − lrMin) · decay^k. Within a cycle of length
 * L = total / cycles, at fraction u = (t − k·L) / L, the cosine power annealing of sharpDARTS (the
 * paper's ref. [18]) gives
 *   lr_t = lrMin + (lr − lrMin) · decay^k · (p^c − 1) / (p − 1),   c = (1 + cos(π·u)) / 2,
 * which is a plain cosine when p = 1 (the limit of (p^c − 1)/(p − 1)). Each cycle restarts at its
 * (decayed) peak; t is clamped to [0, total).
 *
 * Where each constant comes from (the evaluate block's defaults, dsl/settings.ts):
 * - 5 cycles, amplitude decay 0.5 per cycle: section 4.2 ("5 cycles of power cosine annealing
 *   learning rate [18], with amplitude decay factor of 0.5 per cycle").
 * - lr = 0.025: supplement 6.2.2 ("an initial value of 0.025"); lrMin = 0: DARTS' evaluation
 *   (`CosineAnnealingLR(optimizer, epochs)`, eta_min 0), which the paper follows (6.2).
 * - power p = 10: the paper does not print it; 10 is the default `exponent_order` of sharpDARTS'
 *   `cosine_power_annealing()` (ref. [18], Hundt et al. 2019).
 * - total = 1500 epochs: supplement 6.2.2. Cycles are of equal length (total / cycles = 300 epochs),
 *   as the paper gives no other split.
 *
 * @param lr The peak rate of the first cycle.
 * @param lrMin The floor.
 * @param t The 0-based epoch.
 * @param total The number of epochs.
 * @param cycles The number of cycles, ≥ 1.
 * @param decay The amplitude factor per cycle (the paper: 0.5).
 * @param power p of the power cosine (default 10, sharpDARTS' value; 1 is a plain cosine).
 * @returns The learning rate for epoch `t`.
 * @example
 * ```ts
 * import { cyclicLr } from "./schedules.ts";
 * cyclicLr(0.025, 0, 300, 1500, 5, 0.5); // start of cycle 2: 0.0125
 * ```
 */
export function cyclicLr(
  lr: number,
  lrMin: number,
  t: number,
  total: number,
  cycles: number,
  decay: number,
  power = 10,
): number {
  if (total <= 0 || cycles < 1) return lr;
  const length = total / cycles;
  const clamped = Math.min(Math.max(t, 0), total);
  const k = Math.min(cycles - 1, Math.floor(clamped / length));
  const u = (clamped - k * length) / length;
  const c = (1 + Math.cos(Math.PI * u)) / 2;
  const shape = power === 1 ? c : (power ** c - 1) / (power - 1);
  return lrMin + (lr - lrMin) * decay ** k * shape;
}

/**
 * Whether the search is still in grace: α is neither updated nor pruned (Algorithm 1 line 5).
 *
 * @param grace The grace setting from the IR.
 * @param epoch The 0-based epoch.
 * @param temperature The current temperature T.
 * @returns True while T ≥ τ (`temperature` grace) or while epoch < the grace epochs (`epochs` grace).
 * @example
 * ```ts
 * import { graceActive } from "./schedules.ts";
 * graceActive({ kind: "temperature", tau: 1 }, 3, 1.3); // true
 * ```
 */
export function graceActive(grace: Grace, epoch: number, temperature: number): boolean {
  return grace.kind === "temperature" ? temperature >= grace.tau : epoch < grace.epochs;
}

/**
 * The first epoch after grace (α trains from it on), for schedules counted in epochs.
 *
 * @param grace The grace setting from the IR.
 * @param schedule The temperature schedule.
 * @param candidates N, the largest candidate count (for `pac`).
 * @param within How many epochs to look through.
 * @returns The 0-based epoch, or null when grace lasts all of `within` (or `pac` is undefined there).
 * @example
 * ```ts
 * import { graceEndEpoch } from "./schedules.ts";
 * // 1.6 · 0.95^t first falls below 1 at t = 10.
 * graceEndEpoch({ kind: "temperature", tau: 1 }, { kind: "exponential", t0: 1.6, beta: 0.95 }, 8); // 10
 * ```
 */
export function graceEndEpoch(
  grace: Grace,
  schedule: TemperatureSchedule,
  candidates: number,
  within = 10_000,
): number | null {
  try {
    for (let t = 0; t < within; t++) {
      if (!graceActive(grace, t, temperatureAt(schedule, t, candidates))) return t;
    }
  } catch {
    // pac's temperature is undefined where τ + log(1/(N·ν)) ≤ 0: no answer there.
  }
  return null;
}

/**
 * Φ(α; T) = softmax(α / T) (eq. 3), computed stably: the maximum of α / T is subtracted before
 * exponentiating, so T down to 1e-3 with α of ±1e3 gives no overflow and no NaN.
 *
 * @param alpha The architecture weights of one mixed op.
 * @param T The temperature, > 0.
 * @returns The probabilities, summing to 1 (an empty array for an empty α).
 * @throws {RangeError} When T is not a positive finite number.
 * @example
 * ```ts
 * import { softmaxWithTemperature } from "./schedules.ts";
 * softmaxWithTemperature([0, 0], 0.5); // [0.5, 0.5]
 * ```
 */
export function softmaxWithTemperature(alpha: readonly number[], T: number): number[] {
  if (!(T > 0) || !Number.isFinite(T)) throw new RangeError(`temperature must be positive, got ${T}`);
  if (alpha.length === 0) return [];
  const scaled = alpha.map((a) => a / T);
  const max = Math.max(...scaled);
  const exps = scaled.map((s) => Math.exp(s - max));
  const sum = exps.reduce((acc, e) => acc + e, 0);
  return exps.map((e) => e / sum);
}

/**
 * The entropy of `p` divided by ln n: 1 for a uniform distribution over n ops, 0 for one op left.
 * `n` is the number of candidates the mixed op started with, so a pruned op simply has no entry.
 *
 * @param p Probabilities (zeros allowed).
 * @param n The number of candidates to normalize by.
 * @returns −Σ p·ln p / ln n, or 0 when n ≤ 1.
 * @example
 * ```ts
 * import { normalizedEntropy } from "./schedules.ts";
 * normalizedEntropy([0.25, 0.25, 0.25, 0.25], 4); // 1
 * ```
 */
export function normalizedEntropy(p: readonly number[], n: number): number {
  if (n <= 1) return 0;
  let h = 0;
  for (const q of p) if (q > 0) h -= q * Math.log(q);
  return h / Math.log(n);
}

/**
 * The two summaries every report of seeds uses: the mean and the sample standard deviation.
 *
 * @module
 */

/**
 * Mean of numbers.
 *
 * @param xs The numbers.
 * @returns Their mean; NaN for none.
 * @example
 * ```ts
 * import { mean } from "./stats.ts";
 * if (!(mean([1, 2, 6]) === 3)) throw new Error("the example's claim does not hold");
 * ```
 */
export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/**
 * Sample standard deviation (n − 1).
 *
 * @param xs The numbers.
 * @returns Their spread; 0 for fewer than two.
 * @example
 * ```ts
 * import { std } from "./stats.ts";
 * if (!(std([1, 3]) === Math.SQRT2)) throw new Error("the example's claim does not hold");
 * ```
 */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

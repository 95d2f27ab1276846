/**
 * A small seeded pseudo-random generator (mulberry32: one 32-bit word of state) whose state is
 * plain data, so a checkpoint can store it and a resumed run continues the very same stream.
 *
 * @module
 */

/** The generator's state as plain JSON data. */
export interface RngState {
  readonly kind: "mulberry32";
  /** The 32-bit state word, as an unsigned integer. */
  readonly a: number;
}

/**
 * A seeded generator. Not for cryptography.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(42);
 * const saved = rng.state();
 * const first = rng.next();
 * Rng.fromState(saved).next() === first; // true
 * ```
 */
export class Rng {
  #a: number;

  /**
   * @param seed Any number; integers 0..2^32−1 give distinct streams.
   */
  constructor(seed: number) {
    // Scramble the seed (splitmix32-style) so that nearby seeds give unrelated streams.
    let z = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.#a = (z ^ (z >>> 16)) >>> 0;
  }

  /**
   * A generator that continues exactly where the one that produced `state` was.
   *
   * @param state A value returned by {@linkcode Rng.state}.
   * @returns The restored generator.
   * @throws {TypeError} When `state` is not a mulberry32 state.
   */
  static fromState(state: RngState): Rng {
    if (state?.kind !== "mulberry32" || !Number.isInteger(state.a) || state.a < 0 || state.a > 0xffffffff) {
      throw new TypeError(`not a random generator state: ${JSON.stringify(state)}`);
    }
    const rng = new Rng(0);
    rng.#a = state.a;
    return rng;
  }

  /** @returns The current state, to store in a checkpoint. */
  state(): RngState {
    return { kind: "mulberry32", a: this.#a };
  }

  /** @returns A uniform number in [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * @param n The number of outcomes, a positive integer.
   * @returns A uniform integer in [0, n).
   * @throws {RangeError} When n is not a positive integer.
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** @returns A standard normal sample (Box–Muller; one uniform pair per sample). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: the logarithm stays finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Shuffles `array` in place (Fisher–Yates).
   *
   * @param array The array to shuffle.
   * @returns The same array.
   */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i] as T;
      array[i] = array[j] as T;
      array[j] = tmp;
    }
    return array;
  }

  /**
   * @param n The length.
   * @returns A random permutation of 0..n−1.
   */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}

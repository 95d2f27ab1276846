/**
 * Whether the gradients being computed need the network weights' gradients. The α step of the search
 * differentiates w.r.t. α only; the hand-written gradients (kernels_native.ts) and the recomputed
 * blocks (recompute.ts) then skip their weight-gradient work, which tfjs's customGrad cannot know.
 *
 * @module
 */

let wanted = true;

/**
 * Runs `f` (a synchronous gradient computation) with weight gradients off: hand-written gradients
 * return zeros for weights.
 *
 * @param f the computation, e.g. `() => tf.variableGrads(loss, alphas)`
 * @returns what `f` returns
 */
export function withoutWeightGradients<T>(f: () => T): T {
  const before = wanted;
  wanted = false;
  try {
    return f();
  } finally {
    wanted = before;
  }
}

/** @returns false inside {@linkcode withoutWeightGradients}. */
export function weightGradientsWanted(): boolean {
  return wanted;
}

/**
 * Whether the gradients being computed need the network weights' gradients, or α's. The α step of the
 * search differentiates w.r.t. α only; the hand-written gradients (custom_grad.ts) and the recomputed
 * blocks (recompute.ts) then skip their weight-gradient work, which tfjs's customGrad cannot know. The
 * w step needs no α gradients: the mixed ops' weighted sums skip Φ's.
 *
 * @module
 */

/** A flag that holds `value` while a function runs, and its previous value again after (or on a throw). */
function scopedFlag(initial: boolean) {
  let current = initial;
  return {
    get: () => current,
    during<T>(value: boolean, f: () => T): T {
      const before = current;
      current = value;
      try {
        return f();
      } finally {
        current = before;
      }
    },
  };
}

const weights = scopedFlag(true);
const alphas = scopedFlag(true);
const replay = scopedFlag(false);

/**
 * Runs `f` (a synchronous gradient computation) with weight gradients off: hand-written gradients
 * return zeros for weights, and batch norms leave their running statistics alone (the α step changes
 * α only).
 *
 * @param f the computation, e.g. `() => tf.variableGrads(loss, alphas)`
 * @returns what `f` returns
 */
export function withoutWeightGradients<T>(f: () => T): T {
  return weights.during(false, f);
}

/** @returns false inside {@linkcode withoutWeightGradients}. */
export function weightGradientsWanted(): boolean {
  return weights.get();
}

/**
 * Runs `f` (a synchronous gradient computation) with α's gradients off: a mixed op's weighted sum then
 * returns zeros for Φ instead of Σ term·dy per candidate (the w step differentiates w.r.t. the weights
 * only, and its Φ gradients would be thrown away).
 *
 * @param f the computation, e.g. `() => tf.variableGrads(loss, weights)`
 * @returns what `f` returns
 */
export function withoutAlphaGradients<T>(f: () => T): T {
  return alphas.during(false, f);
}

/** @returns false inside {@linkcode withoutAlphaGradients}. */
export function alphaGradientsWanted(): boolean {
  return alphas.get();
}

/**
 * Runs `f` as the replay of a forward pass that already ran (recomputation in the backward pass):
 * side effects of the forward pass, such as batch norm's running statistics, are not repeated.
 *
 * @param f the replayed forward pass and its gradients
 * @returns what `f` returns
 */
export function asReplay<T>(f: () => T): T {
  return replay.during(true, f);
}

/** @returns true inside {@linkcode asReplay}: the forward pass's side effects already happened. */
export function isReplay(): boolean {
  return replay.get();
}

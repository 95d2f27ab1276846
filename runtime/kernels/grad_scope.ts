/**
 * Whether the gradients being computed need the network weights' gradients, or α's. The α step of the
 * search differentiates w.r.t. α only; the hand-written gradients (custom_grad.ts) and the recomputed
 * blocks (recompute.ts) then skip their weight-gradient work, which tfjs's customGrad cannot know. The
 * w step needs no α gradients: the mixed ops' weighted sums skip Φ's.
 *
 * @module
 */

let wanted = true;

/**
 * Runs `f` (a synchronous gradient computation) with weight gradients off: hand-written gradients
 * return zeros for weights, and batch norms leave their running statistics alone (the α step changes
 * α only).
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

let alphaWanted = true;

/**
 * Runs `f` (a synchronous gradient computation) with α's gradients off: a mixed op's weighted sum then
 * returns zeros for Φ instead of Σ term·dy per candidate (the w step differentiates w.r.t. the weights
 * only, and its Φ gradients would be thrown away).
 *
 * @param f the computation, e.g. `() => tf.variableGrads(loss, weights)`
 * @returns what `f` returns
 */
export function withoutAlphaGradients<T>(f: () => T): T {
  const before = alphaWanted;
  alphaWanted = false;
  try {
    return f();
  } finally {
    alphaWanted = before;
  }
}

/** @returns false inside {@linkcode withoutAlphaGradients}. */
export function alphaGradientsWanted(): boolean {
  return alphaWanted;
}

let replaying = false;

/**
 * Runs `f` as the replay of a forward pass that already ran (recomputation in the backward pass):
 * side effects of the forward pass, such as batch norm's running statistics, are not repeated.
 *
 * @param f the replayed forward pass and its gradients
 * @returns what `f` returns
 */
export function asReplay<T>(f: () => T): T {
  const before = replaying;
  replaying = true;
  try {
    return f();
  } finally {
    replaying = before;
  }
}

/** @returns true inside {@linkcode asReplay}: the forward pass's side effects already happened. */
export function isReplay(): boolean {
  return replaying;
}

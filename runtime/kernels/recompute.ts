/**
 * Activation recomputation (gradient checkpointing): a function's forward pass runs without a
 * gradient tape and its intermediates are freed at once; backpropagation runs it again under a tape
 * and takes its gradients there. Memory falls from every intermediate of the function to its inputs
 * and output, for one more forward pass.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { asReplay, weightGradientsWanted } from "./grad_scope.ts";

/** The engine's tape, which a nested gradient computation replaces and must give back. */
interface TapeHolder {
  state: { activeTape: unknown };
}

/**
 * `f(...inputs)`, differentiable w.r.t. `inputs` and `weights` (variables `f` reads), recomputed in
 * the backward pass. The recomputation runs as a replay (grad_scope.ts): what `f` changes besides its
 * output (batch-norm running statistics) changes once, in the forward pass, as without recomputation.
 *
 * @param f a pure function of its inputs and of `weights`
 * @param inputs the tensors `f` is called with
 * @param weights the variables `f` reads, whose gradients are wanted
 * @returns `f(...inputs)`
 */
export function recomputed<T extends tf.Tensor>(
  f: (...inputs: tf.Tensor[]) => T,
  inputs: readonly tf.Tensor[],
  weights: readonly tf.Variable[],
): T {
  const n = inputs.length;
  const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, n) as tf.Tensor[];
    (args[args.length - 1] as tf.GradSaveFunc)(xs);
    return {
      // customGrad keeps the forward pass's intermediates until the outer tape ends: tidy them now.
      value: tf.tidy(() => f(...xs)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const engine = tf.engine();
        const holder = engine as unknown as TapeHolder;
        const tape = holder.state.activeTape;
        try {
          const wrt = weightGradientsWanted() ? [...saved, ...weights] : saved;
          const { value, grads } = asReplay(() => engine.gradients(() => f(...saved), wrt, dy, true));
          value.dispose();
          const all = [...saved, ...weights];
          return all.map((x, i) => grads[i] ?? tf.zerosLike(x));
        } finally {
          holder.state.activeTape = tape;
        }
      },
    };
  });
  return g(...inputs, ...weights) as T;
}

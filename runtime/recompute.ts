/**
 * Activation recomputation (gradient checkpointing) for one module: its forward pass runs without a
 * gradient tape, keeping only its input; backpropagation runs the forward pass again under a tape and
 * takes its gradients there. Memory falls from every intermediate of the module to its input and
 * output, for one more forward pass.
 *
 * @module
 */
import { tf } from "./deps.ts";
import type { Module } from "./ops.ts";

/** The engine's tape, which a nested gradient computation replaces and must give back. */
interface TapeHolder {
  state: { activeTape: unknown };
}

/**
 * `module.apply(x, training)`, differentiable w.r.t. `x` and the module's weights, recomputed in the
 * backward pass. Batch-norm running statistics are updated by both passes (the search normalises with
 * batch statistics, so its results do not change; an EMA with momentum 0.1 applied twice is one with
 * 0.19).
 *
 * @param module the module to run
 * @param x its input
 * @param training batch statistics and running-stat updates, as `Module.apply`
 * @returns the module's output
 */
export function applyRecomputed(module: Module, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  const weights = module.weights;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor4D;
    save([input]);
    return {
      value: module.apply(input, training),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const kept = saved[0] as tf.Tensor4D;
        const engine = tf.engine();
        const holder = engine as unknown as TapeHolder;
        const tape = holder.state.activeTape;
        try {
          const { value, grads } = engine.gradients(
            () => module.apply(kept, training),
            [kept, ...weights],
            dy,
            true,
          );
          value.dispose();
          return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? kept : weights[i - 1]!));
        } finally {
          holder.state.activeTape = tape;
        }
      },
    };
  });
  return f(x, ...weights) as tf.Tensor4D;
}

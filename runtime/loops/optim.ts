/**
 * The two optimizers of the search, with PyTorch's semantics and slots kept per variable name, so
 * that a pruned op's slots are disposed with it and a checkpoint can save and restore them.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { hasArrayKernel, runArrayKernel, SGD_UPDATE } from "../kernels/array_kernels.ts";
import type { ArchOptimizer, WeightOptimizer } from "../../dsl/ir.ts";

/** Named tensors as plain data, for checkpoints. */
export type SlotValues = Record<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;

/** The slots an optimizer holds, by variable name and slot kind. */
abstract class SlotOptimizer {
  protected readonly slots = new Map<string, tf.Variable>();

  protected slot(variable: tf.Variable, kind: string): tf.Variable {
    const key = `${variable.name}#${kind}`;
    let slot = this.slots.get(key);
    if (!slot) {
      const name = `${key}@${this.constructor.name}`;
      slot = tf.tidy(() => tf.variable(tf.zerosLike(variable), false, name));
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** Disposes the slots of the named variables (a pruned op's). */
  forget(names: Iterable<string>): void {
    for (const name of names) {
      for (const [key, slot] of this.slots) {
        if (key.startsWith(`${name}#`)) {
          slot.dispose();
          this.slots.delete(key);
        }
      }
    }
  }

  /** The number of slot tensors held. */
  get slotCount(): number {
    return this.slots.size;
  }

  /** Reads every slot (async: works on every backend). */
  async save(): Promise<SlotValues> {
    const out: SlotValues = {};
    for (const [key, slot] of this.slots) {
      out[key] = { shape: slot.shape, values: (await slot.data()) as Float32Array };
    }
    return out;
  }

  /** Restores slots saved by {@linkcode save}. */
  load(values: SlotValues): void {
    this.dispose();
    for (const [key, v] of Object.entries(values)) {
      const name = `${key}@${this.constructor.name}`;
      this.slots.set(key, tf.tidy(() => tf.variable(tf.tensor(v.values, [...v.shape]), false, name)));
    }
  }

  dispose(): void {
    for (const slot of this.slots.values()) slot.dispose();
    this.slots.clear();
  }
}

/**
 * The factor that global gradient-norm clipping (torch.nn.utils.clip_grad_norm_) multiplies every
 * gradient by: min(1, maxNorm / (‖grads‖ + 1e-6)).
 */
export function clipScale(grads: readonly tf.Tensor[], maxNorm: number): tf.Scalar {
  return tf.tidy(() => {
    const squares = grads.map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(squares.length === 1 ? squares[0]! : tf.addN(squares));
    return tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6)))) as tf.Scalar;
  });
}

/**
 * SGD with momentum, weight decay and optional Nesterov, as torch.optim.SGD, for the weights w.
 */
export class Sgd extends SlotOptimizer {
  readonly #settings: WeightOptimizer;

  constructor(settings: WeightOptimizer) {
    super();
    this.#settings = settings;
  }

  /**
   * Applies one step at learning rate `lr` to `variables` with `grads` (same order), the gradients
   * multiplied by `scale` first (a {@linkcode clipScale}). Disposes nothing of the caller's. Where the
   * array kernels run, each weight's step is one kernel (`AsapSgdUpdate`, the same float32 roundings).
   */
  step(variables: readonly tf.Variable[], grads: readonly tf.Tensor[], lr: number, scale?: tf.Scalar): void {
    const { momentum, weightDecay, nesterov } = this.#settings;
    tf.tidy(() => {
      const fused = momentum !== 0 && hasArrayKernel(SGD_UPDATE);
      const s = scale ?? tf.scalar(1);
      variables.forEach((w, i) => {
        if (fused) {
          const buf = this.slot(w, "momentum");
          const attrs = { lr, momentum, weightDecay, nesterov: nesterov ? 1 : 0 };
          const [next, nextBuf] = runArrayKernel(
            SGD_UPDATE,
            { w, g: grads[i]!, buf, scale: s },
            attrs,
          ) as tf.Tensor[];
          buf.assign(nextBuf!);
          w.assign(next!);
          return;
        }
        let g = scale ? tf.mul(grads[i]!, scale) : grads[i]!;
        if (weightDecay !== 0) g = tf.add(g, tf.mul(w, weightDecay));
        if (momentum !== 0) {
          const buf = this.slot(w, "momentum");
          const next = tf.add(tf.mul(buf, momentum), g);
          buf.assign(next);
          g = nesterov ? tf.add(g, tf.mul(next, momentum)) : next;
        }
        w.assign(tf.sub(w, tf.mul(g, lr)));
      });
    });
  }
}

/** Adam with L2 weight decay, as torch.optim.Adam, for the architecture weights α. */
export class Adam extends SlotOptimizer {
  readonly #settings: ArchOptimizer;
  /** Steps taken, for the bias correction. */
  steps = 0;

  constructor(settings: ArchOptimizer) {
    super();
    this.#settings = settings;
  }

  step(variables: readonly tf.Variable[], grads: readonly tf.Tensor[]): void {
    const { lr, beta1, beta2, weightDecay } = this.#settings;
    this.steps += 1;
    const c1 = 1 - beta1 ** this.steps;
    const c2 = 1 - beta2 ** this.steps;
    tf.tidy(() => {
      variables.forEach((a, i) => {
        let g = grads[i]!;
        if (weightDecay !== 0) g = tf.add(g, tf.mul(a, weightDecay));
        const m = this.slot(a, "m");
        const v = this.slot(a, "v");
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const denom = tf.add(tf.sqrt(tf.div(v, c2)), 1e-8);
        a.assign(tf.sub(a, tf.div(tf.mul(m, lr / c1), denom)));
      });
    });
  }
}

/**
 * Counting tfjs kernel calls: every kernel registered for a backend is re-registered wrapped in a
 * counter, so each dispatch through the engine (ops, their gradients, the optimizers) is counted by
 * name. Kernels a backend calls directly from inside another kernel are part of that kernel's call.
 *
 * @module
 */
import { tf } from "../deps.ts";

/** A running count of kernel calls on one backend; {@linkcode KernelCounter.stop} restores the kernels. */
export interface KernelCounter {
  /** The backend whose kernels are counted. */
  readonly backend: string;
  /** Calls since the counter started or was last reset. */
  readonly total: number;
  /** Calls per kernel name since the counter started or was last reset. */
  readonly byName: ReadonlyMap<string, number>;
  /** Starts a fresh count. */
  reset(): void;
  /** The `n` most-called kernels, most first. */
  top(n: number): { name: string; calls: number }[];
  /** Puts the unwrapped kernels back. */
  stop(): void;
}

/**
 * Wraps every kernel of `backend` (default: the active one) in a counter.
 *
 * @param backend A backend whose kernels are registered (call after `useBackend`).
 * @returns The counter, already counting.
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { countKernels } from "./kernel_count.ts";
 * await tf.setBackend("cpu");
 * const counter = countKernels();
 * tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
 * console.assert(counter.byName.get("Add") === 1);
 * counter.stop();
 * ```
 */
export function countKernels(backend: string = tf.getBackend()): KernelCounter {
  const originals = tf.getKernelsForBackend(backend);
  if (originals.length === 0) throw new Error(`no tfjs kernels are registered for backend "${backend}"`);
  const byName = new Map<string, number>();
  let total = 0;
  const register = (config: tf.KernelConfig) => {
    tf.unregisterKernel(config.kernelName, backend);
    tf.registerKernel(config);
  };
  for (const config of originals) {
    const name = config.kernelName;
    const inner = config.kernelFunc;
    register({
      ...config,
      kernelFunc: (params) => {
        total += 1;
        byName.set(name, (byName.get(name) ?? 0) + 1);
        return inner(params);
      },
    });
  }
  let stopped = false;
  return {
    backend,
    get total() {
      return total;
    },
    byName,
    reset() {
      total = 0;
      byName.clear();
    },
    top(n) {
      return [...byName].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, calls]) => ({ name, calls }));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      for (const config of originals) register(config);
    },
  };
}

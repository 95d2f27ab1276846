/**
 * Counting (and timing) the tfjs kernels a computation dispatches: every kernel registered for the
 * active backend is wrapped while the computation runs, so each engine dispatch (`runKernel`) is
 * counted once under its kernel name. Kernels that a backend calls directly from inside another
 * kernel are part of that kernel. Times are wall time around each dispatch: exact for the synchronous
 * CPU backends (wasm, cpu), the CPU-side dispatch cost only for asynchronous ones (webgpu).
 *
 * @module
 */
import { tf } from "../deps.ts";

/** Calls and milliseconds of one kernel name. */
export interface KernelTally {
  calls: number;
  ms: number;
}

/** What {@linkcode countKernels} measured. */
export interface KernelCount<T> {
  /** What the computation returned. */
  readonly result: T;
  /** Kernel dispatches in all. */
  readonly kernels: number;
  /** Milliseconds inside kernels in all. */
  readonly kernelMs: number;
  /** Per kernel name, most calls first. */
  readonly byName: Readonly<Record<string, KernelTally>>;
}

type KernelFunc = tf.KernelConfig["kernelFunc"];

let active = false;

/**
 * Runs `f` with every kernel of the active backend counted and timed.
 *
 * @param f The computation (e.g. one search step); awaited when it returns a promise.
 * @returns Its result, the kernel count, the time inside kernels, and both per kernel name.
 * @throws {Error} When called while another count is running (kernels are wrapped once).
 * @example
 * ```ts
 * import { countKernels } from "./kernel_count.ts";
 * import { tf } from "../deps.ts";
 * await tf.setBackend("cpu");
 * const { kernels, byName } = await countKernels(() => tf.tidy(() => tf.add(tf.ones([2]), 1).dataSync()));
 * if (!(kernels >= 1 && byName["Add"]?.calls === 1)) throw new Error("the example's claim does not hold");
 * ```
 */
export async function countKernels<T>(f: () => T | Promise<T>): Promise<KernelCount<Awaited<T>>> {
  if (active) throw new Error("countKernels() is already counting: counts do not nest");
  const configs = tf.getKernelsForBackend(tf.getBackend());
  const tallies = new Map<string, KernelTally>();
  const originals = new Map<tf.KernelConfig, KernelFunc>();
  for (const config of configs) {
    const original = config.kernelFunc;
    const tally: KernelTally = { calls: 0, ms: 0 };
    tallies.set(config.kernelName, tally);
    originals.set(config, original);
    // The registry hands out its own config objects, and the engine reads kernelFunc at each dispatch.
    (config as { kernelFunc: KernelFunc }).kernelFunc = (args) => {
      const start = performance.now();
      try {
        return original(args);
      } finally {
        tally.ms += performance.now() - start;
        tally.calls += 1;
      }
    };
  }
  active = true;
  try {
    const result = await f();
    const byName: Record<string, KernelTally> = {};
    let kernels = 0;
    let kernelMs = 0;
    for (const [name, t] of [...tallies].sort((a, b) => b[1].calls - a[1].calls)) {
      if (t.calls === 0) continue;
      byName[name] = { ...t };
      kernels += t.calls;
      kernelMs += t.ms;
    }
    return { result, kernels, kernelMs, byName };
  } finally {
    for (const [config, original] of originals) (config as { kernelFunc: KernelFunc }).kernelFunc = original;
    active = false;
  }
}

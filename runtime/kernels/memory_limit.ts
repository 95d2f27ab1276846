/**
 * How much memory the chosen backend can hold, and the check that refuses a run whose estimate
 * (dsl/memory.ts) exceeds it before anything is allocated: wasm's heap is 4 GiB; the cpu and native
 * backends have the machine's memory (read with `--allow-sys=systemMemoryInfo`; unknown without it);
 * webgpu has the adapter's largest buffer for any one tensor, and the machine's memory in all.
 *
 * @module
 */
import { formatBytes, type MemoryEstimate } from "../../dsl/memory.ts";
import type { BackendName } from "./backend.ts";

/** What a backend can hold. */
export interface MemoryLimit {
  /** Bytes in all, or null when unknown. */
  readonly bytes: number | null;
  /** Bytes of the largest single tensor (WebGPU's `maxBufferSize`), or null when unbounded or unknown. */
  readonly bufferBytes: number | null;
  /** How the limit reads in a message, e.g. `wasm's 4 GiB heap`. */
  readonly what: string;
}

/** wasm32's address space, which tfjs-backend-wasm's heap can grow to. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/** The machine's memory in bytes, or null when this process may not read it. */
function machineMemory(): number | null {
  try {
    const state = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state;
    return state === "granted" ? Deno.systemMemoryInfo().total : null;
  } catch {
    return null;
  }
}

/**
 * The memory of a backend.
 *
 * @param backend the backend the run will use
 * @returns its limit (fields null where it cannot be known)
 * @example
 * ```ts
 * import { memoryLimit } from "./memory_limit.ts";
 * const limit = await memoryLimit("wasm");
 * if (limit.bytes !== 4 * 2 ** 30) throw new Error(limit.what);
 * ```
 */
export async function memoryLimit(backend: BackendName): Promise<MemoryLimit> {
  if (backend === "wasm") return { bytes: WASM_HEAP_BYTES, bufferBytes: null, what: "wasm's 4 GiB heap" };
  const machine = machineMemory();
  const what = machine === null ? "" : `this machine's ${formatBytes(machine)} of memory`;
  if (backend !== "webgpu") return { bytes: machine, bufferBytes: null, what };
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = gpu
    ? await gpu.requestAdapter({ powerPreference: "high-performance" }).catch(() => null)
    : null;
  const buffer = adapter?.limits.maxBufferSize ?? null;
  const parts = [what, buffer === null ? "" : `the GPU's largest buffer of ${formatBytes(buffer)}`];
  return { bytes: machine, bufferBytes: buffer, what: parts.filter((p) => p).join(" and ") };
}

/** The words of a refusal: what runs, and what to shrink besides the batch. */
export interface MemoryWords {
  /** `the search` or `the evaluation training`. */
  readonly run: string;
  /** E.g. `channels or cells in the supernet block`. */
  readonly shrink: string;
}

/**
 * Whether a run fits its backend, with recomputation where that is what fits.
 *
 * @param estimate the run's estimate at its batch size
 * @param limit the backend's memory
 * @param words how to name the run and what to shrink
 * @returns `fits` (and whether recomputation is needed), or the one message that refuses the run:
 *   the estimate, the limit, and what to shrink
 * @example
 * ```ts
 * import { fitsMemory } from "./memory_limit.ts";
 * const estimate = {
 *   batchSize: 64, weightBytes: 0, gradientBytes: 0, optimizerBytes: 0, fixedBytes: 2 ** 20,
 *   perSample: { kept: 2 ** 28, recomputed: 2 ** 27 }, largestTensorPerSample: 2 ** 20,
 *   total: { kept: 2 ** 34, recomputed: 2 ** 33 },
 * };
 * const limit = { bytes: 2 ** 32, bufferBytes: null, what: "wasm's 4 GiB heap" };
 * const verdict = fitsMemory(estimate, limit, { run: "the search", shrink: "channels" });
 * if (verdict.fits || !verdict.message.includes("--batch-size 31 or less")) throw new Error("refused");
 * ```
 */
export function fitsMemory(
  estimate: MemoryEstimate,
  limit: MemoryLimit,
  words: MemoryWords,
): { fits: true; recompute: boolean } | { fits: false; message: string } {
  const { total, batchSize } = estimate;
  const tensor = estimate.largestTensorPerSample * batchSize;
  const overBuffer = limit.bufferBytes !== null && tensor > limit.bufferBytes;
  if (!overBuffer && (limit.bytes === null || total.recomputed <= limit.bytes)) {
    return { fits: true, recompute: limit.bytes !== null && total.kept > limit.bytes };
  }
  const room = Math.min(
    limit.bytes === null ? Infinity : (limit.bytes - estimate.fixedBytes) / estimate.perSample.recomputed,
    limit.bufferBytes === null ? Infinity : limit.bufferBytes / estimate.largestTensorPerSample,
  );
  const batch = Math.floor(room);
  const need = overBuffer
    ? `a tensor of ${formatBytes(tensor)} at batch ${batchSize}`
    : `about ${formatBytes(total.recomputed)} at batch ${batchSize} (weights, gradients and optimizer ` +
      `${formatBytes(estimate.fixedBytes)}, activations ${
        formatBytes(estimate.perSample.recomputed)
      } per sample ` +
      `with recomputation)`;
  const fix = batch >= 1
    ? `use --batch-size ${batch} or less, or fewer ${words.shrink}`
    : `even batch 1 does not fit, so use fewer ${words.shrink}`;
  return { fits: false, message: `${words.run} needs ${need} but ${limit.what} cannot hold it: ${fix}` };
}

/**
 * Readies the `native` backend: builds (or finds cached) the shim, loads it, registers the backend
 * and its kernels with tfjs, and sets ATen's thread count.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { buildShim, findLibtorch, type Libtorch, slowBlasWarning } from "./build.ts";
import { Shim } from "./ffi.ts";
import { NATIVE, NativeBackend } from "./backend.ts";
import { registerNativeKernels } from "./kernels.ts";

let shim: Shim | undefined;

/** Options of {@linkcode loadNative}. */
export interface LoadOptions {
  /** Another libtorch than Debian's (e.g. a CUDA one). */
  readonly torch?: Libtorch;
  /** Where to say that the shim is being built (tens of seconds, once) or that the BLAS is slow. */
  readonly log?: (line: string) => void;
}

/**
 * Builds and loads the shim and registers the `native` backend (once per process); tensors live on
 * the CPU (device 0). The thread count is set to every core (`navigator.hardwareConcurrency`).
 *
 * @returns The loaded shim.
 * @throws {NativeUnavailableError} (from build.ts) when libtorch, g++ or a permission is missing.
 * @example
 * ```ts ignore
 * import { loadNative } from "./load.ts";
 * await loadNative();
 * ```
 */
export async function loadNative(options: LoadOptions = {}): Promise<Shim> {
  if (shim) return shim;
  const path = await buildShim(options);
  preferPassiveOpenMp();
  const torch = options.torch ?? findLibtorch();
  const blas = torch && slowBlasWarning(torch);
  if (blas) (options.log ?? console.error)(blas);
  const loaded = new Shim(path);
  loaded.setThreads(navigator.hardwareConcurrency);
  registerNativeKernels();
  tf.registerBackend(NATIVE, () => new NativeBackend(loaded, 0), 0);
  shim = loaded;
  return loaded;
}

/**
 * Makes OpenMP's idle threads sleep at barriers instead of spinning (`OMP_WAIT_POLICY=passive`), read
 * by libgomp when the shim loads it, unless the variable is already set or may not be written
 * (`--allow-env=OMP_WAIT_POLICY`). Measured on a 2-core machine under load (other processes running):
 * with the default policy every parallel kernel took ~20 ms with 2 threads (3×3 depthwise conv at
 * b32: 21 ms vs 1.6 ms on 1 thread); passive: 0.28 ms.
 */
function preferPassiveOpenMp(): void {
  const variable = "OMP_WAIT_POLICY";
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return;
  if (Deno.env.get(variable) === undefined) Deno.env.set(variable, "passive");
}

/**
 * Sets ATen's intra-op thread count of the native backend (for 1 vs all cores in benchmarks).
 *
 * @param n Threads, ≥ 1.
 * @throws When the native backend is not loaded.
 */
export function setNativeThreads(n: number): void {
  if (!shim) throw new Error("setNativeThreads: the native backend is not loaded");
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNativeThreads: ${n} is not a positive integer`);
  shim.setThreads(n);
}

/** ATen's intra-op thread count, or undefined when the native backend is not loaded. */
export function nativeThreads(): number | undefined {
  return shim?.threads();
}

/**
 * Readies the `native` backend: builds (or finds cached) the shim, loads it, registers the backend
 * and its kernels with tfjs, and sets ATen's thread count.
 *
 * @module
 */
import { cpus, tf } from "../../deps.ts";
import {
  buildShim,
  type Libtorch,
  NativeUnavailableError,
  resolveLibtorch,
  slowBlasWarning,
} from "./build.ts";
import { Shim } from "./ffi.ts";
import { NATIVE, NativeBackend } from "./backend.ts";
import { registerNativeKernels } from "./kernels.ts";

let shim: Shim | undefined;
let loadedOn: { torch: Libtorch; device: 0 | 1 } | undefined;

/** Options of {@linkcode loadNative}. */
export interface LoadOptions {
  /** Another libtorch than the one found (ASAP_LIBTORCH, Debian's, then python3's torch: build.ts). */
  readonly torch?: Libtorch;
  /** Where to say that the shim is being built (tens of seconds, once) or that the BLAS is slow. */
  readonly log?: (line: string) => void;
}

/**
 * Builds and loads the shim and registers the `native` backend (once per process). Tensors live on the
 * GPU when the libtorch has CUDA and ATen sees a device, else on the CPU. The thread count is set to every
 * core (`navigator.hardwareConcurrency`).
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
  const torch = options.torch ?? await resolveLibtorch();
  if (!torch) {
    throw new NativeUnavailableError("libtorch is not installed (apt-get install libtorch-dev g++)");
  }
  const path = await buildShim({ ...options, torch });
  await chooseOpenMpWaitPolicy();
  const blas = slowBlasWarning(torch);
  if (blas) (options.log ?? console.error)(blas);
  const loaded = new Shim(path);
  loaded.setThreads(navigator.hardwareConcurrency);
  const device = torch.cuda && loaded.cudaAvailable() ? 1 : 0;
  if (torch.cuda && device === 0) {
    (options.log ?? console.error)(
      `libtorch ${torch.version} has CUDA but ATen sees no GPU: native runs on the CPU`,
    );
  }
  registerNativeKernels();
  tf.registerBackend(NATIVE, () => new NativeBackend(loaded, device), 0);
  shim = loaded;
  loadedOn = { torch, device };
  return loaded;
}

/**
 * Chooses how OpenMP's idle threads wait at barriers, read by libgomp when the shim loads it, unless
 * `OMP_WAIT_POLICY` is already set or may not be written (`--allow-env=OMP_WAIT_POLICY`): when other
 * processes keep more than half the cores busy (or the CPU times cannot be read: `--allow-sys=cpus`)
 * they sleep (`passive`); on a quiet machine libgomp's default, a short spin before sleeping, stays.
 * Measured on the 2-core machine kind, batch norm of [32,16,16,32] at 2 threads: quiet, 0.17–0.23 ms
 * spinning against 0.42–0.70 ms passive; with one core busy elsewhere, 1.3–1.9 ms spinning against
 * 0.42 ms passive (and, under heavier load, a 3×3 depthwise conv took 21 ms spinning, 0.28 ms passive).
 */
async function chooseOpenMpWaitPolicy(): Promise<void> {
  const variable = "OMP_WAIT_POLICY";
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") {
    waitPolicy = "libgomp's default (OMP_WAIT_POLICY not writable)";
    return;
  }
  const set = Deno.env.get(variable);
  if (set !== undefined) {
    waitPolicy = `${set} (OMP_WAIT_POLICY set)`;
    return;
  }
  const busy = await busyCores(200);
  if (busy === undefined || busy > navigator.hardwareConcurrency / 2) Deno.env.set(variable, "passive");
  waitPolicy = busy === undefined
    ? "passive (CPU times unreadable: --allow-sys=cpus)"
    : `${busy > navigator.hardwareConcurrency / 2 ? "passive" : "libgomp's default"} (${
      busy.toFixed(1)
    } cores busy)`;
}

let waitPolicy: string | undefined;

/** How OpenMP's threads wait, as chosen when the native backend loaded (undefined before). */
export function openMpWaitPolicy(): string | undefined {
  return waitPolicy;
}

/** Busy and all CPU milliseconds since boot over every core, or undefined without `--allow-sys=cpus`. */
function cpuTicks(): { busy: number; all: number } | undefined {
  if (Deno.permissions.querySync({ name: "sys", kind: "cpus" }).state !== "granted") return undefined;
  let busy = 0;
  let all = 0;
  for (const { times } of cpus()) {
    const sum = times.user + times.nice + times.sys + times.idle + times.irq;
    all += sum;
    busy += sum - times.idle;
  }
  return all > 0 ? { busy, all } : undefined;
}

/**
 * How many cores other processes keep busy, measured over `ms` milliseconds while this one waits (not
 * the load average, which still counts a process that ended a minute ago); undefined where the CPU
 * times cannot be read.
 */
async function busyCores(ms: number): Promise<number | undefined> {
  const before = cpuTicks();
  if (!before) return undefined;
  await new Promise((done) => setTimeout(done, ms));
  const after = cpuTicks();
  if (!after || after.all <= before.all) return undefined;
  return (after.busy - before.busy) / (after.all - before.all) * navigator.hardwareConcurrency;
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

/**
 * Where the native backend computes, for run folders and benchmarks: `cuda` or `cpu`, the libtorch's
 * version and where it came from, and ATen's threads on the CPU; undefined before it is loaded.
 */
export function nativeDevice(): string | undefined {
  if (!loadedOn || !shim) return undefined;
  const { torch, device } = loadedOn;
  const where = device === 1 ? "cuda" : `cpu, ${shim.threads()} thread${shim.threads() === 1 ? "" : "s"}`;
  return `${where} (libtorch ${torch.version}${torch.source ? `, ${torch.source}` : ""})`;
}

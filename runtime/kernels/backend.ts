/**
 * Choosing and readying the tfjs backend the runtime computes on.
 *
 * - `auto` (the default): `native` where libtorch is installed and its shim builds, else `wasm`, with
 *   one line saying how to get the fast path.
 * - `native`: ATen (libtorch) through Deno FFI (runtime/kernels/native/): tensors in native memory,
 *   every core. Needs `libtorch-dev` and `g++` (the shim is compiled once, into `.asap-cache/`) and
 *   `--allow-ffi=.asap-cache --allow-run=g++ --allow-write=.asap-cache`.
 * - `wasm`: the portable CPU fallback (single-thread SIMD under Deno).
 * - `cpu`: pure JavaScript, about 10× slower: the reference for correctness.
 * - `webgpu`: the GPU path through Deno's `navigator.gpu`, loaded only when chosen. Only async reads
 *   work on it (`await t.data()`).
 * - `tensorflow`, `tensorflow-gpu`: the native bindings (`@tensorflow/tfjs-node(-gpu)`), loaded only
 *   when chosen; their install downloads libtensorflow, so they are often missing.
 *
 * @module
 */
import "./chained_ops.ts";
import { cpus, loadWebgpuBackend, tf, TFJS_NODE_SPECIFIERS } from "../deps.ts";
import { INSTALL_HINT, NativeUnavailableError } from "./native/build.ts";
import { loadNative as loadAten, nativeDevice } from "./native/load.ts";

/** The backends `useBackend` accepts, the default first. */
export const BACKENDS = ["auto", "native", "wasm", "webgpu", "cpu", "tensorflow", "tensorflow-gpu"] as const;

/** The name of a backend. */
export type BackendName = typeof BACKENDS[number];

/** Exit code of a backend name that does not exist (a usage error). */
const EXIT_USAGE = 2;
/** Exit code of a backend that exists but cannot run here. */
const EXIT_UNAVAILABLE = 1;

/**
 * A backend that cannot be used, with a message fit for the user and the exit code for a CLI.
 *
 * @example
 * ```ts
 * import { BackendError, type BackendName, useBackend } from "./backend.ts";
 * try {
 *   await useBackend("gpu" as BackendName); // e.g. a mistyped --backend flag
 *   throw new Error("useBackend() should refuse an unknown name");
 * } catch (error) {
 *   if (!(error instanceof BackendError) || error.exitCode !== 2) throw error;
 *   if (!error.message.includes('"wasm"')) throw new Error(`names no alternative: ${error.message}`);
 * }
 * ```
 */
export class BackendError extends Error {
  override readonly name = "BackendError";
  /**
   * @param message What went wrong and which backends to use instead.
   * @param exitCode 2 for an unknown backend name, 1 for a backend that cannot run here.
   */
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/**
 * Whether `name` is one of {@linkcode BACKENDS}.
 *
 * @param name Any string, e.g. a command-line flag.
 * @returns True when `name` names a backend.
 * @example
 * ```ts
 * import { isBackendName } from "./backend.ts";
 * if (!(isBackendName("wasm") && !isBackendName("gpu"))) throw new Error("the example's claim does not hold");
 * ```
 */
export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

/** The backends other than `name`, quoted, as a phrase ("wasm", "cpu" …) to suggest instead. */
function alternatives(name: string): string {
  const usable: readonly BackendName[] = ["wasm", "native", "webgpu", "cpu"];
  return usable.filter((b) => b !== name).map((b) => `"${b}"`).join(" or ");
}

/**
 * Sets the tfjs backend and waits until it is ready.
 *
 * @param name The backend; `auto` is the default everywhere else in asap.
 * @param log Where `auto` says, in one line, that it fell back to wasm and how to get the native
 * backend (default: stderr).
 * @returns The backend now active (for `auto`, the one it chose).
 * @throws {BackendError} When the name is unknown, or the backend cannot run here (no GPU adapter,
 * native TensorFlow not installed); the message names the alternatives.
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * ```
 */
export async function useBackend(
  name: BackendName,
  log: (line: string) => void = console.error,
): Promise<Exclude<BackendName, "auto">> {
  if (!isBackendName(name)) {
    throw new BackendError(
      `unknown backend "${String(name)}": expected one of ${BACKENDS.map((b) => `"${b}"`).join(", ")}`,
      EXIT_USAGE,
    );
  }
  if (name === "auto") {
    const reason = await tryNative();
    if (reason === undefined) return useBackend("native");
    log(`using the wasm backend: ${reason}; for the fast native backend: ${INSTALL_HINT}`);
    return useBackend("wasm");
  }
  // Both native packages register their backend as "tensorflow".
  const tfName = name === "tensorflow-gpu" ? "tensorflow" : name;
  if (name === "webgpu") await registerWebgpu();
  else if (name === "tensorflow" || name === "tensorflow-gpu") await loadNative(name);
  else if (name === "native") {
    const reason = await tryNative();
    if (reason !== undefined) {
      throw new BackendError(
        `backend "native" is not available: ${reason} (${INSTALL_HINT}); use ${alternatives(name)} instead`,
        EXIT_UNAVAILABLE,
      );
    }
  }
  if (tf.getBackend() === tfName) return name;
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend(tfName);
    await tf.ready();
  } catch (error) {
    cause = error;
  }
  if (!ok || cause !== undefined) {
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    throw new BackendError(
      `backend "${name}" failed to initialise${detail}; use ${alternatives(name)} instead`,
      EXIT_UNAVAILABLE,
    );
  }
  return name;
}

/** Loads the native (ATen) backend; returns why it cannot run here, or undefined when it is ready. */
async function tryNative(): Promise<string | undefined> {
  try {
    await loadAten({ log: (line) => console.error(line) });
    return undefined;
  } catch (error) {
    if (error instanceof NativeUnavailableError) return error.message;
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return `loading the shim needs --allow-ffi=.asap-cache (${error.message})`;
    }
    return `the native shim failed to load (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Whether the webgpu backend factory registered here (with the raised limits) is in place. */
let webgpuRegistered = false;

/**
 * Registers the webgpu backend on a device requested with `maxStorageBuffersPerShaderStage` raised to
 * the adapter's limit: with the default (8), tfjs' AddN of 8 or more inputs silently gives wrong sums.
 */
async function registerWebgpu(): Promise<void> {
  if (webgpuRegistered) return;
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (!adapter) {
    throw new BackendError(
      `backend "webgpu" has no GPU adapter here (navigator.gpu.requestAdapter() found none; on Linux ` +
        `without a GPU, installing mesa-vulkan-drivers gives a software one); use ${
          alternatives("webgpu")
        } instead`,
      EXIT_UNAVAILABLE,
    );
  }
  const limits = adapter.limits;
  const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  });
  const { WebGPUBackend } = await loadWebgpuBackend();
  // The package registered its own factory (default limits) on import: replace it with ours.
  tf.removeBackend("webgpu");
  // deno-lint-ignore no-explicit-any
  tf.registerBackend("webgpu", () => new WebGPUBackend(device as any, adapter.info as any), 1);
  const info = adapter.info;
  webgpuAdapter =
    [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(" ") ||
    "an unnamed adapter";
  // Measured under Deno 2.9 (lavapipe and llvmpipe): with tfjs' default batching of 15 programs per
  // queue submit, tensors created after a gradient computation read back wrong values (an AddN of
  // fills off by whole inputs); submitting every program gives the cpu results.
  tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", 1);
  webgpuRegistered = true;
}

/** Imports the native TensorFlow binding, turning a missing install into a clear BackendError. */
async function loadNative(name: "tensorflow" | "tensorflow-gpu"): Promise<void> {
  const specifier: string = TFJS_NODE_SPECIFIERS[name];
  try {
    await import(specifier);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0]!.trim() : String(error);
    throw new BackendError(
      `backend "${name}" is not available: ${
        specifier.replace("npm:", "")
      } could not be loaded (${reason}); ` +
        `it needs libtensorflow, which its install downloads. Use ${alternatives(name)} instead`,
      EXIT_UNAVAILABLE,
    );
  }
}

let webgpuAdapter: string | undefined;

/**
 * Where the active backend computes, in words, for run folders and benchmarks: the native backend's
 * device (`cuda`, or `cpu` with ATen's threads, and its libtorch), webgpu's adapter, or the CPU's model
 * for wasm and cpu (when `--allow-sys=cpus` lets it be read).
 *
 * @returns e.g. `native: cpu, 2 threads (libtorch 1.13.0, Debian's libtorch-dev)` or `wasm: cpu (AMD EPYC 7B13)`.
 * @example
 * ```ts
 * import { backendDevice, useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * if (!backendDevice().startsWith("cpu: cpu")) throw new Error(backendDevice());
 * ```
 */
export function backendDevice(): string {
  const name = tf.getBackend();
  if (name === "native") return `native: ${nativeDevice() ?? "not loaded"}`;
  if (name === "webgpu") return `webgpu: ${webgpuAdapter ?? "an adapter"}`;
  const model = Deno.permissions.querySync({ name: "sys", kind: "cpus" }).state === "granted"
    ? cpus()[0]?.model.trim()
    : undefined;
  return `${name}: cpu${model ? ` (${model})` : ""}`;
}

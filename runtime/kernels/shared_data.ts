/**
 * Copies that need no data: tfjs's engine saves every tensor a gradient will read by dispatching an
 * Identity kernel (`engine.clone`), once per saved input or output of every kernel run under a tape,
 * and wasm's Identity and same-dtype Cast copy their data. Tensors are immutable and every backend
 * counts references to a data buffer (Reshape shares one), so:
 *
 * - tensors saved for backpropagation share their input's buffer, without a kernel dispatch;
 * - wasm's Identity, and its Cast to the same dtype, share the buffer instead of copying it (as the
 *   cpu backend's Identity does).
 *
 * A variable's later `assign` gives it a new buffer, so a saved value is never overwritten.
 *
 * @module
 */
import { tf } from "../deps.ts";

/** The engine internals used here (tfjs-core 4.22.0, pinned in runtime/deps.ts). */
interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: unknown): tf.Tensor;
  state: { tensorInfo: { get(dataId: object): { backend: { incRef?(dataId: object): void } } | undefined } };
}

interface WasmBackend {
  incRef(dataId: object): void;
}

type KernelArgs = Parameters<tf.KernelConfig["kernelFunc"]>[0];

let installed = false;

/** The same buffer under a new tensor info: the backend counts one more reference. */
function share(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs["x"] as tf.TensorInfo;
  (args.backend as unknown as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

type KernelFunc = tf.KernelConfig["kernelFunc"];

/** Registers `kernel` for wasm in place of the stock kernel, which it may call. */
function replaceWasmKernel(
  name: string,
  kernel: (args: KernelArgs, original: KernelFunc) => ReturnType<KernelFunc>,
): void {
  const stock = tf.getKernel(name, "wasm");
  if (!stock) return;
  const original = stock.kernelFunc;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({ kernelName: name, backendName: "wasm", kernelFunc: (args) => kernel(args, original) });
}

/**
 * Makes saved tensors and wasm's Identity/same-dtype Cast share data (see the module doc). Idempotent;
 * called when the kernels are first imported.
 *
 * @example
 * ```ts
 * import { shareCopies } from "./shared_data.ts";
 * shareCopies();
 * ```
 */
export function shareCopies(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as EngineInternals;
  const clone = engine.clone.bind(engine);
  engine.clone = (x: tf.Tensor): tf.Tensor => {
    const backend = engine.state.tensorInfo.get(x.dataId)?.backend;
    if (!backend?.incRef || x.dtype === "string" || x.dtype === "complex64") return clone(x);
    backend.incRef(x.dataId);
    return engine.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, backend);
  };
  replaceWasmKernel("Identity", (args, original) => {
    const x = args.inputs["x"] as tf.TensorInfo;
    return x.dtype === "string" ? original(args) : share(args);
  });
  replaceWasmKernel("Cast", (args, original) => {
    const x = args.inputs["x"] as tf.TensorInfo;
    return x.dtype === (args.attrs as { dtype: string }).dtype ? share(args) : original(args);
  });
}

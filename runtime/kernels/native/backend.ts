/**
 * The `native` tfjs backend: tensors are handles to ATen-owned memory (no wasm heap ceiling), kernels
 * call ATen through the shim (kernels.ts), and data is copied only when JS reads it. String tensors
 * stay in JS (no kernel here takes them); complex64 is not supported.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { DTYPE_CODES, type Handle, type NativeDtype, type NativeOutput, type Shim } from "./ffi.ts";

type DataId = object;
type BackendValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** One tensor's data: a native handle (numeric dtypes) or JS values (strings). */
interface Entry {
  handle: Handle | undefined;
  values: Uint8Array[] | undefined;
  dtype: tf.DataType;
  refCount: number;
}

/** The backend's name in tfjs. */
export const NATIVE = "native";

/** A tfjs KernelBackend over the native shim. */
export class NativeBackend extends tf.KernelBackend {
  readonly data: tf.DataStorage<Entry>;
  #live = 0;

  /**
   * @param shim The loaded shim.
   * @param device 0 for the CPU, 1 for CUDA (a shim built against a CUDA libtorch).
   */
  constructor(readonly shim: Shim, readonly device = 0) {
    super();
    this.data = new tf.DataStorage(this, tf.engine());
  }

  /** The handle of a tensor's data; throws for data that has none (strings) or was disposed. */
  handle(dataId: DataId): Handle {
    const entry = this.data.get(dataId);
    if (entry?.handle === undefined) {
      throw new Error(
        `native backend: ${entry ? `a ${entry.dtype} tensor` : "a disposed tensor"} reached a kernel`,
      );
    }
    return entry.handle;
  }

  /** A TensorInfo for an op's output, owning its handle. */
  output(out: NativeOutput, dtype: tf.DataType): tf.TensorInfo {
    const dataId = {};
    this.data.set(dataId, { handle: out.handle, values: undefined, dtype, refCount: 1 });
    this.#live++;
    return { dataId, shape: out.shape, dtype };
  }

  /** A TensorInfo sharing `x`'s data under another shape (Reshape, Identity): no copy. */
  alias(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    this.incRef(x.dataId);
    return { dataId: x.dataId, shape, dtype: x.dtype };
  }

  #store(values: BackendValues | null, shape: number[], dtype: tf.DataType): Entry {
    if (dtype === "string") {
      return { handle: undefined, values: (values ?? []) as Uint8Array[], dtype, refCount: 1 };
    }
    if (!(dtype in DTYPE_CODES)) throw new Error(`native backend: dtype ${dtype} is not supported`);
    const size = shape.reduce((a, b) => a * b, 1);
    const typed = values === null
      ? emptyValues(dtype as NativeDtype, size)
      : asTyped(values, dtype as NativeDtype);
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    this.#live++;
    return {
      handle: this.shim.write(bytes, shape, dtype as NativeDtype, this.device),
      values: undefined,
      dtype,
      refCount: 1,
    };
  }

  override write(values: BackendValues | null, shape: number[], dtype: tf.DataType): DataId {
    const dataId = {};
    this.data.set(dataId, this.#store(values, shape, dtype));
    return dataId;
  }

  override move(
    dataId: DataId,
    values: BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    this.data.set(dataId, { ...this.#store(values, shape, dtype), refCount });
  }

  /** Makes a tensor (used by tfjs-core helpers). */
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: BackendValues | string[]): tf.TensorInfo {
    const encoded = dtype === "string" && values && typeof values[0] === "string"
      ? (values as string[]).map((s) => tf.util.encodeString(s))
      : values as BackendValues | undefined;
    return { dataId: this.write(encoded ?? null, shape, dtype), shape, dtype };
  }

  override refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId)!.refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.data.get(dataId)!.refCount++;
  }

  /** Decreases the reference count without freeing. */
  decRef(dataId: DataId): void {
    if (this.data.has(dataId)) this.data.get(dataId)!.refCount--;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override read(dataId: DataId): Promise<BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override readSync(dataId: DataId): BackendValues {
    const entry = this.data.get(dataId);
    if (!entry) throw new Error("native backend: reading a disposed tensor");
    if (entry.values !== undefined) return entry.values;
    const size = this.shapeSize(entry);
    const out = emptyValues(entry.dtype as NativeDtype, size);
    this.shim.read(entry.handle!, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    return out;
  }

  /** Elements of an entry's native tensor, from its byte size. */
  private shapeSize(entry: Entry): number {
    const bytesPer = entry.dtype === "bool" ? 1 : 4;
    return this.shim.nbytes(entry.handle!) / bytesPer;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const entry = this.data.get(dataId);
    if (!entry) return true;
    entry.refCount--;
    if (!force && entry.refCount > 0) return false;
    if (entry.handle !== undefined) {
      this.shim.free(entry.handle);
      this.#live--;
    }
    this.data.delete(dataId);
    return true;
  }

  /** Disposes a kernel's intermediate result. */
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void {
    this.disposeData(info.dataId);
  }

  override time(f: () => void): Promise<tf.BackendTimingInfo> {
    const start = performance.now();
    f();
    return Promise.resolve({ kernelMs: performance.now() - start });
  }

  /** tfjs' memory info, plus the native handles this backend holds and the shim's own count. */
  override memory(): { unreliable: boolean; numNativeHandles: number; numShimHandles: number } {
    return { unreliable: false, numNativeHandles: this.#live, numShimHandles: this.shim.live() };
  }

  override floatPrecision(): 16 | 32 {
    return 32;
  }

  override epsilon(): number {
    return super.epsilon();
  }

  override dispose(): void {}
}

function emptyValues(dtype: NativeDtype, size: number): Float32Array | Int32Array | Uint8Array {
  return dtype === "float32"
    ? new Float32Array(size)
    : dtype === "int32"
    ? new Int32Array(size)
    : new Uint8Array(size);
}

function asTyped(values: BackendValues, dtype: NativeDtype): Float32Array | Int32Array | Uint8Array {
  const want = dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : Uint8Array;
  if (values instanceof want) return values;
  return want.from(values as ArrayLike<number>);
}

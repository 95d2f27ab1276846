/**
 * The shim's symbols through Deno FFI, and the calling convention on top of them: arguments are
 * packed into one Float64Array passed with the call, an op runs by its code, and new handles with
 * their shapes come back in a second one. Handles are u64 numbers (no pointer API: those need
 * unscoped `--allow-ffi`). Every call is synchronous, on the JS thread (ATen's thread count and error
 * state are per thread).
 *
 * @module
 */

const SYMBOLS = {
  asap_last_error: { parameters: ["buffer", "i32"], result: "i32" },
  asap_live: { parameters: [], result: "i64" },
  asap_op_code: { parameters: ["buffer"], result: "i32" },
  asap_run: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  asap_write: { parameters: ["buffer", "i64", "i32", "i32", "buffer"], result: "u64" },
  asap_read: { parameters: ["u64", "buffer", "i64"], result: "i32" },
  asap_nbytes: { parameters: ["u64"], result: "i64" },
  asap_free: { parameters: ["u64"], result: "void" },
  asap_set_threads: { parameters: ["i32"], result: "void" },
  asap_get_threads: { parameters: [], result: "i32" },
  asap_cuda_available: { parameters: [], result: "i32" },
  asap_storage_nbytes: { parameters: ["u64"], result: "i64" },
} as const;

/** Dtype codes of the shim. */
export const DTYPE_CODES = { float32: 0, int32: 1, bool: 2 } as const;

/** A dtype the native memory holds. */
export type NativeDtype = keyof typeof DTYPE_CODES;

/** A tensor handle: the address of the shim's `at::Tensor`, exact as a double. */
export type Handle = number;

/** A tensor an op made: its handle and shape. */
export interface NativeOutput {
  readonly handle: Handle;
  readonly shape: number[];
}

/** An error raised inside the shim (an ATen exception), with ATen's message. */
export class NativeKernelError extends Error {
  override readonly name = "NativeKernelError";
}

/** The loaded shim. */
export class Shim {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  /** The argument buffer: each op reads it from index 0 (the output dtype code first). */
  readonly args: Float64Array<ArrayBuffer> = new Float64Array(4096);
  readonly #outs: Float64Array<ArrayBuffer> = new Float64Array(256);
  readonly #codes = new Map<string, number>();

  /**
   * @param path The built shim (see build.ts).
   */
  constructor(path: string) {
    this.#lib = Deno.dlopen(path, SYMBOLS);
  }

  /** The op's code; throws naming the op when the shim has none. */
  code(name: string): number {
    let code = this.#codes.get(name);
    if (code === undefined) {
      code = this.#lib.symbols.asap_op_code(new TextEncoder().encode(name + "\0"));
      if (code < 0) throw new NativeKernelError(`the native shim has no op "${name}"`);
      this.#codes.set(name, code);
    }
    return code;
  }

  /**
   * Runs an op whose arguments are already in {@linkcode args}; returns the outputs.
   *
   * @param code From {@linkcode code}.
   * @param name For the error message.
   */
  run(code: number, name: string): NativeOutput[] {
    const n = this.#lib.symbols.asap_run(code, this.args, this.#outs);
    if (n < 0) throw new NativeKernelError(`native kernel ${name} failed: ${this.lastError()}`);
    const o = this.#outs;
    const out: NativeOutput[] = new Array(n);
    for (let i = 0, at = 0; i < n; i++) {
      const handle = o[at++]!;
      const rank = o[at++]!;
      const shape: number[] = new Array(rank);
      for (let d = 0; d < rank; d++) shape[d] = o[at++]!;
      out[i] = { handle, shape };
    }
    return out;
  }

  /** A new native tensor holding `bytes` (row-major), shape from `shape`, on `device` (0 CPU, 1 CUDA). */
  write(bytes: Uint8Array, shape: readonly number[], dtype: NativeDtype, device: number): Handle {
    const a = this.args;
    a[0] = shape.length;
    for (let i = 0; i < shape.length; i++) a[1 + i] = shape[i]!;
    const h = this.#lib.symbols.asap_write(
      bytes as Uint8Array<ArrayBuffer>,
      BigInt(bytes.byteLength),
      DTYPE_CODES[dtype],
      device,
      a,
    );
    if (h === 0n) throw new NativeKernelError(`native write failed: ${this.lastError()}`);
    return Number(h);
  }

  /** Copies a tensor's bytes into `into` (exactly its size). */
  read(handle: Handle, into: Uint8Array): void {
    const ok = this.#lib.symbols.asap_read(
      BigInt(handle),
      into as Uint8Array<ArrayBuffer>,
      BigInt(into.byteLength),
    );
    if (ok < 0) throw new NativeKernelError(`native read failed: ${this.lastError()}`);
  }

  /** Bytes of a tensor's storage. */
  nbytes(handle: Handle): number {
    return Number(this.#lib.symbols.asap_nbytes(BigInt(handle)));
  }

  /** Releases a handle. */
  free(handle: Handle): void {
    this.#lib.symbols.asap_free(BigInt(handle));
  }

  /** Bytes of the storage behind a tensor: more than {@linkcode nbytes} when it is a view of a larger one. */
  storageBytes(handle: Handle): number {
    return Number(this.#lib.symbols.asap_storage_nbytes(BigInt(handle)));
  }

  /** Handles alive in the shim. */
  live(): number {
    return Number(this.#lib.symbols.asap_live());
  }

  /** Sets ATen's intra-op thread count. */
  setThreads(n: number): void {
    this.#lib.symbols.asap_set_threads(n);
  }

  /** ATen's intra-op thread count. */
  threads(): number {
    return this.#lib.symbols.asap_get_threads();
  }

  /** Whether ATen sees a CUDA device. */
  cudaAvailable(): boolean {
    return this.#lib.symbols.asap_cuda_available() === 1;
  }

  private lastError(): string {
    const buffer = new Uint8Array(4096);
    const n = this.#lib.symbols.asap_last_error(buffer, buffer.length);
    return new TextDecoder().decode(buffer.subarray(0, n)) || "unknown error";
  }
}

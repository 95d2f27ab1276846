/**
 * How a native kernel calls the shim: its arguments packed in the order the shim reads them, one op
 * run, the outputs wrapped as tfjs TensorInfos; and the registration of a kernel for `native`.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { DTYPE_CODES, type NativeDtype } from "./ffi.ts";
import { NATIVE, type NativeBackend } from "./backend.ts";

/** A tfjs tensor description. */
export type Info = tf.TensorInfo;
/** A kernel's named inputs. */
export type Inputs = Record<string, Info>;
/** A kernel's attributes. */
// deno-lint-ignore no-explicit-any
export type Attrs = Record<string, any>;

/** Packs one op's arguments into the shim's buffer, in the order the shim reads them. */
export class Pack {
  #i = 1;
  constructor(readonly backend: NativeBackend, readonly a: Float64Array, dtype: tf.DataType) {
    if (!(dtype in DTYPE_CODES)) throw new Error(`native backend: no kernel output of dtype ${dtype}`);
    a[0] = DTYPE_CODES[dtype as NativeDtype];
  }
  n(x: number): this {
    this.a[this.#i++] = x;
    return this;
  }
  list(xs: readonly number[]): this {
    this.n(xs.length);
    for (const x of xs) this.n(x);
    return this;
  }
  t(x: Info): this {
    this.n(this.backend.handle(x.dataId));
    return this.list(x.shape);
  }
  tensors(xs: readonly Info[]): this {
    this.n(xs.length);
    for (const x of xs) this.t(x);
    return this;
  }
}

/** Runs shim op `op` with arguments written by `args`; outputs are of `dtype`. */
export function run(backend: NativeBackend, op: string, dtype: tf.DataType, args: (p: Pack) => void): Info[] {
  const p = new Pack(backend, backend.shim.args, dtype);
  args(p);
  return backend.shim.run(backend.shim.code(op), op).map((o) => backend.output(o, dtype));
}

/** {@linkcode run} for an op whose outputs differ in dtype: `dtypes[i]` is output i's (the first, the op's). */
export function runTyped(
  backend: NativeBackend,
  op: string,
  dtypes: readonly tf.DataType[],
  args: (p: Pack) => void,
): Info[] {
  const p = new Pack(backend, backend.shim.args, dtypes[0]!);
  args(p);
  return backend.shim.run(backend.shim.code(op), op).map((o, i) =>
    backend.output(o, dtypes[i] ?? dtypes[0]!)
  );
}

/** {@linkcode run} for an op with one output. */
export function one(backend: NativeBackend, op: string, dtype: tf.DataType, args: (p: Pack) => void): Info {
  return run(backend, op, dtype, args)[0]!;
}

/** Registers kernel `name` for the native backend. */
export function register(
  name: string,
  f: (inputs: Inputs, backend: NativeBackend, attrs: Attrs) => Info | Info[],
): void {
  tf.registerKernel({
    kernelName: name,
    backendName: NATIVE,
    kernelFunc: ({ inputs, backend, attrs }) =>
      f(inputs as unknown as Inputs, backend as NativeBackend, (attrs ?? {}) as Attrs) as tf.TensorInfo,
  });
}

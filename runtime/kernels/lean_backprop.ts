/**
 * Backpropagation that frees memory as it goes. tfjs's `engine.gradients` keeps every tensor saved for
 * the backward pass and the gradient of every intermediate tensor until the whole backward pass ends,
 * so its peak holds the forward activations and all their gradients at once (12 GB for a DARTS
 * supernet step at batch 32, where PyTorch, which frees both as its backward pass moves on, peaks at
 * 4.8 GB). This module replaces that method with one that computes the same gradients, in the same
 * order and with the same additions, but frees
 *
 * - a node's saved tensors right after its gradient ran (tfjs frees them at the end, and no other node
 *   reads them: they are that node's own copies), unless gradients of gradients are being taped;
 * - the gradient of a node's output once that node is done (nothing reads it again), unless it is one of
 *   the gradients asked for, or the same tensor also stands for another gradient.
 *
 * Only tensors the backward pass itself created are freed; a `dy` passed in is left alone.
 *
 * It also keeps the forward pass from holding tensors whose gradient needs only their shape: tfjs saves
 * the input of every Reshape, Slice, Pad, Concat, Add, Sub, Sum, Mean, Pack and AddN for its gradient,
 * which reads no more than `shape` (tfjs-core 4.22.0's gradients/*_grad.js), and so holds, e.g., a
 * pointwise convolution's output (reshaped from the matMul's rows) until the backward pass, though
 * nothing reads its values (the batch norm after it keeps its own output). Those kernels save a
 * stand-in with the shape instead: a third of a DARTS supernet step's peak at batch 32.
 *
 * @module
 */
import { tf } from "../deps.ts";

/** A node of tfjs's tape (tfjs-core 4.22.0, pinned in runtime/deps.ts). */
interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

/** The engine internals used here. */
interface EngineInternals {
  gradients: (
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ) => { value: tf.Tensor; grads: tf.Tensor[] };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  getTensorsForGradient(
    kernelName: string,
    inputs: Record<string, tf.Tensor>,
    outputs: tf.Tensor[],
  ): tf.Tensor[];
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
}

/** Kernels whose registered gradient reads only the saved tensors' shapes (tfjs-core 4.22.0). */
const SHAPE_ONLY_GRADIENTS = new Set([
  "Reshape",
  "Slice",
  "PadV2",
  "Concat",
  "Add",
  "Sub",
  "Sum",
  "Mean",
  "Pack",
  "AddN",
]);

/** What such a gradient is given in place of a saved tensor: its shape, and nothing to free. */
class SavedShape {
  readonly rank: number;
  readonly size: number;
  constructor(readonly shape: number[], readonly dtype: tf.DataType) {
    this.rank = shape.length;
    this.size = shape.reduce((a, b) => a * b, 1);
  }
  dispose(): void {}
}

let installed = false;
/** tfjs's own `engine.gradients`, kept for {@linkcode withStockBackprop}. */
let stock: EngineInternals["gradients"] | undefined;

/**
 * The nodes on a path from one of `xs` to `y`, in tape order, each with only its inputs that depend on
 * `xs` (no gradient is computed for the others, e.g. labels or, in the α step, the weights).
 */
function nodesFromXsToY(
  tape: readonly TapeNode[],
  xs: readonly tf.Tensor[],
  y: tf.Tensor,
): TapeNode[] {
  const fromXs = new Set(xs.map((x) => x.id));
  const reached = tape.map((node) => {
    const hit = Object.values(node.inputs).some((t) => fromXs.has(t.id));
    if (hit) { for (const o of node.outputs) fromXs.add(o.id); }
    return hit;
  });
  const toY = new Set([y.id]);
  const leads = new Array<boolean>(tape.length).fill(false);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    leads[i] = true;
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  const nodes: TapeNode[] = [];
  tape.forEach((node, i) => {
    if (!reached[i] || !leads[i]) return;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromXs.has(t.id)) inputs[name] = t;
    nodes.push({ ...node, inputs });
  });
  return nodes;
}

/** Gradients by tensor id; a tensor object may stand for several ids (a gradient passed through as is). */
class GradientMap {
  readonly #byId = new Map<number, tf.Tensor>();
  readonly #holders = new Map<tf.Tensor, number>();
  /** Tensors with an id at least this were made by the backward pass: those may be freed here. */
  constructor(readonly firstOwnId: number) {}

  get(id: number): tf.Tensor | undefined {
    return this.#byId.get(id);
  }

  set(id: number, t: tf.Tensor): void {
    const old = this.#byId.get(id);
    this.#byId.set(id, t);
    this.#holders.set(t, (this.#holders.get(t) ?? 0) + 1);
    if (old) this.#release(old);
  }

  /** Forgets the gradient of `id`, freeing it when nothing else holds it. */
  drop(id: number): void {
    const t = this.#byId.get(id);
    if (!t) return;
    this.#byId.delete(id);
    this.#release(t);
  }

  /** Whether `t` stands for some gradient now. */
  holds(t: tf.Tensor): boolean {
    return this.#holders.has(t);
  }

  /** Frees `t` if the backward pass made it and no gradient holds it (a summand already added). */
  freeIfLoose(t: tf.Tensor): void {
    if (!this.#holders.has(t) && t.id >= this.firstOwnId) t.dispose();
  }

  #release(t: tf.Tensor): void {
    const n = (this.#holders.get(t) ?? 1) - 1;
    if (n > 0) {
      this.#holders.set(t, n);
      return;
    }
    this.#holders.delete(t);
    if (t.id >= this.firstOwnId) t.dispose();
  }
}

/** The next tensor id the engine hands out (a tensor made now has at least this id). */
function nextTensorId(): number {
  const probe = tf.scalar(0);
  const id = probe.id;
  probe.dispose();
  return id;
}

/**
 * Installs the freeing backward pass as the engine's `gradients` (which `tf.grads`, `tf.variableGrads`
 * and `tf.valueAndGrads` call). Idempotent; called when the kernels are first imported.
 *
 * @example
 * ```ts
 * import { freeWhileBackpropagating } from "./lean_backprop.ts";
 * import { tf } from "../deps.ts";
 * freeWhileBackpropagating();
 * await tf.setBackend("cpu");
 * const x = tf.tensor1d([1, 2, 3]);
 * const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.relu(a))))(x);
 * if (dx.dataSync().join() !== "2,4,6") throw new Error("the example's claim does not hold");
 * ```
 */
export function freeWhileBackpropagating(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as EngineInternals;
  const toSave = engine.getTensorsForGradient.bind(engine);
  engine.getTensorsForGradient = (kernelName, inputs, outputs) => {
    const tensors = toSave(kernelName, inputs, outputs);
    if (!SHAPE_ONLY_GRADIENTS.has(kernelName)) return tensors;
    return tensors.map((t) => new SavedShape([...t.shape], t.dtype) as unknown as tf.Tensor);
  };
  const save = engine.saveTensorsForBackwardMode.bind(engine);
  engine.saveTensorsForBackwardMode = (tensors) =>
    tensors.map((t) => t instanceof SavedShape ? t : save([t])[0]!);
  stock = engine.gradients.bind(engine);
  engine.gradients = (f, xs, dy, allowNoGradients = false) => {
    if (xs.length === 0) throw new Error("gradients() received an empty list of xs.");
    if (dy != null && dy.dtype !== "float32") {
      throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    }
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy("forward", f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error("The result y returned by f() must be a tensor.");
    const tape = engine.state.activeTape!;
    const nodes = nodesFromXsToY(tape, xs, y);
    if (!allowNoGradients && nodes.length === 0) {
      throw new Error(
        "Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all " +
          "operations that lead from x to y.",
      );
    }
    // Outermost (no gradient of this gradient is taped): each node's saved tensors are freed after it.
    const outermost = engine.state.gradientDepth === 0;
    return engine.tidy("backward", () => {
      const grads = new GradientMap(nextTensorId());
      const wanted = new Set(xs.map((x) => x.id));
      grads.set(y.id, dy ?? tf.ones(y.shape));
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i]!;
        if (!node.gradient) {
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        }
        const inputGradients = node.gradient(node.outputs.map((o) => grads.get(o.id) ?? null));
        for (const [name, x] of Object.entries(node.inputs)) {
          if (!(name in inputGradients)) {
            throw new Error(
              `Cannot backprop through input ${name}. Available gradients found: ${
                Object.keys(inputGradients)
              }.`,
            );
          }
          const dx = engine.tidy(() => inputGradients[name]!());
          if (dx.dtype !== "float32") {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have ` +
                `'float32' dtype, but has '${dx.dtype}'`,
            );
          }
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape ` +
                `'${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          }
          const before = grads.get(x.id);
          if (!before) {
            grads.set(x.id, dx);
            continue;
          }
          grads.set(x.id, tf.add(before, dx));
          grads.freeIfLoose(dx);
        }
        for (const o of node.outputs) if (!wanted.has(o.id)) grads.drop(o.id);
        // A saved tensor handed back as a gradient as it is stays to the end, as in tfjs.
        if (outermost) { for (const t of node.saved ?? []) if (!grads.holds(t)) t.dispose(); }
      }
      const result = xs.map((x) => grads.get(x.id)!);
      if (engine.state.gradientDepth === 0) {
        for (const node of tape) for (const t of node.saved ?? []) t.dispose();
        engine.state.activeTape = null;
      }
      return { value: y, grads: result };
    });
  };
}

/**
 * Runs `f` with tfjs's own backward pass (the reference the tests compare against), then puts the
 * freeing one back.
 *
 * @example
 * ```ts
 * import { freeWhileBackpropagating, withStockBackprop } from "./lean_backprop.ts";
 * import { tf } from "../deps.ts";
 * freeWhileBackpropagating();
 * await tf.setBackend("cpu");
 * const dx = withStockBackprop(() => tf.grad((a: tf.Tensor) => tf.sum(tf.exp(a)))(tf.zeros([2])));
 * if (dx.dataSync().join() !== "1,1") throw new Error("the example's claim does not hold");
 * ```
 */
export function withStockBackprop<T>(f: () => T): T {
  if (!stock) return f();
  const engine = tf.engine() as unknown as EngineInternals;
  const lean = engine.gradients;
  engine.gradients = stock;
  try {
    return f();
  } finally {
    engine.gradients = lean;
  }
}

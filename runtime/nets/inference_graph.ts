/**
 * A trained network as an inference graph: plain data, no tfjs, in the layout the networks compute
 * in (NHWC, filters `[k, k, Cin/groups, Cout]`). The modules of ops.ts emit their inference form
 * into a {@linkcode GraphBuilder} (batch norms with their running statistics, no drop-path), and
 * the exporters (runtime/export/) encode the graph as ONNX or as a TensorFlow.js graph model.
 *
 * The builder folds a batch norm into the convolution that feeds it (also into the two convs of a
 * factorized reduce, through their concat); a batch norm it cannot fold stays a per-channel
 * `scale_shift`. Padding is PyTorch's: `pad` pixels on every side; average pooling does not count
 * them (`count_include_pad=False`), max pooling pads with −∞.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./inference_graph.ts";
 * const g = new GraphBuilder([8, 8, 2]);
 * const conv = g.conv(g.input, { weight: new Float32Array(2 * 4).fill(1), shape: [1, 1, 2, 4], stride: 1 });
 * const y = g.batchNorm(conv, {
 *   mean: new Float32Array(4), variance: new Float32Array(4).fill(1), eps: 0, gamma: null, beta: null,
 * });
 * const graph = g.finish(g.dense(g.globalMean(y), { weight: new Float32Array(4 * 3), shape: [4, 3], bias: null }));
 * // The batch norm was folded into the conv: input, conv, global mean, dense.
 * if (graph.nodes.map((n) => n.kind).join() !== "input,conv,global_mean,dense") throw new Error("not folded");
 * ```
 *
 * @module
 */

/** A value of the graph: the index of the node that computes it. */
export type Value = number;

/** `[H, W, C]` of a feature map, or `[features]` after the global mean. */
export type ValueShape = readonly number[];

/** One node; `x` and `inputs` are earlier nodes' indices. */
export type GraphNode =
  | { readonly kind: "input" }
  | {
    readonly kind: "conv";
    readonly x: Value;
    /** `[k, k, Cin/groups, Cout]` values (HWIO). */
    readonly weight: Float32Array;
    readonly shape: readonly [number, number, number, number];
    /** `[Cout]`, or null for none. */
    readonly bias: Float32Array | null;
    readonly stride: 1 | 2;
    readonly dilation: number;
    readonly groups: number;
    /** Zero padding on each side. */
    readonly pad: number;
  }
  | { readonly kind: "relu"; readonly x: Value }
  | {
    readonly kind: "max_pool" | "avg_pool";
    readonly x: Value;
    readonly kernel: number;
    readonly stride: 1 | 2;
    readonly pad: number;
  }
  /** `x · scale + shift` per channel: an unfolded batch norm, the input standardization, zeros. */
  | {
    readonly kind: "scale_shift";
    readonly x: Value;
    readonly scale: Float32Array;
    readonly shift: Float32Array;
  }
  /** `x[:, offset::2, offset::2, :]`. */
  | { readonly kind: "subsample"; readonly x: Value; readonly offset: 0 | 1 }
  | { readonly kind: "add"; readonly inputs: readonly Value[] }
  /** Along the channels. */
  | { readonly kind: "concat"; readonly inputs: readonly Value[] }
  /** The mean over height and width: `[H, W, C]` → `[C]`. */
  | { readonly kind: "global_mean"; readonly x: Value }
  | {
    readonly kind: "dense";
    readonly x: Value;
    /** `[Cin, Cout]` values. */
    readonly weight: Float32Array;
    readonly shape: readonly [number, number];
    readonly bias: Float32Array | null;
  };

/** A finished graph: node 0 is the input, `output` the logits. */
export interface InferenceGraph {
  readonly nodes: readonly GraphNode[];
  /** The output shape of each node (without the batch dimension). */
  readonly shapes: readonly ValueShape[];
  readonly output: Value;
}

/** A graph that cannot be built: an op or a shape the exporters do not handle. */
export class GraphError extends Error {
  override readonly name = "GraphError";
}

/** Running statistics and affine parameters of a batch norm, read from its variables. */
export interface BatchNormValues {
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  readonly eps: number;
  readonly gamma: Float32Array | null;
  readonly beta: Float32Array | null;
}

/** Output size of a window op with PyTorch's padding (floor division). */
function windowSize(size: number, kernel: number, stride: number, dilation: number, pad: number): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Builds an {@linkcode InferenceGraph} node by node, checking shapes as it goes. */
export class GraphBuilder {
  readonly #nodes: GraphNode[] = [{ kind: "input" }];
  readonly #shapes: ValueShape[];
  /** How many nodes read each value. */
  readonly #uses: number[] = [0];

  /** @param inputShape `[H, W, C]` of the images. */
  constructor(inputShape: readonly [number, number, number]) {
    this.#shapes = [inputShape];
  }

  /** The input images. */
  readonly input: Value = 0;

  /**
   * The shape of a value.
   *
   * @param x The value.
   * @returns `[H, W, C]` or `[features]`.
   */
  shape(x: Value): ValueShape {
    return this.#shapes[x]!;
  }

  #map(x: Value): readonly [number, number, number] {
    const s = this.#shapes[x]!;
    if (s.length !== 3) throw new GraphError(`node ${x} is not a feature map`);
    return s as [number, number, number];
  }

  #add(node: GraphNode, shape: ValueShape, reads: readonly Value[]): Value {
    for (const r of reads) this.#uses[r]! += 1;
    this.#nodes.push(node);
    this.#shapes.push(shape);
    this.#uses.push(0);
    return this.#nodes.length - 1;
  }

  /**
   * A convolution without bias (unless given), PyTorch's symmetric zero padding.
   *
   * @param x The input.
   * @param spec The filter `[k, k, Cin/groups, Cout]`, stride, dilation (1), groups (1), padding
   *   (default `(k − 1)/2 · dilation`) and bias (none).
   * @returns The output.
   */
  conv(x: Value, spec: {
    readonly weight: Float32Array;
    readonly shape: readonly [number, number, number, number];
    readonly stride: 1 | 2;
    readonly dilation?: number;
    readonly groups?: number;
    readonly pad?: number;
    readonly bias?: Float32Array | null;
  }): Value {
    const [h, w, c] = this.#map(x);
    const [k, , cg, cOut] = spec.shape;
    const dilation = spec.dilation ?? 1;
    const groups = spec.groups ?? 1;
    const pad = spec.pad ?? ((k - 1) / 2) * dilation;
    if (cg * groups !== c) throw new GraphError(`a conv with ${groups} groups of ${cg} channels reads ${c}`);
    if (spec.weight.length !== k * k * cg * cOut) throw new GraphError("a conv's weight has the wrong size");
    const node: GraphNode = {
      kind: "conv",
      x,
      weight: spec.weight,
      shape: spec.shape,
      bias: spec.bias ?? null,
      stride: spec.stride,
      dilation,
      groups,
      pad,
    };
    const out = (size: number) => windowSize(size, k, spec.stride, dilation, pad);
    return this.#add(node, [out(h), out(w), cOut], [x]);
  }

  /** ReLU. */
  relu(x: Value): Value {
    return this.#add({ kind: "relu", x }, this.#map(x), [x]);
  }

  /**
   * Max or average pooling with padding `(k − 1)/2`: −∞ for max, not counted for average.
   *
   * @param kind `max_pool` or `avg_pool`.
   * @param x The input.
   * @param kernel Odd k.
   * @param stride 1 or 2.
   * @returns The output.
   */
  pool(kind: "max_pool" | "avg_pool", x: Value, kernel: number, stride: 1 | 2): Value {
    const [h, w, c] = this.#map(x);
    const pad = (kernel - 1) / 2;
    const out = (size: number) => windowSize(size, kernel, stride, 1, pad);
    return this.#add({ kind, x, kernel, stride, pad }, [out(h), out(w), c], [x]);
  }

  /** `x[:, offset::2, offset::2, :]`. */
  subsample(x: Value, offset: 0 | 1): Value {
    const [h, w, c] = this.#map(x);
    return this.#add(
      { kind: "subsample", x, offset },
      [Math.ceil((h - offset) / 2), Math.ceil((w - offset) / 2), c],
      [x],
    );
  }

  /** `x · scale + shift` per channel. */
  scaleShift(x: Value, scale: Float32Array, shift: Float32Array): Value {
    const shape = this.#map(x);
    if (scale.length !== shape[2] || shift.length !== shape[2]) {
      throw new GraphError(`a per-channel scale of ${scale.length} values on ${shape[2]} channels`);
    }
    return this.#add({ kind: "scale_shift", x, scale, shift }, shape, [x]);
  }

  /**
   * A batch norm in inference form: folded into the conv (or the concat of convs) that feeds it
   * when nothing else reads that conv, else a per-channel scale and shift.
   *
   * @param x The input.
   * @param bn The running statistics and affine parameters.
   * @returns The normalised value.
   */
  batchNorm(x: Value, bn: BatchNormValues): Value {
    const c = this.#map(x)[2];
    const scale = new Float32Array(c);
    const shift = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      scale[i] = (bn.gamma?.[i] ?? 1) / Math.sqrt(bn.variance[i]! + bn.eps);
      shift[i] = (bn.beta?.[i] ?? 0) - bn.mean[i]! * scale[i]!;
    }
    const node = this.#nodes[x]!;
    const foldable = (v: Value, uses: number) => this.#nodes[v]!.kind === "conv" && this.#uses[v] === uses;
    if (this.#uses[x] === 0 && foldable(x, 0)) {
      this.#fold(x, scale, shift, 0);
      return x;
    }
    if (
      this.#uses[x] === 0 && node.kind === "concat" && node.inputs.every((v) => foldable(v, 1)) &&
      new Set(node.inputs).size === node.inputs.length
    ) {
      let at = 0;
      for (const v of node.inputs) at = this.#fold(v, scale, shift, at);
      return x;
    }
    return this.scaleShift(x, scale, shift);
  }

  /** Scales the conv's output channels by `scale[at…]` and adds `shift[at…]`; returns the next offset. */
  #fold(v: Value, scale: Float32Array, shift: Float32Array, at: number): number {
    const conv = this.#nodes[v] as Extract<GraphNode, { kind: "conv" }>;
    const cOut = conv.shape[3];
    const weight = conv.weight.slice();
    for (let i = 0; i < weight.length; i++) weight[i]! *= scale[at + (i % cOut)]!;
    const bias = new Float32Array(cOut);
    for (let o = 0; o < cOut; o++) bias[o] = (conv.bias?.[o] ?? 0) * scale[at + o]! + shift[at + o]!;
    this.#nodes[v] = { ...conv, weight, bias };
    return at + cOut;
  }

  /** The sum of values of one shape. */
  add(inputs: readonly Value[]): Value {
    if (inputs.length === 1) return inputs[0]!;
    const shape = this.#map(inputs[0]!);
    for (const v of inputs) {
      if (this.#map(v).join() !== shape.join()) {
        throw new GraphError(`adding ${this.#map(v).join("×")} to ${shape.join("×")}`);
      }
    }
    return this.#add({ kind: "add", inputs }, shape, inputs);
  }

  /** Values of one spatial size concatenated along the channels. */
  concat(inputs: readonly Value[]): Value {
    if (inputs.length === 1) return inputs[0]!;
    const [h, w] = this.#map(inputs[0]!);
    let c = 0;
    for (const v of inputs) {
      const s = this.#map(v);
      if (s[0] !== h || s[1] !== w) throw new GraphError(`concatenating ${s[0]}×${s[1]} with ${h}×${w}`);
      c += s[2];
    }
    return this.#add({ kind: "concat", inputs }, [h, w, c], inputs);
  }

  /** The mean over height and width. */
  globalMean(x: Value): Value {
    return this.#add({ kind: "global_mean", x }, [this.#map(x)[2]], [x]);
  }

  /** A fully connected layer on `[features]`: weight `[Cin, Cout]`. */
  dense(
    x: Value,
    spec: {
      readonly weight: Float32Array;
      readonly shape: readonly [number, number];
      readonly bias: Float32Array | null;
    },
  ): Value {
    const s = this.#shapes[x]!;
    if (s.length !== 1 || s[0] !== spec.shape[0]) {
      throw new GraphError(`a dense layer of ${spec.shape[0]} inputs reads ${s.join("×")}`);
    }
    return this.#add({ kind: "dense", x, ...spec }, [spec.shape[1]], [x]);
  }

  /**
   * The graph with `output` as its output. Nodes that nothing reads on the way to the output are
   * left out.
   *
   * @param output The output value.
   * @returns The graph.
   */
  finish(output: Value): InferenceGraph {
    const needed = new Set<Value>([output]);
    for (let v = output; v >= 0; v--) {
      if (!needed.has(v)) continue;
      for (const r of readsOf(this.#nodes[v]!)) needed.add(r);
    }
    const order = [...needed].sort((a, b) => a - b);
    const index = new Map(order.map((v, i) => [v, i]));
    const at = (v: Value) => index.get(v)!;
    const nodes = order.map((v): GraphNode => {
      const n = this.#nodes[v]!;
      if (n.kind === "input") return n;
      if (n.kind === "add" || n.kind === "concat") return { ...n, inputs: n.inputs.map(at) };
      return { ...n, x: at(n.x) } as GraphNode;
    });
    return { nodes, shapes: order.map((v) => this.#shapes[v]!), output: at(output) };
  }
}

/**
 * The values a node reads.
 *
 * @param node The node.
 * @returns Earlier nodes' indices.
 */
export function readsOf(node: GraphNode): readonly Value[] {
  if (node.kind === "input") return [];
  if (node.kind === "add" || node.kind === "concat") return node.inputs;
  return [node.x];
}

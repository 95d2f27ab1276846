/**
 * An inference graph (runtime/nets/inference_graph.ts) as a TensorFlow.js graph model: `model.json`
 * (a TensorFlow GraphDef in JSON with its `weightsManifest`) and 4 MB weight shards, as
 * tensorflowjs_converter writes them, so that stock `tf.loadGraphModel(url)` runs it. The model
 * reads `input` `[N, H, W, C]` (NHWC) and writes `logits` `[N, classes]`.
 *
 * TensorFlow's pools pad asymmetrically ("SAME") where PyTorch pads both sides, so pools run on an
 * explicitly padded input (−FLT_MAX for max pooling: every window holds a real pixel) with VALID
 * padding; an average pool is then rescaled per output pixel by k²/(real pixels in its window).
 * Convolutions take the padding as `EXPLICIT`. tfjs runs no conv with both a stride and a dilation:
 * such a conv runs at stride 1 and every other pixel is kept. A grouped conv that is neither full
 * nor depthwise is refused.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "../nets/inference_graph.ts";
 * import { encodeTfjsGraph } from "./tfjs_graph.ts";
 * const g = new GraphBuilder([4, 4, 1]);
 * const graph = g.finish(g.globalMean(g.relu(g.input)));
 * const { modelJson, shards } = encodeTfjsGraph(graph, {});
 * if (modelJson.format !== "graph-model" || shards.length !== 1) throw new Error("not a graph model");
 * ```
 *
 * @module
 */
import { GraphError, type GraphNode, type InferenceGraph, readsOf } from "../nets/inference_graph.ts";

/** The bytes of one weight shard (tensorflowjs_converter's default). */
export const SHARD_BYTES = 4 * 1024 * 1024;
/** The float32 nearest −∞, the padding of max pooling. */
const LOWEST = -3.4028234663852886e38;

/** One node of the GraphDef, in TensorFlow's JSON form. */
interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: string[];
  readonly attr?: Record<string, unknown>;
}

/** A weight's manifest entry. */
interface WeightSpec {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: "float32" | "int32";
}

/** `model.json` of a graph model. */
export interface GraphModelJson {
  readonly format: "graph-model";
  readonly generatedBy: string;
  readonly convertedBy: string;
  readonly modelTopology: { readonly node: TfNode[]; readonly library: object; readonly versions: object };
  readonly weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  readonly userDefinedMetadata?: Record<string, unknown>;
}

/** What {@linkcode encodeTfjsGraph} returns: `model.json` and its shards by file name. */
export interface TfjsGraphFiles {
  readonly modelJson: GraphModelJson;
  readonly shards: readonly { readonly name: string; readonly bytes: Uint8Array }[];
}

const b64 = (s: string) => btoa(s);
const intList = (values: number[]) => ({ list: { i: values.map(String) } });
const FLOAT = { type: "DT_FLOAT" };
const INT = { type: "DT_INT32" };

/**
 * Encodes a graph as a TensorFlow.js graph model.
 *
 * @param graph The inference graph (NHWC).
 * @param metadata Stored as `userDefinedMetadata` (a GraphModel's `metadata`).
 * @returns `model.json` and its weight shards.
 * @throws {GraphError} For a grouped conv that is neither full nor depthwise.
 * @example
 * ```ts
 * import { GraphBuilder } from "../nets/inference_graph.ts";
 * import { encodeTfjsGraph } from "./tfjs_graph.ts";
 * // A stride-2 max pool: PyTorch's padding of 1, −FLT_MAX, then a VALID pool.
 * const g = new GraphBuilder([4, 4, 1]);
 * const { modelJson } = encodeTfjsGraph(g.finish(g.pool("max_pool", g.input, 3, 2)), {});
 * const ops = modelJson.modelTopology.node.map((n) => n.op).filter((op) => op !== "Const");
 * if (ops.join() !== "Placeholder,PadV2,MaxPool,Identity") throw new Error(ops.join());
 * ```
 */
export function encodeTfjsGraph(
  graph: InferenceGraph,
  metadata: Readonly<Record<string, unknown>>,
): TfjsGraphFiles {
  const nodes: TfNode[] = [];
  const specs: WeightSpec[] = [];
  const data: Uint8Array[] = [];
  const names = graph.nodes.map((_, i) => (i === 0 ? "input" : `n${i}`));
  let count = 0;
  const fresh = (what: string) => `${what}_${count++}`;
  const constant = (values: Float32Array | Int32Array, shape: number[]): string => {
    const name = fresh("const");
    const int = values instanceof Int32Array;
    specs.push({ name, shape, dtype: int ? "int32" : "float32" });
    data.push(new Uint8Array(values.slice().buffer));
    nodes.push({
      name,
      op: "Const",
      attr: {
        value: {
          tensor: {
            dtype: int ? "DT_INT32" : "DT_FLOAT",
            tensorShape: { dim: shape.map((s) => ({ size: String(s) })) },
          },
        },
        dtype: int ? INT : FLOAT,
      },
    });
    return name;
  };
  const op = (
    kind: string,
    input: string[],
    attr: Record<string, unknown> = {},
    name = fresh(kind),
  ): string => {
    nodes.push({ name, op: kind, input, attr });
    return name;
  };
  const pad = (x: string, p: number, value: number): string =>
    p === 0 ? x : op("PadV2", [
      x,
      constant(Int32Array.from([0, 0, p, p, p, p, 0, 0]), [4, 2]),
      constant(Float32Array.of(value), []),
    ], { T: FLOAT, Tpaddings: INT });
  const subsample = (x: string, offset: number) =>
    op("StridedSlice", [
      x,
      constant(Int32Array.from([0, offset, offset, 0]), [4]),
      constant(Int32Array.from([0, 0, 0, 0]), [4]),
      constant(Int32Array.from([1, 2, 2, 1]), [4]),
    ], {
      T: FLOAT,
      Index: INT,
      begin_mask: { i: "0" },
      end_mask: { i: "15" },
      ellipsis_mask: { i: "0" },
      new_axis_mask: { i: "0" },
      shrink_axis_mask: { i: "0" },
    });

  nodes.push({
    name: "input",
    op: "Placeholder",
    attr: {
      dtype: FLOAT,
      shape: { shape: { dim: [-1, ...graph.shapes[0]!].map((s) => ({ size: String(s) })) } },
    },
  });
  graph.nodes.forEach((n: GraphNode, i) => {
    if (n.kind === "input") return;
    const read = readsOf(n).map((v) => names[v]!);
    const x = read[0]!;
    const inShape = graph.shapes[readsOf(n)[0]!]!;
    names[i] = encodeNode(n, x, read, inShape, graph.shapes[i]!);
  });
  op("Identity", [names[graph.output]!], { T: FLOAT }, "logits");

  function encodeNode(
    n: Exclude<GraphNode, { kind: "input" }>,
    x: string,
    read: string[],
    inShape: readonly number[],
    outShape: readonly number[],
  ): string {
    switch (n.kind) {
      case "conv": {
        const [k, , cg, co] = n.shape;
        const c = inShape[2]!;
        const depthwise = n.groups > 1 && n.groups === c && cg === 1 && co === c;
        if (n.groups > 1 && !depthwise) {
          throw new GraphError(
            `a conv with ${n.groups} groups on ${c} channels cannot be exported to TensorFlow.js (tfjs runs ` +
              `full and depthwise convs only); export it as ONNX`,
          );
        }
        // A depthwise filter [k, k, 1, C] has the layout of tfjs' [k, k, C, 1].
        const filter = constant(n.weight, depthwise ? [k, k, c, 1] : [k, k, cg, co]);
        const both = n.stride > 1 && n.dilation > 1;
        const strideNow = both ? 1 : n.stride;
        let y = op(depthwise ? "DepthwiseConv2dNative" : "Conv2D", [x, filter], {
          T: FLOAT,
          strides: intList([1, strideNow, strideNow, 1]),
          dilations: intList([1, n.dilation, n.dilation, 1]),
          padding: { s: b64("EXPLICIT") },
          explicit_paddings: intList([0, 0, n.pad, n.pad, n.pad, n.pad, 0, 0]),
          data_format: { s: b64("NHWC") },
        });
        if (both) y = subsample(y, 0);
        if (n.bias) {
          y = op("BiasAdd", [y, constant(n.bias, [co])], { T: FLOAT, data_format: { s: b64("NHWC") } });
        }
        return y;
      }
      case "relu":
        return op("Relu", [x], { T: FLOAT });
      case "max_pool":
      case "avg_pool": {
        const padded = pad(x, n.pad, n.kind === "max_pool" ? LOWEST : 0);
        const pooled = op(n.kind === "max_pool" ? "MaxPool" : "AvgPool", [padded], {
          T: FLOAT,
          ksize: intList([1, n.kernel, n.kernel, 1]),
          strides: intList([1, n.stride, n.stride, 1]),
          padding: { s: b64("VALID") },
          data_format: { s: b64("NHWC") },
        });
        if (n.kind === "max_pool" || n.pad === 0) return pooled;
        const factors = windowFactors(inShape, outShape, n.kernel, n.stride, n.pad);
        return op("Mul", [pooled, constant(factors, [1, outShape[0]!, outShape[1]!, 1])], { T: FLOAT });
      }
      case "scale_shift": {
        const scaled = op("Mul", [x, constant(n.scale, [n.scale.length])], { T: FLOAT });
        return op("AddV2", [scaled, constant(n.shift, [n.shift.length])], { T: FLOAT });
      }
      case "subsample":
        return subsample(x, n.offset);
      case "add":
        return op("AddN", read, { T: FLOAT, N: { i: String(read.length) } });
      case "concat":
        return op("ConcatV2", [...read, constant(Int32Array.of(3), [])], {
          T: FLOAT,
          Tidx: INT,
          N: { i: String(read.length) },
        });
      case "global_mean":
        return op("Mean", [x, constant(Int32Array.from([1, 2]), [2])], {
          T: FLOAT,
          Tidx: INT,
          keep_dims: { b: false },
        });
      case "dense": {
        const [ci, co] = n.shape;
        const y = op("MatMul", [x, constant(n.weight, [ci, co])], {
          T: FLOAT,
          transpose_a: { b: false },
          transpose_b: { b: false },
        });
        return n.bias
          ? op("BiasAdd", [y, constant(n.bias, [co])], { T: FLOAT, data_format: { s: b64("NHWC") } })
          : y;
      }
    }
  }

  const shards = shard(data);
  return {
    modelJson: {
      format: "graph-model",
      generatedBy: "asap",
      convertedBy: "asap runtime/export/tfjs_graph.ts",
      modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: shards.map((s) => s.name), weights: specs }],
      userDefinedMetadata: { ...metadata },
    },
    shards,
  };
}

/** k² / (real pixels in each window) of an average pool with `pad` pixels on each side. */
function windowFactors(
  inShape: readonly number[],
  outShape: readonly number[],
  kernel: number,
  stride: number,
  pad: number,
): Float32Array {
  const counts = (size: number, out: number) =>
    Array.from({ length: out }, (_, i) => {
      const first = i * stride - pad;
      return Math.min(first + kernel, size) - Math.max(first, 0);
    });
  const rows = counts(inShape[0]!, outShape[0]!);
  const cols = counts(inShape[1]!, outShape[1]!);
  return Float32Array.from(rows.flatMap((r) => cols.map((c) => (kernel * kernel) / (r * c))));
}

/** The weight bytes in files of at most {@linkcode SHARD_BYTES}, named as tensorflowjs_converter names them. */
function shard(parts: readonly Uint8Array[]): { name: string; bytes: Uint8Array }[] {
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  const n = Math.max(1, Math.ceil(total / SHARD_BYTES));
  return Array.from({ length: n }, (_, i) => ({
    name: `group1-shard${i + 1}of${n}.bin`,
    bytes: all.subarray(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)),
  }));
}

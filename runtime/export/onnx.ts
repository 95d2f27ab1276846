/**
 * An inference graph (runtime/nets/inference_graph.ts) as an ONNX model, opset 13, encoded with
 * onnx-proto. The model reads `input` `[N, C, H, W]` (NCHW, as PyTorch and onnxruntime users
 * expect) and writes `logits` `[N, classes]`; the graph's NHWC filters are transposed to OIHW.
 * PyTorch's padding maps one to one: `Conv`/`MaxPool` `pads`, `AveragePool` with
 * `count_include_pad = 0`.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "../nets/inference_graph.ts";
 * import { encodeOnnx } from "./onnx.ts";
 * const g = new GraphBuilder([4, 4, 1]);
 * const graph = g.finish(g.globalMean(g.relu(g.input)));
 * const bytes = encodeOnnx(graph, { producer: "example" });
 * if (bytes.length < 50) throw new Error(`${bytes.length} bytes`);
 * ```
 *
 * @module
 */
import { onnx } from "./deps.ts";
import { type GraphNode, type InferenceGraph, readsOf } from "../nets/inference_graph.ts";

/** The opset the models declare (the default domain). */
export const ONNX_OPSET = 13;
/** ONNX IR version 7 goes with opset 13 (ONNX 1.8). */
const IR_VERSION = 7;
const FLOAT = 1;
const INT64 = 7;

/** What an ONNX model carries besides its graph. */
export interface OnnxOptions {
  /** `producer_name`. */
  readonly producer: string;
  /** `metadata_props`: string values (e.g. `asap` → the export metadata as JSON). */
  readonly metadata?: Readonly<Record<string, string>>;
}

type Initializer = { name: string; dataType: number; dims: number[]; rawData: Uint8Array };
type Attribute = { name: string; type: number; i?: number; ints?: number[] };
type NodeProto = { name: string; opType: string; input: string[]; output: string[]; attribute: Attribute[] };

const ints = (name: string, values: number[]): Attribute => ({ name, type: 7, ints: values });
const int = (name: string, value: number): Attribute => ({ name, type: 2, i: value });

function floats(name: string, values: Float32Array, dims: number[]): Initializer {
  const copy = new Float32Array(values);
  return { name, dataType: FLOAT, dims, rawData: new Uint8Array(copy.buffer) };
}

function int64s(name: string, values: number[]): Initializer {
  const data = BigInt64Array.from(values.map(BigInt));
  return { name, dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) };
}

/** `[k, k, I, O]` (HWIO) → `[O, I, k, k]` (OIHW). */
function toOihw(weight: Float32Array, [k, , ci, co]: readonly number[]): Float32Array {
  const out = new Float32Array(weight.length);
  for (let y = 0; y < k!; y++) {
    for (let x = 0; x < k!; x++) {
      for (let i = 0; i < ci!; i++) {
        for (let o = 0; o < co!; o++) {
          out[((o * ci! + i) * k! + y) * k! + x] = weight[((y * k! + x) * ci! + i) * co! + o]!;
        }
      }
    }
  }
  return out;
}

/**
 * Encodes a graph as an ONNX model.
 *
 * @param graph The inference graph (NHWC); its input becomes `input` `[N, C, H, W]`.
 * @param options The producer name and metadata.
 * @returns The model's bytes (a `.onnx` file).
 * @example
 * ```ts
 * import { GraphBuilder } from "../nets/inference_graph.ts";
 * import { onnx } from "./deps.ts";
 * import { encodeOnnx, ONNX_OPSET } from "./onnx.ts";
 * const g = new GraphBuilder([2, 2, 3]);
 * const model = onnx.ModelProto.decode(encodeOnnx(g.finish(g.relu(g.input)), { producer: "example" }));
 * if (Number(model.opsetImport[0]!.version) !== ONNX_OPSET) throw new Error("opset");
 * const op = model.graph?.node?.[0]?.opType;
 * if (op !== "Relu") throw new Error(String(op));
 * ```
 */
export function encodeOnnx(graph: InferenceGraph, options: OnnxOptions): Uint8Array {
  const names = graph.nodes.map((_, i) => (i === 0 ? "input" : i === graph.output ? "logits" : `t${i}`));
  const nodes: NodeProto[] = [];
  const initializers: Initializer[] = [];
  const node = (opType: string, input: string[], output: string, attribute: Attribute[] = []) =>
    nodes.push({ name: `${opType}_${nodes.length}`, opType, input, output: [output], attribute });
  graph.nodes.forEach((n: GraphNode, i) => {
    const out = names[i]!;
    const read = readsOf(n).map((v) => names[v]!);
    switch (n.kind) {
      case "input":
        return;
      case "conv": {
        const [k, , cg, co] = n.shape;
        initializers.push(floats(`${out}_w`, toOihw(n.weight, n.shape), [co, cg, k, k]));
        const inputs = [read[0]!, `${out}_w`];
        if (n.bias) {
          initializers.push(floats(`${out}_b`, n.bias, [co]));
          inputs.push(`${out}_b`);
        }
        return node("Conv", inputs, out, [
          ints("kernel_shape", [k, k]),
          ints("strides", [n.stride, n.stride]),
          ints("dilations", [n.dilation, n.dilation]),
          ints("pads", [n.pad, n.pad, n.pad, n.pad]),
          int("group", n.groups),
        ]);
      }
      case "relu":
        return node("Relu", read, out);
      case "max_pool":
      case "avg_pool":
        return node(n.kind === "max_pool" ? "MaxPool" : "AveragePool", read, out, [
          ints("kernel_shape", [n.kernel, n.kernel]),
          ints("strides", [n.stride, n.stride]),
          ints("pads", [n.pad, n.pad, n.pad, n.pad]),
          ...(n.kind === "avg_pool" ? [int("count_include_pad", 0)] : []),
        ]);
      case "scale_shift": {
        const c = n.scale.length;
        initializers.push(
          floats(`${out}_scale`, n.scale, [c, 1, 1]),
          floats(`${out}_shift`, n.shift, [c, 1, 1]),
        );
        node("Mul", [read[0]!, `${out}_scale`], `${out}_scaled`);
        return node("Add", [`${out}_scaled`, `${out}_shift`], out);
      }
      case "subsample": {
        const big = 2 ** 31 - 1;
        initializers.push(
          int64s(`${out}_starts`, [n.offset, n.offset]),
          int64s(`${out}_ends`, [big, big]),
          int64s(`${out}_axes`, [2, 3]),
          int64s(`${out}_steps`, [2, 2]),
        );
        return node("Slice", [read[0]!, `${out}_starts`, `${out}_ends`, `${out}_axes`, `${out}_steps`], out);
      }
      case "add":
        return node("Sum", read, out);
      case "concat":
        return node("Concat", read, out, [int("axis", 1)]);
      case "global_mean":
        node("GlobalAveragePool", read, `${out}_pooled`);
        return node("Flatten", [`${out}_pooled`], out, [int("axis", 1)]);
      case "dense": {
        const [ci, co] = n.shape;
        initializers.push(floats(`${out}_w`, n.weight, [ci, co]));
        const inputs = [read[0]!, `${out}_w`];
        if (n.bias) {
          initializers.push(floats(`${out}_b`, n.bias, [co]));
          inputs.push(`${out}_b`);
        }
        return node("Gemm", inputs, out);
      }
    }
  });
  const [h, w, c] = graph.shapes[0]!;
  const outShape = graph.shapes[graph.output]!;
  const dims = (
    values: readonly number[],
  ) => [{ dimParam: "batch" }, ...values.map((v) => ({ dimValue: v }))];
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: options.producer,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: "inference",
      node: nodes,
      initializer: initializers,
      input: [{
        name: "input",
        type: { tensorType: { elemType: FLOAT, shape: { dim: dims([c!, h!, w!]) } } },
      }],
      output: [{ name: "logits", type: { tensorType: { elemType: FLOAT, shape: { dim: dims(outShape) } } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

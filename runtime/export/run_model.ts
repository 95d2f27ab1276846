/**
 * Runs an exported model with the stock runtimes, not this library's network: onnxruntime for
 * `model.onnx` (onnxruntime-node where the process may load native addons, i.e. has --allow-ffi, else
 * onnxruntime-web's WebAssembly build, single-threaded: 4.7 s for DARTS_V2 at batch 32 on
 * 2 cores where onnxruntime-node takes 2.1 s), TensorFlow.js's own
 * graph-model loader (tfjs-converter) on the current tfjs backend for `model.json`. Images go
 * in as NHWC values in [0, 1] (the ONNX model gets them transposed to NCHW); logits come out.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { type GraphModel, loadGraphModel, loadOnnxRuntimeNode, loadOnnxRuntimeWeb } from "./deps.ts";
import { type ExportedModel, readExport } from "./model_files.ts";

/** Which onnxruntime runs an ONNX model: `auto` is `node` when --allow-ffi is granted, else `web`. */
export type OnnxRuntimeName = "auto" | "node" | "web";

/** An exported model, ready to run. */
export interface Runner {
  readonly model: ExportedModel;
  /** What runs it: `onnxruntime-node`, `onnxruntime-web` or `tfjs`. */
  readonly runtime: "onnxruntime-node" | "onnxruntime-web" | "tfjs";
  /**
   * The logits of a batch.
   *
   * @param images N images, NHWC, values in [0, 1].
   * @param n N.
   * @returns `N × classes` logits, row by row.
   */
  logits(images: Float32Array, n: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** NHWC → NCHW. */
function toNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let i = 0; i < w; i++) {
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + i] = x[((b * h + y) * w + i) * c + k]!;
      }
    }
  }
  return out;
}

/**
 * Loads an exported model (a `.onnx` file, a `model.json`, or the folder of either).
 *
 * @param path The file or folder.
 * @param onnxRuntime Which onnxruntime runs an ONNX model (default `auto`).
 * @returns A runner; dispose it when done.
 * @throws {ExportFileError} When no exported model is there.
 * @example
 * ```ts
 * import { GraphBuilder } from "../nets/inference_graph.ts";
 * import { type ExportMetadata, writeExport } from "./model_files.ts";
 * import { loadRunner } from "./run_model.ts";
 * // logits = (mean pixel, −mean pixel), run by onnxruntime.
 * const g = new GraphBuilder([4, 4, 1]);
 * const graph = g.finish(g.dense(g.globalMean(g.input), { weight: Float32Array.of(1, -1), shape: [1, 2], bias: null }));
 * const metadata: ExportMetadata = {
 *   format: "asap-export", version: 1, space: "demo", spaceHash: "", genotype: [],
 *   input: {
 *     layout: "NCHW", height: 4, width: 4, channels: 1, range: [0, 1],
 *     standardization: { mean: [0], std: [1], inModel: true },
 *   },
 *   output: { name: "logits", classes: 2 }, classNames: ["no", "yes"],
 *   source: { run: "", testAccuracy: null, parameters: 2 }, exported: "",
 * };
 * const dir = await Deno.makeTempDir();
 * await writeExport(dir, "onnx", graph, metadata);
 * const runner = await loadRunner(dir, "web");
 * const logits = await runner.logits(new Float32Array(16).fill(0.5), 1);
 * await runner.dispose();
 * await Deno.remove(dir, { recursive: true });
 * if (Math.abs(logits[0]! - 0.5) > 1e-6 || Math.abs(logits[1]! + 0.5) > 1e-6) throw new Error(String(logits));
 * ```
 */
export async function loadRunner(path: string, onnxRuntime: OnnxRuntimeName = "auto"): Promise<Runner> {
  const model = await readExport(path);
  const { height: h, width: w, channels: c } = model.metadata.input;
  const classes = model.metadata.output.classes;
  if (model.format === "onnx") {
    const native = onnxRuntime === "node" ||
      (onnxRuntime === "auto" && (await Deno.permissions.query({ name: "ffi" })).state === "granted");
    const ort = native ? await loadOnnxRuntimeNode() : await loadOnnxRuntimeWeb();
    if (!native) (ort as typeof ort & { env: { wasm: { numThreads: number } } }).env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(await Deno.readFile(model.file));
    return {
      model,
      runtime: native ? "onnxruntime-node" : "onnxruntime-web",
      async logits(images, n) {
        const input = new ort.Tensor("float32", toNchw(images, n, h, w, c), [n, c, h, w]);
        const out = await session.run({ input });
        const logits = out.logits!;
        const values = Float32Array.from(logits.data as Float32Array);
        if (values.length !== n * classes) {
          throw new Error(`the model gave ${values.length} logits for ${n} images`);
        }
        return values;
      },
      dispose: () => session.release(),
    };
  }
  const graph: GraphModel = await loadGraphModel(filesHandler(model.file));
  return {
    model,
    runtime: "tfjs",
    async logits(images, n) {
      const out = tf.tidy(() => graph.predict(tf.tensor4d(images, [n, h, w, c])) as tf.Tensor);
      const values = (await out.data()) as Float32Array;
      out.dispose();
      return Float32Array.from(values);
    },
    dispose: () => Promise.resolve(graph.dispose()),
  };
}

/** A tfjs IO handler that reads `model.json` and its shards from disk (tfjs' own loaders fetch URLs). */
function filesHandler(file: string): tf.io.IOHandler {
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
  return {
    async load() {
      const json = JSON.parse(await Deno.readTextFile(file));
      const group = json.weightsManifest as tf.io.WeightsManifestConfig;
      const parts: Uint8Array[] = [];
      for (const g of group) for (const p of g.paths) parts.push(await Deno.readFile(`${dir}/${p}`));
      const data = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.byteLength;
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: group.flatMap((g) => g.weights),
        weightData: data.buffer,
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

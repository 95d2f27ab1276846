/**
 * An exported model on disk and back: `model.onnx` (one self-contained file), or `model.json` with
 * its weight shards (a TensorFlow.js graph model); each carries the export's
 * {@linkcode ExportMetadata} (ONNX `metadata_props["asap"]`, tfjs `userDefinedMetadata.asap`).
 * Files are written atomically, the shards before `model.json`.
 *
 * @module
 */
import { writeFileAtomic } from "../core/atomic.ts";
import type { InferenceGraph } from "../nets/inference_graph.ts";
import { onnx } from "./deps.ts";
import { encodeOnnx } from "./onnx.ts";
import { encodeTfjsGraph, type GraphModelJson } from "./tfjs_graph.ts";

/** The formats `export` writes. */
export const EXPORT_FORMATS = ["onnx", "tfjs"] as const;
export type ExportFormat = typeof EXPORT_FORMATS[number];

/** The file name of each format's model. */
export const MODEL_FILE: Readonly<Record<ExportFormat, string>> = { onnx: "model.onnx", tfjs: "model.json" };

/** What an exported model says about itself. */
export interface ExportMetadata {
  readonly format: "asap-export";
  readonly version: 1;
  /** The space's name. */
  readonly space: string;
  /** SHA-256 of the space's text (genotype.json's `spaceHash`). */
  readonly spaceHash: string;
  /** The derived cells (genotype.json's `cells`). */
  readonly genotype: unknown;
  /** How to feed the model. */
  readonly input: {
    /** `NCHW` for ONNX, `NHWC` for tfjs. */
    readonly layout: "NCHW" | "NHWC";
    /** Height, width, channels. */
    readonly height: number;
    readonly width: number;
    readonly channels: number;
    /** Pixel values the model expects: 0 (black) to 1 (white), i.e. 8-bit values ÷ 255. */
    readonly range: readonly [0, 1];
    /**
     * The training set's per-channel mean and std; the model subtracts and divides them itself
     * (its first op), so callers pass plain [0, 1] pixels.
     */
    readonly standardization: {
      readonly mean: readonly number[];
      readonly std: readonly number[];
      readonly inModel: true;
    };
  };
  /** The output: `[N, classes]` logits (softmax gives the probabilities). */
  readonly output: { readonly name: "logits"; readonly classes: number };
  /** Class names, index = logit index. */
  readonly classNames: readonly string[];
  /** The evaluate run folder it came from, its test accuracy and parameter count. */
  readonly source: {
    readonly run: string;
    readonly testAccuracy: number | null;
    readonly parameters: number;
  };
  readonly exported: string;
}

/** The key of the metadata in both formats. */
const KEY = "asap";

/**
 * Writes a graph as `format` into `dir` (created when missing).
 *
 * @param dir The output folder.
 * @param format `onnx` or `tfjs`.
 * @param graph The inference graph.
 * @param metadata Embedded in the model.
 * @returns The paths written (model file first) and their total size in bytes.
 * @example
 * ```ts
 * import { GraphBuilder } from "../nets/inference_graph.ts";
 * import { type ExportMetadata, readExport, writeExport } from "./model_files.ts";
 * const g = new GraphBuilder([4, 4, 1]);
 * const graph = g.finish(g.dense(g.globalMean(g.input), { weight: Float32Array.of(1, -1), shape: [1, 2], bias: null }));
 * const metadata: ExportMetadata = {
 *   format: "asap-export", version: 1, space: "demo", spaceHash: "", genotype: [],
 *   input: {
 *     layout: "NHWC", height: 4, width: 4, channels: 1, range: [0, 1],
 *     standardization: { mean: [0], std: [1], inModel: true },
 *   },
 *   output: { name: "logits", classes: 2 }, classNames: ["no", "yes"],
 *   source: { run: "", testAccuracy: null, parameters: 2 }, exported: "",
 * };
 * const dir = await Deno.makeTempDir();
 * const { files } = await writeExport(dir, "tfjs", graph, metadata);
 * const back = await readExport(dir);
 * if (back.format !== "tfjs" || back.metadata.classNames[1] !== "yes" || files.length !== 2) throw new Error("lost");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeExport(
  dir: string,
  format: ExportFormat,
  graph: InferenceGraph,
  metadata: ExportMetadata,
): Promise<{ files: string[]; bytes: number }> {
  await Deno.mkdir(dir, { recursive: true });
  const path = (name: string) => `${dir.replace(/\/+$/, "")}/${name}`;
  if (format === "onnx") {
    const bytes = encodeOnnx(graph, { producer: "asap", metadata: { [KEY]: JSON.stringify(metadata) } });
    await writeFileAtomic(path(MODEL_FILE.onnx), bytes);
    return { files: [path(MODEL_FILE.onnx)], bytes: bytes.byteLength };
  }
  const { modelJson, shards } = encodeTfjsGraph(graph, { [KEY]: metadata });
  for (const s of shards) await writeFileAtomic(path(s.name), s.bytes);
  const text = JSON.stringify(modelJson);
  await writeFileAtomic(path(MODEL_FILE.tfjs), text);
  return {
    files: [path(MODEL_FILE.tfjs), ...shards.map((s) => path(s.name))],
    bytes: new TextEncoder().encode(text).byteLength + shards.reduce((s, x) => s + x.bytes.byteLength, 0),
  };
}

/** An exported model that cannot be read: the message names the file. */
export class ExportFileError extends Error {
  override readonly name = "ExportFileError";
}

/** An exported model found on disk: its format, file and metadata. */
export interface ExportedModel {
  readonly format: ExportFormat;
  /** `model.onnx` or `model.json`. */
  readonly file: string;
  readonly metadata: ExportMetadata;
}

/**
 * Finds and reads an exported model: a `.onnx` file, a `model.json`, or a folder holding one of
 * them (`model.onnx` first).
 *
 * @param path The file or folder.
 * @returns Its format, file and metadata.
 * @throws {ExportFileError} When no model is there, or it carries no asap metadata.
 * @example
 * ```ts
 * import { ExportFileError, readExport } from "./model_files.ts";
 * const dir = await Deno.makeTempDir();
 * await readExport(dir).then(
 *   () => Promise.reject(new Error("an empty folder holds no model")),
 *   (error) => { if (!(error instanceof ExportFileError)) throw error; },
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readExport(path: string): Promise<ExportedModel> {
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) {
      const dir = path.replace(/\/+$/, "");
      file = "";
      for (const name of [MODEL_FILE.onnx, MODEL_FILE.tfjs]) {
        try {
          await Deno.stat(`${dir}/${name}`);
          file = `${dir}/${name}`;
          break;
        } catch {
          // not this one
        }
      }
      if (!file) {
        throw new ExportFileError(
          `"${path}" holds no exported model (${MODEL_FILE.onnx} or ${MODEL_FILE.tfjs}): export one with ` +
            `deno task export <evaluate run folder> --format onnx|tfjs`,
        );
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new ExportFileError(`"${path}" does not exist`);
    throw error;
  }
  const format: ExportFormat = file.endsWith(".onnx") ? "onnx" : "tfjs";
  let raw: string | undefined;
  if (format === "onnx") {
    let model;
    try {
      model = onnx.ModelProto.decode(await Deno.readFile(file));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new ExportFileError(`"${file}" does not exist`);
      throw new ExportFileError(`"${file}" is not an ONNX model`);
    }
    raw = model.metadataProps.find((p) => p.key === KEY)?.value ?? undefined;
  } else {
    let json: GraphModelJson;
    try {
      json = JSON.parse(await Deno.readTextFile(file));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new ExportFileError(`"${file}" does not exist`);
      throw new ExportFileError(`"${file}" is not JSON`);
    }
    const meta = json.userDefinedMetadata?.[KEY];
    raw = meta === undefined ? undefined : JSON.stringify(meta);
  }
  const metadata = raw === undefined ? null : JSON.parse(raw) as ExportMetadata;
  if (metadata?.format !== "asap-export") {
    throw new ExportFileError(`"${file}" was not exported by asap: it has no "${KEY}" metadata`);
  }
  return { format, file, metadata };
}

/**
 * `deno task export <evaluate run folder> --format onnx|tfjs [--out DIR]`: the trained evaluation
 * network as an inference graph (no auxiliary head, no drop-path, batch norms folded into their
 * convs, the training set's standardization as its first op) in a file stock runtimes load:
 * `model.onnx` (onnxruntime, PyTorch users) or `model.json` + shards (TensorFlow.js'
 * `tf.loadGraphModel`). The metadata inside states the input, class names, genotype and space hash.
 * Exit codes: 0 written, 1 failure (the message says what is missing or cannot be exported), 2 usage.
 *
 * @module
 */
import { useBackend } from "../kernels/backend.ts";
import { GraphError } from "../nets/inference_graph.ts";
import { readEvaluateRun, RunReadError } from "../export/from_run.ts";
import {
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportMetadata,
  writeExport,
} from "../export/model_files.ts";
import {
  type CliIo,
  defaultIo,
  ensureWritable,
  EXIT_OK,
  Failure,
  parseFlags,
  reportError,
  UsageError,
} from "./_common.ts";

export const USAGE = `usage: deno task export <evaluate run folder> --format onnx|tfjs [--out DIR]

Writes the trained evaluation network of an evaluate run folder as a model that stock runtimes
load: ONNX (model.onnx, opset 13, input [N, C, H, W]) for onnxruntime and PyTorch users, or a
TensorFlow.js graph model (model.json + weight shards, input [N, H, W, C]) for tf.loadGraphModel.
The model takes pixel values in [0, 1] (it standardizes them itself) and returns the logits; its
metadata states the input, the class names, the genotype and the space's hash.

options:
  --format onnx|tfjs   the file format (required)
  --out DIR            output folder (default: <run folder>/export-<format>)
  -h, --help           show this help`;

const count = (n: number) => n.toLocaleString("en-US");

/**
 * Runs the `export` command.
 *
 * @param args The command-line arguments (without the command name).
 * @param io Where to write (default: stdout and stderr).
 * @returns The exit code: 0 written, 1 failure, 2 usage error.
 * @example
 * ```ts
 * import { main } from "./export.ts";
 * const errors: string[] = [];
 * const io = { out: { write: () => {}, isTerminal: false }, err: (t: string) => void errors.push(t) };
 * const code = await main(["runs/nothing-here", "--format", "svg"], io);
 * if (code !== 2 || !errors[0]!.includes('unknown format "svg"')) throw new Error(errors.join(""));
 * ```
 */
export async function main(args: string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    const parsed = parseFlags(args, ["format", "out"], []);
    if (parsed.booleans.help) {
      io.out.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    const format = parsed.strings.format;
    if (format === undefined) throw new UsageError("--format is required: onnx or tfjs");
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`unknown format "${format}": expected one of ${EXPORT_FORMATS.join(", ")}`);
    }
    if (parsed.positionals.length !== 1) {
      throw new UsageError(`expected one evaluate run folder, got ${parsed.positionals.length}`);
    }
    return await exportRun(parsed.positionals[0]!, format as ExportFormat, parsed.strings.out, io);
  } catch (error) {
    if (error instanceof RunReadError || error instanceof GraphError) {
      return reportError(new Failure(error.message), io, WORDS);
    }
    return reportError(error, io, WORDS);
  }
}

const WORDS = {
  usage: USAGE,
  outOfMemory: "export a smaller network",
  unexpected: "the export failed unexpectedly",
};

async function exportRun(
  dir: string,
  format: ExportFormat,
  out: string | undefined,
  io: CliIo,
): Promise<number> {
  const say = (text: string) => io.out.write(`${text}\n`);
  // Building the graph reads the weights only: stock wasm is enough.
  await useBackend("wasm", () => {});
  const started = performance.now();
  const target = out ?? `${dir.replace(/\/+$/, "")}/export-${format}`;
  await ensureWritable(target, {
    script: new URL(import.meta.url),
    args: [dir, "--format", format, ...(out ? ["--out", out] : [])],
  });
  const run = await readEvaluateRun(dir);
  try {
    const [height, width, channels] = run.inputShape;
    const graph = run.net.inferenceGraph(run.inputShape, run.standardize);
    const metadata: ExportMetadata = {
      format: "asap-export",
      version: 1,
      space: run.genotype.space.name,
      spaceHash: run.genotype.spaceHash,
      genotype: run.genotype.cells,
      input: {
        layout: format === "onnx" ? "NCHW" : "NHWC",
        height,
        width,
        channels,
        range: [0, 1],
        standardization: { mean: run.standardize.mean, std: run.standardize.std, inModel: true },
      },
      output: { name: "logits", classes: run.classNames.length },
      classNames: run.classNames,
      source: { run: run.dir, testAccuracy: run.testAccuracy, parameters: run.net.parameterCount() },
      exported: new Date().toISOString(),
    };
    const written = await writeExport(target, format, graph, metadata);
    const seconds = (performance.now() - started) / 1000;
    say(
      `exported "${metadata.space}" (${
        count(metadata.source.parameters)
      } parameters, ${graph.nodes.length} ` +
        `graph nodes) as ${format === "onnx" ? "ONNX" : "a TensorFlow.js graph model"} in ${
          seconds.toFixed(1)
        } s`,
    );
    say(
      `input ${
        format === "onnx" ? `[N, ${channels}, ${height}, ${width}]` : `[N, ${height}, ${width}, ${channels}]`
      }, ` +
        `pixels in [0, 1]; output logits of ${run.classNames.length} classes (${run.classNames.join(", ")})`,
    );
    say(`files (${count(written.bytes)} bytes): ${written.files.join(", ")}`);
    return EXIT_OK;
  } finally {
    run.net.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * `deno task predict <model or run folder> <image.png | folder | --data NAME> [--top K]`: classifies
 * images with an exported model, run by the stock runtimes (onnxruntime-node for `model.onnx`, stock
 * TensorFlow.js for `model.json`), not by the training network. Prints the class and probability of
 * each image (the top K with `--top K`), and the accuracy when the images are labelled: a `--data`
 * test split, or a folder of `<class>/` subfolders named as the model's classes. An image that does
 * not decode is named on stderr and the others are still classified (exit code 1 then).
 *
 * @module
 */
import { useBackend } from "../kernels/backend.ts";
import { DataError } from "../data/datasets.ts";
import { decodeImage, imageToInput } from "../data/image_decode.ts";
import { classNamesOf, dataSourceOf, describeSource, loadSource } from "../data/sources.ts";
import { ExportFileError, MODEL_FILE } from "../export/model_files.ts";
import { loadRunner, type Runner } from "../export/run_model.ts";
import {
  type CliIo,
  defaultIo,
  EXIT_FAILURE,
  EXIT_OK,
  Failure,
  integer,
  parseFlags,
  reportError,
  UsageError,
} from "./_common.ts";

export const USAGE =
  `usage: deno task predict <model or run folder> <image.png | folder | --data NAME> [--top K]

Classifies images with a model written by deno task export, run by onnxruntime (model.onnx) or
stock TensorFlow.js (model.json). The model is a .onnx file, a model.json, their folder, or an
evaluate run folder holding export-onnx/ or export-tfjs/.

images:
  image.png|.jpg       one PNG or JPEG image (resized to the model's input)
  folder               its PNG and JPEG images; when its subfolders are named as the model's
                       classes, the images in them are labelled by them and the accuracy printed
  --data NAME|DIR      the test split of digits, cluttered-digits, a CIFAR-10 folder or an image
                       folder (test/<class>/…): the accuracy only

options:
  --top K              print the K most probable classes of each image (default 1)
  -h, --help           show this help`;

const IMAGE_ENDINGS = [".png", ".jpg", ".jpeg"];
/** Images per call of the runtime. */
const BATCH = 64;

/** Images to classify, NHWC in [0, 1], with their names and labels (−1 when unknown). */
interface Inputs {
  readonly names: string[];
  readonly images: Float32Array;
  readonly labels: Int32Array;
  /** Files that did not decode, one message each. */
  readonly failures: string[];
  /** The words of the summary line (e.g. "the test split of the embedded digits"). */
  readonly what: string;
  /** Whether each image is printed (not for a whole test split). */
  readonly perImage: boolean;
}

/**
 * Runs the `predict` command.
 *
 * @param args The command-line arguments (without the command name).
 * @param io Where to write (default: stdout and stderr).
 * @returns The exit code: 0 done, 1 failure (or an image that did not decode), 2 usage error.
 * @example
 * ```ts
 * import { main } from "./predict.ts";
 * const errors: string[] = [];
 * const io = { out: { write: () => {}, isTerminal: false }, err: (t: string) => void errors.push(t) };
 * const code = await main(["model.onnx"], io);
 * if (code !== 2 || !errors[0]!.includes("expected images")) throw new Error(errors.join(""));
 * ```
 */
export async function main(args: string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    const parsed = parseFlags(args, ["data", "top"], []);
    if (parsed.booleans.help) {
      io.out.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    const [model, images, ...rest] = parsed.positionals;
    if (model === undefined) throw new UsageError("expected a model or run folder");
    if (rest.length > 0) throw new UsageError(`expected one image, folder or --data, got ${rest.length + 1}`);
    const data = parsed.strings.data;
    if ((images === undefined) === (data === undefined)) {
      throw new UsageError(
        images === undefined
          ? "expected images: an image file, a folder or --data NAME"
          : "give an image or folder, or --data, not both",
      );
    }
    const top = integer("top", parsed.strings.top, 1) ?? 1;
    return await predict(model, images, data, top, io);
  } catch (error) {
    if (error instanceof ExportFileError) return reportError(new Failure(error.message), io, WORDS);
    return reportError(error, io, WORDS);
  }
}

const WORDS = {
  usage: USAGE,
  outOfMemory: "classify fewer images at once",
  unexpected: "the prediction failed unexpectedly",
};

/** The model file or folder: an evaluate run folder's export, else the path itself. */
async function modelPath(path: string): Promise<string> {
  const root = path.replace(/\/+$/, "");
  const isFile = async (p: string) => (await Deno.stat(p).catch(() => null))?.isFile === true;
  if (!(await isFile(`${root}/eval.json`))) return path;
  for (const format of ["onnx", "tfjs"] as const) {
    const file = `${root}/export-${format}/${MODEL_FILE[format]}`;
    if (await isFile(file)) return file;
  }
  throw new Failure(
    `the evaluate run folder "${path}" has no exported model (export-onnx/ or export-tfjs/): ` +
      `export it first with deno task export ${path} --format onnx`,
  );
}

async function predict(
  path: string,
  images: string | undefined,
  data: string | undefined,
  top: number,
  io: CliIo,
): Promise<number> {
  const say = (text: string) => io.out.write(`${text}\n`);
  const file = await modelPath(path);
  // The tfjs model runs on stock tfjs' wasm backend; onnxruntime needs none.
  if (!file.endsWith(".onnx")) await useBackend("wasm", () => {});
  const runner = await loadRunner(file);
  try {
    const meta = runner.model.metadata;
    const inputs = data !== undefined ? await fromData(data, runner) : await fromFiles(images!, runner);
    for (const failure of inputs.failures) io.err(`error: ${failure}\n`);
    const n = inputs.names.length;
    if (n === 0) throw new Failure(`no image to classify in "${images ?? data}"`);
    const { height: h, width: w, channels: c } = meta.input;
    const classes = meta.output.classes;
    const k = Math.min(top, classes);
    let correct = 0;
    let correctTop = 0;
    let labelled = 0;
    for (let from = 0; from < n; from += BATCH) {
      const m = Math.min(BATCH, n - from);
      const logits = await runner.logits(inputs.images.subarray(from * h * w * c, (from + m) * h * w * c), m);
      for (let i = 0; i < m; i++) {
        const probabilities = softmax(logits.subarray(i * classes, (i + 1) * classes));
        const ranked = [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!).slice(
          0,
          k,
        );
        const label = inputs.labels[from + i]!;
        if (label >= 0) {
          labelled++;
          if (ranked[0] === label) correct++;
          if (ranked.includes(label)) correctTop++;
        }
        if (inputs.perImage) {
          const guesses = ranked.map((r) => `${meta.classNames[r]} ${(100 * probabilities[r]!).toFixed(1)}%`);
          const truth = label >= 0
            ? `  (label ${meta.classNames[label]}${ranked[0] === label ? "" : ", wrong"})`
            : "";
          say(`${inputs.names[from + i]}: ${guesses.join(", ")}${truth}`);
        }
      }
    }
    if (labelled > 0) {
      const pct = (x: number) => `${((100 * x) / labelled).toFixed(2)}%`;
      say(
        `accuracy ${pct(correct)} (${correct}/${labelled}) on ${inputs.what}` +
          (k > 1 ? `; top-${k} accuracy ${pct(correctTop)}` : "") +
          ` (${runner.runtime === "tfjs" ? "TensorFlow.js" : runner.runtime}, ${runner.model.file})`,
      );
    }
    return inputs.failures.length > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await runner.dispose();
  }
}

function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const e = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/** A `--data` test split; it must have the model's input shape and class names. */
async function fromData(name: string, runner: Runner): Promise<Inputs> {
  const meta = runner.model.metadata;
  const source = dataSourceOf(name, undefined);
  const test = await loadSource(source, "test");
  const { height, width, channels } = meta.input;
  if (test.height !== height || test.width !== width || test.channels !== channels) {
    throw new Failure(
      `${describeSource(source)} are ${test.height}×${test.width}×${test.channels} images; the model reads ` +
        `${height}×${width}×${channels}`,
    );
  }
  const names = classNamesOf(source);
  if (names.join("\n") !== meta.classNames.join("\n")) {
    throw new Failure(
      `${describeSource(source)} have the classes ${names.join(", ")}; the model's are ${
        meta.classNames.join(", ")
      }`,
    );
  }
  return {
    names: Array.from(test.labels, (_, i) => `#${i}`),
    images: test.images,
    labels: Int32Array.from(test.labels),
    failures: [],
    what: `the test split of ${describeSource(source)}`,
    perImage: false,
  };
}

/** One image file, or a folder of images (labelled by `<class>/` subfolders named as the model's classes). */
async function fromFiles(path: string, runner: Runner): Promise<Inputs> {
  const meta = runner.model.metadata;
  const stat = await Deno.stat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) throw new Failure(`"${path}" does not exist`);
    throw error;
  });
  const found: { path: string; label: number }[] = [];
  if (stat.isDirectory) {
    const root = path.replace(/\/+$/, "");
    for (const entry of await sortedEntries(root)) {
      const label = meta.classNames.indexOf(entry.name);
      if (entry.isDirectory && label >= 0) {
        for (const f of await sortedEntries(`${root}/${entry.name}`)) {
          if (f.isFile && isImage(f.name)) found.push({ path: `${root}/${entry.name}/${f.name}`, label });
        }
      } else if (entry.isFile && isImage(entry.name)) {
        found.push({ path: `${root}/${entry.name}`, label: -1 });
      }
    }
    if (found.length === 0) {
      throw new Failure(
        `"${path}" has no PNG or JPEG images (directly, or in subfolders named as the model's classes: ` +
          `${meta.classNames.join(", ")})`,
      );
    }
  } else found.push({ path, label: -1 });
  const { height, width, channels } = meta.input;
  if (height !== width || (channels !== 1 && channels !== 3)) {
    throw new Failure(
      `the model reads ${height}×${width}×${channels} images; predict resizes to square grey or RGB`,
    );
  }
  const stride = height * width * channels;
  const ok: { path: string; label: number; pixels: Float32Array }[] = [];
  const failures: string[] = [];
  for (const f of found) {
    try {
      const image = decodeImage(await Deno.readFile(f.path), f.path);
      ok.push({ ...f, pixels: imageToInput(image, height, channels) });
    } catch (error) {
      if (error instanceof DataError) failures.push(error.message);
      else if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
        failures.push(`"${f.path}" cannot be read (${error.name})`);
      } else throw error;
    }
  }
  const images = new Float32Array(ok.length * stride);
  ok.forEach((o, i) => images.set(o.pixels, i * stride));
  return {
    names: ok.map((o) => o.path),
    images,
    labels: Int32Array.from(ok, (o) => o.label),
    failures,
    what: `${ok.filter((o) => o.label >= 0).length} labelled images in "${path}"`,
    perImage: true,
  };
}

function isImage(name: string): boolean {
  const lower = name.toLowerCase();
  return !name.startsWith(".") && IMAGE_ENDINGS.some((e) => lower.endsWith(e));
}

async function sortedEntries(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

if (import.meta.main) Deno.exit(await main(Deno.args));

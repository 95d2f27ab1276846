/**
 * Where a run's images come from, as the plain data `run.json` and `eval.json` keep: the `--data`
 * flag read into a {@linkcode DataSource}, and a source loaded into its train and test splits.
 *
 * `--data` takes a name of a task or a folder: `digits` (the default: the embedded MNIST digits),
 * `cluttered-digits` (the same digits with fragments of other digits over them, see clutter.ts),
 * `fashion-mnist` (Debian's `dataset-fashion-mnist`, see idx.ts), or any other value, read as a
 * folder (a folder named like a task is given as `./cluttered-digits`): an image folder when it has
 * `train/` (torchvision's ImageFolder layout, see image_folder.ts), MNIST-format IDX files when it
 * holds `train-images-idx3-ubyte(.gz)`, else CIFAR-10's binary version.
 *
 * @module
 */

import { exists } from "../core/atomic.ts";
import { loadClutteredDigits } from "./clutter.ts";
import { DataError, type Dataset, loadCifar10, loadMnist, syntheticDataset } from "./datasets.ts";
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, isIdxFolder, loadIdx } from "./idx.ts";
import { IMAGE_FOLDER_INPUT, imageFolderClasses, isImageFolder, loadImageFolder } from "./image_folder.ts";

/** Where the images came from. `mnist` is the embedded digits (the name run folders have kept). */
export type DataSource =
  | { readonly kind: "mnist" }
  | { readonly kind: "cluttered-digits" }
  | { readonly kind: "fashion-mnist" }
  | { readonly kind: "idx"; readonly dir: string }
  | { readonly kind: "cifar10"; readonly dir: string }
  | { readonly kind: "image-folder"; readonly dir: string; readonly classNames: readonly string[] }
  | { readonly kind: "synthetic"; readonly n: number };

/** The kinds a `run.json` or `eval.json` may name. */
export const DATA_KINDS: readonly DataSource["kind"][] = [
  "mnist",
  "cluttered-digits",
  "fashion-mnist",
  "idx",
  "cifar10",
  "image-folder",
  "synthetic",
];

/** The tasks `--data` names: the digits, the digits with clutter (clutter.ts), Fashion-MNIST (idx.ts). */
export const DATA_NAMES = ["digits", "cluttered-digits", "fashion-mnist"] as const;

/** The synthetic test data of `--synthetic N`: small images, few classes, a fixed pattern seed. */
export const SYNTHETIC = { height: 8, width: 8, channels: 3, classes: 4, seed: 7 } as const;

/**
 * Reads `--data` and `--synthetic` into a source.
 *
 * @param data The `--data` value: a task's name, or an image, IDX or CIFAR-10 folder; undefined for
 *   the digits.
 * @param synthetic The `--synthetic` image count, if given (it wins over `data`).
 * @returns The source.
 * @throws {DataError} When an image folder has no `test/` or too few classes (image_folder.ts).
 * @example
 * ```ts
 * import { dataSourceOf } from "./sources.ts";
 * if (dataSourceOf("cluttered-digits", undefined).kind !== "cluttered-digits") throw new Error("not read");
 * if (dataSourceOf("./cifar", undefined).kind !== "cifar10") throw new Error("not a folder");
 * ```
 */
export function dataSourceOf(data: string | undefined, synthetic: number | undefined): DataSource {
  if (synthetic !== undefined) return { kind: "synthetic", n: synthetic };
  if (data === undefined || data === "digits") return { kind: "mnist" };
  if (data === "cluttered-digits") return { kind: "cluttered-digits" };
  if (data === "fashion-mnist") return { kind: "fashion-mnist" };
  if (isIdxFolder(data)) return { kind: "idx", dir: data };
  if (isImageFolder(data)) return { kind: "image-folder", dir: data, classNames: imageFolderClasses(data) };
  return { kind: "cifar10", dir: data };
}

/**
 * Loads one split of a source.
 *
 * @param source The source.
 * @param split Which split (`synthetic`'s test split is a quarter the size, same patterns).
 * @returns The images and labels.
 * @throws {DataError} When a folder does not exist, or its files are missing or malformed, or
 *   Fashion-MNIST is not installed.
 * @example
 * ```ts
 * import { loadSource } from "./sources.ts";
 * const test = await loadSource({ kind: "synthetic", n: 40 }, "test");
 * if (test.labels.length !== 10) throw new Error(String(test.labels.length));
 * ```
 */
export async function loadSource(source: DataSource, split: "train" | "test"): Promise<Dataset> {
  switch (source.kind) {
    case "mnist":
      return await loadMnist({ split });
    case "cluttered-digits":
      return await loadClutteredDigits(split);
    case "fashion-mnist":
      if (!isIdxFolder(FASHION_MNIST_DIR)) {
        throw new DataError(
          "missing-file",
          `--data fashion-mnist needs Debian's package "dataset-fashion-mnist" (apt-get install ` +
            `dataset-fashion-mnist), which puts it in ${FASHION_MNIST_DIR}; or give a folder of its IDX files ` +
            `as --data DIR`,
        );
      }
      return await loadIdx(FASHION_MNIST_DIR, split, "fashion-mnist");
    case "idx":
      return await loadIdx(source.dir, split);
    case "cifar10":
      if (!(await exists(source.dir))) {
        throw new DataError(
          "missing-file",
          `--data "${source.dir}" is neither a task (${DATA_NAMES.join(", ")}) nor an existing folder ` +
            `(of MNIST-format IDX files, CIFAR-10's binary version, or images in train/<class>/ and test/<class>/)`,
        );
      }
      return await loadCifar10(source.dir, split);
    case "image-folder":
      return await loadImageFolder(source.dir, split, source.classNames);
    case "synthetic": {
      const n = split === "train" ? source.n : Math.max(SYNTHETIC.classes, Math.ceil(source.n / 4));
      return syntheticDataset({ n, ...SYNTHETIC });
    }
  }
}

/**
 * The image shape and class count of a source, without loading it.
 *
 * @param source The source.
 * @returns Side, channels and classes.
 * @example
 * ```ts
 * import { inputOf } from "./sources.ts";
 * if (inputOf({ kind: "cluttered-digits" }).inputChannels !== 1) throw new Error("digits are grey");
 * ```
 */
export function inputOf(source: DataSource): { inputSize: number; inputChannels: number; classes: number } {
  switch (source.kind) {
    case "mnist":
    case "cluttered-digits":
    case "fashion-mnist":
    case "idx":
      return { inputSize: 32, inputChannels: 1, classes: 10 };
    case "cifar10":
      return { inputSize: 32, inputChannels: 3, classes: 10 };
    case "image-folder":
      return {
        inputSize: IMAGE_FOLDER_INPUT.size,
        inputChannels: IMAGE_FOLDER_INPUT.channels,
        classes: source.classNames.length,
      };
    case "synthetic":
      return { inputSize: SYNTHETIC.height, inputChannels: SYNTHETIC.channels, classes: SYNTHETIC.classes };
  }
}

/**
 * The source in words, for progress lines and reports.
 *
 * @param source The source.
 * @returns E.g. `the cluttered digits`.
 * @example
 * ```ts
 * import { describeSource } from "./sources.ts";
 * if (describeSource({ kind: "mnist" }) !== "the embedded digits") throw new Error("renamed");
 * ```
 */
export function describeSource(source: DataSource): string {
  switch (source.kind) {
    case "mnist":
      return "the embedded digits";
    case "cluttered-digits":
      return "the cluttered digits";
    case "fashion-mnist":
      return "Fashion-MNIST";
    case "idx":
      return `the IDX files in "${source.dir}"`;
    case "cifar10":
      return `CIFAR-10 from "${source.dir}"`;
    case "image-folder":
      return `the ${source.classNames.length} classes of images in "${source.dir}"`;
    case "synthetic":
      return `${source.n} synthetic images`;
  }
}

/**
 * Whether the source's images may be flipped left to right when augmented: CIFAR-10's photographs
 * can, digits cannot (a flipped 2 is not a 2), and an image folder's are not, as what they show is
 * not known (text and digits must not flip).
 *
 * @param source The source.
 * @returns True for CIFAR-10.
 * @example
 * ```ts
 * import { flips } from "./sources.ts";
 * if (flips({ kind: "cluttered-digits" })) throw new Error("digits must not flip");
 * ```
 */
export function flips(source: DataSource): boolean {
  return source.kind === "cifar10" || source.kind === "fashion-mnist";
}

/**
 * Whether the source is one of the embedded digit tasks, whose epochs `deno task search` caps at
 * 50 steps by default.
 *
 * @param source The source.
 * @returns True for `digits` and `cluttered-digits`.
 * @example
 * ```ts
 * import { isDigits } from "./sources.ts";
 * if (!isDigits({ kind: "mnist" })) throw new Error("the digits are digits");
 * ```
 */
export function isDigits(source: DataSource): boolean {
  return source.kind === "mnist" || source.kind === "cluttered-digits";
}

/** CIFAR-10's classes in label order (its `batches.meta.txt`). */
const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
] as const;

/**
 * The source's class names in label order, as `eval.json` and `run.json` record them for export and
 * prediction: an image folder's class folders, CIFAR-10's ten names, the digits "0" to "9".
 *
 * @param source The source.
 * @returns One name per class.
 * @example
 * ```ts
 * import { classNamesOf } from "./sources.ts";
 * if (classNamesOf({ kind: "mnist" })[7] !== "7") throw new Error("digit 7");
 * if (classNamesOf({ kind: "image-folder", dir: "x", classNames: ["cat", "dog"] }).join() !== "cat,dog") {
 *   throw new Error("not the folder's");
 * }
 * ```
 */
export function classNamesOf(source: DataSource): readonly string[] {
  switch (source.kind) {
    case "mnist":
    case "cluttered-digits":
    case "idx":
      return Array.from({ length: 10 }, (_, i) => String(i));
    case "fashion-mnist":
      return FASHION_MNIST_CLASSES;
    case "cifar10":
      return CIFAR10_CLASSES;
    case "image-folder":
      return source.classNames;
    case "synthetic":
      return Array.from({ length: SYNTHETIC.classes }, (_, i) => `pattern ${i}`);
  }
}

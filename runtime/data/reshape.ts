/**
 * Smaller versions of a dataset, as the ground-truth table's recipe uses them: fewer images (a
 * class-balanced selection in a seeded order) and a lower resolution (mean of k×k blocks).
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { DataError, type Dataset, datasetSize } from "./datasets.ts";

/**
 * The images at 1/k of the side: each output pixel is the mean of a k×k block.
 *
 * @param dataset The dataset; its height and width must be multiples of k.
 * @param k The factor, ≥ 1.
 * @returns A new dataset (the labels are shared).
 * @throws {DataError} When the side is not a multiple of k.
 * @example
 * ```ts
 * import { downsample } from "./reshape.ts";
 * const data = { name: "x", images: Float32Array.from([0, 1, 1, 0]), labels: Uint8Array.from([0]),
 *   height: 2, width: 2, channels: 1, classes: 1 };
 * if (downsample(data, 2).images[0] !== 0.5) throw new Error("not the block mean");
 * ```
 */
export function downsample(dataset: Dataset, k: number): Dataset {
  const { height, width, channels } = dataset;
  if (!Number.isInteger(k) || k < 1 || height % k !== 0 || width % k !== 0) {
    throw new DataError("wrong-size", `cannot shrink ${height}×${width} images by ${k}: not a divisor`);
  }
  const h = height / k;
  const w = width / k;
  const n = datasetSize(dataset);
  const out = new Float32Array(n * h * w * channels);
  const scale = 1 / (k * k);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let dy = 0; dy < k; dy++) {
            const row = ((i * height + y * k + dy) * width + x * k) * channels + c;
            for (let dx = 0; dx < k; dx++) sum += dataset.images[row + dx * channels]!;
          }
          out[((i * h + y) * w + x) * channels + c] = sum * scale;
        }
      }
    }
  }
  return { ...dataset, name: `${dataset.name}@${h}`, images: out, height: h, width: w };
}

/**
 * The images at the given indices, in that order.
 *
 * @param dataset The dataset.
 * @param indices Which images.
 * @param name The new dataset's name.
 * @returns A new dataset.
 * @example
 * ```ts
 * import { pick } from "./reshape.ts";
 * const data = { name: "x", images: Float32Array.from([0, 1, 2]), labels: Uint8Array.from([0, 1, 2]),
 *   height: 1, width: 1, channels: 1, classes: 3 };
 * if (pick(data, [2, 0], "y").labels.join() !== "2,0") throw new Error("not picked");
 * ```
 */
export function pick(dataset: Dataset, indices: readonly number[], name: string): Dataset {
  const size = dataset.height * dataset.width * dataset.channels;
  const images = new Float32Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  indices.forEach((index, k) => {
    images.set(dataset.images.subarray(index * size, (index + 1) * size), k * size);
    labels[k] = dataset.labels[index]!;
  });
  return { ...dataset, name, images, labels };
}

/**
 * Disjoint, class-balanced selections of a dataset: the images of each class in a seeded random
 * order, dealt out so that each part gets `sizes[p] / classes` of every class (the first part the
 * first ones). Fixed for a seed, whatever else runs.
 *
 * @param dataset The dataset.
 * @param sizes Images per part, each a multiple of the class count.
 * @param seed The order's seed.
 * @returns The indices of each part, classes interleaved (class 0, 1, …, 0, 1, …).
 * @throws {DataError} When a class has too few images for the parts.
 * @example
 * ```ts
 * import { balancedParts } from "./reshape.ts";
 * const data = { name: "x", images: new Float32Array(6), labels: Uint8Array.from([0, 1, 0, 1, 0, 1]),
 *   height: 1, width: 1, channels: 1, classes: 2 };
 * const [a, b] = balancedParts(data, [2, 4], 0);
 * if (a!.length !== 2 || b!.length !== 4 || a!.some((i) => b!.includes(i))) throw new Error("overlap");
 * ```
 */
export function balancedParts(dataset: Dataset, sizes: readonly number[], seed: number): number[][] {
  const { classes } = dataset;
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  dataset.labels.forEach((label, i) => byClass[label]!.push(i));
  const rng = new Rng(seed);
  for (const members of byClass) rng.shuffle(members);
  const need = sizes.reduce((a, b) => a + b, 0) / classes;
  for (const [label, members] of byClass.entries()) {
    if (members.length < need) {
      throw new DataError(
        "wrong-size",
        `${dataset.name}: class ${label} has ${members.length} images, the selection needs ${need}`,
      );
    }
  }
  let offset = 0;
  return sizes.map((size) => {
    if (size % classes !== 0) {
      throw new DataError("wrong-size", `a part of ${size} images cannot hold ${classes} classes equally`);
    }
    const per = size / classes;
    const part: number[] = [];
    for (let k = 0; k < per; k++) for (const members of byClass) part.push(members[offset + k]!);
    offset += per;
    return part;
  });
}

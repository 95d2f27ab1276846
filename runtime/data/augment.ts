/**
 * Batch assembly and augmentation on plain `Float32Array`s (no tfjs), as the paper's supplement
 * (6.2.1) and DARTS do it: pad 4 + random crop back to the image size, random horizontal flip,
 * standardization with per-channel statistics of the training set, and cutout for the evaluation
 * training. Every random choice comes from the given {@linkcode Rng}, so batches are reproducible.
 *
 * Order per image (torchvision's, as DARTS): crop of the zero-padded raw image → flip →
 * AutoAugment (when on) → standardize → cutout (the cut square is 0 after standardization).
 *
 * @module
 */

import type { Dataset } from "./datasets.ts";
import type { Rng } from "../core/rng.ts";
import { autoAugment } from "./autoaugment.ts";

/** Per-channel mean and standard deviation. */
export interface Standardization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** What {@linkcode makeBatch} applies; every field is off when absent. */
export interface BatchOptions {
  /** Subtract the mean and divide by the std per channel (train and val alike). */
  readonly standardize?: Standardization;
  /** Zero-pad by this many pixels and crop back at a random offset (the paper: 4). */
  readonly pad?: number;
  /** Mirror each image left–right with probability 1/2 (off for digits). */
  readonly flip?: boolean;
  /** Zero a square of this side at a random center, clipped at the borders (the paper: 16). */
  readonly cutout?: number;
  /** AutoAugment's CIFAR-10 policy, after crop and flip, before standardizing (section 4.2). */
  readonly autoAugment?: boolean;
}

/** A batch in NHWC. */
export interface Batch {
  readonly x: Float32Array;
  readonly y: Uint8Array;
  readonly shape: readonly [number, number, number, number];
}

/**
 * The per-channel mean and (population) standard deviation of a dataset's images, to standardize
 * with. A constant channel gets std 1.
 *
 * @param dataset The dataset.
 * @param indices The images to measure (default: all); pass the training indices.
 * @returns The statistics.
 * @example
 * ```ts
 * import { channelStats } from "./augment.ts";
 * import { syntheticDataset } from "./datasets.ts";
 * const stats = channelStats(syntheticDataset({ n: 8, height: 4, width: 4, channels: 3, classes: 2, seed: 0 }));
 * stats.mean.length; // 3
 * ```
 */
export function channelStats(dataset: Dataset, indices?: readonly number[]): Standardization {
  const { channels } = dataset;
  const pixels = dataset.height * dataset.width;
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const list = indices ?? Array.from({ length: dataset.labels.length }, (_, i) => i);
  for (const i of list) {
    const base = i * pixels * channels;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < channels; c++) {
        const v = dataset.images[base + p * channels + c] ?? 0;
        sum[c] = (sum[c] ?? 0) + v;
        sumSq[c] = (sumSq[c] ?? 0) + v * v;
      }
    }
  }
  const count = Math.max(1, list.length * pixels);
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sumSq, (s, c) => {
    const variance = s / count - (mean[c] ?? 0) ** 2;
    return variance > 1e-12 ? Math.sqrt(variance) : 1;
  });
  return { mean, std };
}

/**
 * Writes the h×w crop at offset (dy, dx) of `image` zero-padded by `pad` into `out`
 * (offset (pad, pad) is the image itself).
 *
 * @param image One h×w×c image.
 * @param out Where the h×w×c crop goes (not `image`).
 * @param shape The image's [height, width, channels].
 * @param pad The padding.
 * @param dy Row offset into the padded image, 0..2·pad.
 * @param dx Column offset into the padded image, 0..2·pad.
 */
export function cropPadded(
  image: Float32Array,
  out: Float32Array,
  shape: readonly [number, number, number],
  pad: number,
  dy: number,
  dx: number,
): void {
  const [h, w, c] = shape;
  for (let y = 0; y < h; y++) {
    const sy = y + dy - pad;
    for (let x = 0; x < w; x++) {
      const sx = x + dx - pad;
      const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = inside ? image[(sy * w + sx) * c + k] ?? 0 : 0;
    }
  }
}

/**
 * Mirrors an image left–right, in place.
 *
 * @param image One h×w×c image.
 * @param shape The image's [height, width, channels].
 */
export function flipHorizontal(image: Float32Array, shape: readonly [number, number, number]): void {
  const [h, w, c] = shape;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w >> 1; x++) {
      const a = (y * w + x) * c;
      const b = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) {
        const tmp = image[a + k] ?? 0;
        image[a + k] = image[b + k] ?? 0;
        image[b + k] = tmp;
      }
    }
  }
}

/**
 * Zeroes, in place, the square of side `length` centred at (cy, cx), clipped at the borders, in
 * every channel (DeVries & Taylor's cutout, as DARTS: rows cy − ⌊L/2⌋ … cy + ⌊L/2⌋ − 1).
 *
 * @param image One h×w×c image.
 * @param shape The image's [height, width, channels].
 * @param cy Center row.
 * @param cx Center column.
 * @param length The side of the square.
 */
export function applyCutout(
  image: Float32Array,
  shape: readonly [number, number, number],
  cy: number,
  cx: number,
  length: number,
): void {
  const [h, w, c] = shape;
  const half = Math.floor(length / 2);
  const y0 = Math.max(0, cy - half), y1 = Math.min(h, cy + half);
  const x0 = Math.max(0, cx - half), x1 = Math.min(w, cx + half);
  for (let y = y0; y < y1; y++) image.fill(0, (y * w + x0) * c, (y * w + x1) * c);
}

/**
 * Assembles the images `indices` of `dataset` into one NHWC batch, augmented per `options`. Per
 * image the generator is drawn in a fixed order (crop dy, dx; flip; AutoAugment; cutout cy, cx), only for the
 * augmentations that are on.
 *
 * @param dataset The dataset.
 * @param indices The images of the batch, in order.
 * @param options The augmentations (all off when `{}`: the raw images).
 * @param rng The generator for the random choices.
 * @returns The batch.
 * @example
 * ```ts
 * import { makeBatch } from "./augment.ts";
 * import { syntheticDataset } from "./datasets.ts";
 * import { Rng } from "../core/rng.ts";
 * const data = syntheticDataset({ n: 8, height: 8, width: 8, channels: 3, classes: 2, seed: 0 });
 * const batch = makeBatch(data, [0, 1, 2, 3], { pad: 2, flip: true }, new Rng(0));
 * batch.shape; // [4, 8, 8, 3]
 * ```
 */
export function makeBatch(
  dataset: Dataset,
  indices: readonly number[],
  options: BatchOptions,
  rng: Rng,
): Batch {
  const { height: h, width: w, channels: c } = dataset;
  const shape = [h, w, c] as const;
  const size = h * w * c;
  const x = new Float32Array(indices.length * size);
  const y = new Uint8Array(indices.length);
  const pad = options.pad ?? 0;
  indices.forEach((index, n) => {
    const source = dataset.images.subarray(index * size, (index + 1) * size);
    const image = x.subarray(n * size, (n + 1) * size);
    y[n] = dataset.labels[index] ?? 0;
    if (pad > 0) cropPadded(source, image, shape, pad, rng.int(2 * pad + 1), rng.int(2 * pad + 1));
    else image.set(source);
    if (options.flip && rng.next() < 0.5) flipHorizontal(image, shape);
    if (options.autoAugment) autoAugment(image, shape, rng);
    const stats = options.standardize;
    if (stats) {
      for (let p = 0; p < size; p++) {
        const k = p % c;
        image[p] = ((image[p] ?? 0) - (stats.mean[k] ?? 0)) / (stats.std[k] ?? 1);
      }
    }
    if (options.cutout && options.cutout > 0) {
      applyCutout(image, shape, rng.int(h), rng.int(w), options.cutout);
    }
  });
  return { x, y, shape: [indices.length, h, w, c] };
}

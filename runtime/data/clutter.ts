/**
 * Cluttered digits: a harder task built from the embedded digits, on which architectures differ where
 * the plain digits saturate. Each image is one digit, shifted at random, with fragments of other
 * digits of the same split scattered over it (each pixel the brightest of digit and fragments), in
 * the manner of cluttered MNIST (Mnih et al., 2014, "Recurrent Models of Visual Attention", which
 * used 8 fragments of 8×8 on a 60×60 canvas; here a 32×32 canvas). Telling the digit from strokes of
 * other digits takes context beyond a few pixels, which a cell of skips and pools cannot gather.
 *
 * The clutter is fixed: a split's images are the same in every run (a generator seeded per split),
 * and a split's fragments come only from that split, so no test stroke is seen in training.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { type Dataset, loadMnist } from "./datasets.ts";

/** How the clutter is made. */
export interface ClutterOptions {
  /** Fragments per image. */
  readonly fragments: number;
  /** Side of a square fragment, in pixels. */
  readonly size: number;
  /** The digit moves by up to this many pixels in x and in y (uniform, independently). */
  readonly shift: number;
  /** Seeds the generator: the same digits and options give the same images. */
  readonly seed: number;
}

/**
 * The clutter of `--data cluttered-digits`: 6 fragments of 8×8 (cluttered MNIST's fragment size,
 * fewer of them because the canvas is 3.5× smaller), shifts of up to 2 pixels (the digits' zero
 * border in their 32×32 frame), seed 1 for the train split and 2 for the test split.
 */
export const CLUTTERED_DIGITS = { fragments: 6, size: 8, shift: 2 } as const;

/**
 * Clutters a dataset of single-channel images: each output image is its input image shifted by
 * (dx, dy) ∈ [−shift, shift]² (pixels shifted in from outside are 0), then `fragments` times a
 * `size`×`size` crop of another image of the dataset, taken from where that image's strokes are
 * (its central part) and pasted at a random place, each pixel the maximum of the two.
 *
 * @param digits Single-channel images, at least two, each side larger than `size`.
 * @param options See {@linkcode ClutterOptions}.
 * @returns A dataset of the same size, shape and labels, named `cluttered-<name>`.
 * @throws {RangeError} When the images have more than one channel, are not larger than a
 *   fragment, or there are fewer than two of them.
 * @example
 * ```ts
 * import { clutter } from "./clutter.ts";
 * import { syntheticDataset } from "./datasets.ts";
 * const plain = syntheticDataset({ n: 4, height: 16, width: 16, channels: 1, classes: 2, seed: 1 });
 * const cluttered = clutter(plain, { fragments: 3, size: 4, shift: 1, seed: 0 });
 * if (cluttered.labels.join() !== plain.labels.join()) throw new Error("labels must not change");
 * ```
 */
export function clutter(digits: Dataset, options: ClutterOptions): Dataset {
  const { height, width, channels } = digits;
  const { fragments, size, shift } = options;
  const n = digits.labels.length;
  if (channels !== 1) throw new RangeError(`clutter() expects one channel, got ${channels}`);
  if (size >= height || size >= width) {
    throw new RangeError(
      `clutter() needs images larger than a ${size}×${size} fragment, got ${height}×${width}`,
    );
  }
  if (n < 2) {
    throw new RangeError(`clutter() needs at least two images (fragments come from others), got ${n}`);
  }
  const rng = new Rng(options.seed);
  const pixels = height * width;
  const images = new Float32Array(n * pixels);
  // Crops come from the central half of a source image, where a centred digit's strokes are.
  const cropY0 = Math.floor(height / 4);
  const cropX0 = Math.floor(width / 4);
  const cropYs = Math.max(1, height - size - 2 * cropY0 + 1);
  const cropXs = Math.max(1, width - size - 2 * cropX0 + 1);
  for (let i = 0; i < n; i++) {
    const out = i * pixels;
    const dy = rng.int(2 * shift + 1) - shift;
    const dx = rng.int(2 * shift + 1) - shift;
    for (let y = 0; y < height; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= height) continue;
      for (let x = 0; x < width; x++) {
        const sx = x - dx;
        if (sx >= 0 && sx < width) {
          images[out + y * width + x] = digits.images[i * pixels + sy * width + sx] ?? 0;
        }
      }
    }
    for (let f = 0; f < fragments; f++) {
      const source = (i + 1 + rng.int(n - 1)) % n; // any image but this one
      const fromY = cropY0 + rng.int(cropYs);
      const fromX = cropX0 + rng.int(cropXs);
      const toY = rng.int(height - size + 1);
      const toX = rng.int(width - size + 1);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const v = digits.images[source * pixels + (fromY + y) * width + fromX + x] ?? 0;
          const o = out + (toY + y) * width + toX + x;
          if (v > (images[o] ?? 0)) images[o] = v;
        }
      }
    }
  }
  return { ...digits, name: `cluttered-${digits.name}`, images };
}

/**
 * The named task `cluttered-digits`: the embedded digits' split (see {@linkcode loadMnist}) with
 * {@linkcode CLUTTERED_DIGITS}' clutter, fixed per split.
 *
 * @param split Which split.
 * @returns 32×32×1 images in [0, 1]: 8,337 for `train`, 1,663 for `test`, named
 *   `cluttered-mnist-<split>`.
 * @example
 * ```ts
 * import { loadClutteredDigits } from "./clutter.ts";
 * const test = await loadClutteredDigits("test");
 * if (test.labels.length !== 1663) throw new Error(String(test.labels.length));
 * ```
 */
export async function loadClutteredDigits(split: "train" | "test"): Promise<Dataset> {
  return clutter(await loadMnist({ split }), { ...CLUTTERED_DIGITS, seed: split === "train" ? 1 : 2 });
}

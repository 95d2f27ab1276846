/**
 * AutoAugment's CIFAR-10 policy (Cubuk et al., 2018, "AutoAugment: Learning Augmentation Policies
 * from Data", the 25 sub-policies found on reduced CIFAR-10), which the ASAP paper trains its
 * evaluation networks with (section 4.2, supplement 6.2.2). Each training image gets one sub-policy
 * drawn uniformly; each of its two operations is applied with its probability, at its magnitude.
 *
 * The image operations follow PIL's `ImageOps`/`ImageEnhance`, which the reference implementations
 * call, on one h×w×c image with values in [0, 1] (the 8-bit ops — posterize, solarize, equalize —
 * work on the value × 255 levels). Differences from PIL, for speed and simplicity: geometric ops
 * sample the nearest pixel (PIL: nearest for translate/rotate, bicubic for shear); areas moved in
 * from outside are filled with 0.5 (PIL: the fill colour 128). Grey for colour ops is ITU-R 601
 * luma (PIL's "L" conversion); one-channel images treat colour as a no-op.
 *
 * Every random choice (sub-policy, application, sign) comes from the given {@linkcode Rng}.
 *
 * @module
 */

import type { Rng } from "../core/rng.ts";

/** An image's [height, width, channels]. */
export type Shape = readonly [number, number, number];

/** The operations of the policy. */
export type AugmentOp =
  | "shearX"
  | "shearY"
  | "translateX"
  | "translateY"
  | "rotate"
  | "color"
  | "posterize"
  | "solarize"
  | "contrast"
  | "sharpness"
  | "brightness"
  | "autocontrast"
  | "equalize"
  | "invert";

/** One operation of a sub-policy: applied with probability `p` at magnitude level 0–9. */
export interface PolicyStep {
  readonly op: AugmentOp;
  readonly p: number;
  readonly level: number;
}

/** A sub-policy: two steps, applied in order. */
export type SubPolicy = readonly [PolicyStep, PolicyStep];

const s = (op: AugmentOp, p: number, level: number): PolicyStep => ({ op, p, level });

/**
 * The 25 CIFAR-10 sub-policies of Cubuk et al. (2018), appendix table "policy found on reduced
 * CIFAR-10", as the authors' and torchvision's `AutoAugmentPolicy.CIFAR10` list them.
 */
export const CIFAR10_POLICY: readonly SubPolicy[] = [
  [s("invert", 0.1, 7), s("contrast", 0.2, 6)],
  [s("rotate", 0.7, 2), s("translateX", 0.3, 9)],
  [s("sharpness", 0.8, 1), s("sharpness", 0.9, 3)],
  [s("shearY", 0.5, 8), s("translateY", 0.7, 9)],
  [s("autocontrast", 0.5, 8), s("equalize", 0.9, 2)],
  [s("shearY", 0.2, 7), s("posterize", 0.3, 7)],
  [s("color", 0.4, 3), s("brightness", 0.6, 7)],
  [s("sharpness", 0.3, 9), s("brightness", 0.7, 9)],
  [s("equalize", 0.6, 5), s("equalize", 0.5, 1)],
  [s("contrast", 0.6, 7), s("sharpness", 0.6, 5)],
  [s("color", 0.7, 7), s("translateX", 0.5, 8)],
  [s("equalize", 0.3, 7), s("autocontrast", 0.4, 8)],
  [s("translateY", 0.4, 3), s("sharpness", 0.2, 6)],
  [s("brightness", 0.9, 6), s("color", 0.2, 8)],
  [s("solarize", 0.5, 2), s("invert", 0.0, 3)],
  [s("equalize", 0.2, 0), s("autocontrast", 0.6, 0)],
  [s("equalize", 0.2, 8), s("equalize", 0.8, 4)],
  [s("color", 0.9, 9), s("equalize", 0.6, 6)],
  [s("autocontrast", 0.8, 4), s("solarize", 0.2, 8)],
  [s("brightness", 0.1, 3), s("color", 0.7, 0)],
  [s("solarize", 0.4, 5), s("autocontrast", 0.9, 3)],
  [s("translateY", 0.9, 9), s("translateY", 0.7, 9)],
  [s("autocontrast", 0.9, 2), s("solarize", 0.8, 3)],
  [s("equalize", 0.8, 8), s("invert", 0.1, 3)],
  [s("translateY", 0.7, 9), s("autocontrast", 0.9, 1)],
];

/**
 * The magnitude of level 0–9 (Cubuk et al., 2018, appendix: ten levels spread uniformly over each
 * op's range): shear 0–0.3, translate 0–150/331 of the side (150 px of 331), rotate 0–30°,
 * enhance factors 1 ± 0–0.9, posterize 8–4 bits (rounded), solarize threshold 256–0.
 *
 * @param op The operation.
 * @param level 0 to 9.
 * @returns The magnitude (unsigned; the sign is drawn where the op has one).
 * @example
 * ```ts
 * import { magnitude } from "./autoaugment.ts";
 * magnitude("rotate", 9); // 30
 * ```
 */
export function magnitude(op: AugmentOp, level: number): number {
  const f = level / 9;
  switch (op) {
    case "shearX":
    case "shearY":
      return 0.3 * f;
    case "translateX":
    case "translateY":
      return (150 / 331) * f;
    case "rotate":
      return 30 * f;
    case "color":
    case "contrast":
    case "sharpness":
    case "brightness":
      return 0.9 * f;
    case "posterize":
      return Math.round(8 - 4 * f);
    case "solarize":
      return 256 - 256 * f;
    default:
      return 0;
  }
}

const FILL = 0.5;
const clip = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
const level8 = (v: number) => Math.min(255, Math.max(0, Math.round(v * 255)));

/**
 * Resamples an image through an inverse affine map: output pixel (x, y) takes the input's nearest
 * pixel at (a·x + b·y + c, d·x + e·y + f), or the fill 0.5 outside (PIL `Image.transform` AFFINE).
 */
function affine(image: Float32Array, shape: Shape, m: readonly number[]): Float32Array {
  const [h, w, ch] = shape;
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  const out = new Float32Array(image.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Pixel centres, as PIL.
      const sx = Math.floor(a * (x + 0.5) + b * (y + 0.5) + c);
      const sy = Math.floor(d * (x + 0.5) + e * (y + 0.5) + f);
      const inside = sx >= 0 && sx < w && sy >= 0 && sy < h;
      for (let k = 0; k < ch; k++) {
        out[(y * w + x) * ch + k] = inside ? image[(sy * w + sx) * ch + k]! : FILL;
      }
    }
  }
  return out;
}

/** The grey (luma) value of each pixel. */
function grey(image: Float32Array, shape: Shape): Float32Array {
  const [h, w, ch] = shape;
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    out[p] = ch === 3
      ? 0.299 * image[p * 3]! + 0.587 * image[p * 3 + 1]! + 0.114 * image[p * 3 + 2]!
      : image[p * ch]!;
  }
  return out;
}

/** PIL's ImageEnhance: degenerate + factor · (image − degenerate), clipped. */
function blend(image: Float32Array, degenerate: (i: number) => number, factor: number): Float32Array {
  return image.map((v, i) => clip(degenerate(i) + factor * (v - degenerate(i))));
}

/**
 * Applies one operation at a signed magnitude (see {@linkcode magnitude}); returns a new image.
 *
 * @param op The operation.
 * @param image One h×w×c image with values in [0, 1].
 * @param shape [height, width, channels].
 * @param m The magnitude, signed for shear, translate, rotate and the enhance ops.
 * @returns The augmented image.
 * @example
 * ```ts
 * import { applyOp } from "./autoaugment.ts";
 * applyOp("invert", Float32Array.of(0.25), [1, 1, 1], 0); // Float32Array [0.75]
 * ```
 */
export function applyOp(op: AugmentOp, image: Float32Array, shape: Shape, m: number): Float32Array {
  const [h, w, ch] = shape;
  switch (op) {
    case "shearX":
      return affine(image, shape, [1, m, 0, 0, 1, 0]);
    case "shearY":
      return affine(image, shape, [1, 0, 0, m, 1, 0]);
    case "translateX":
      return affine(image, shape, [1, 0, m * w, 0, 1, 0]);
    case "translateY":
      return affine(image, shape, [1, 0, 0, 0, 1, m * h]);
    case "rotate": {
      // Counter-clockwise by m degrees about the centre: PIL `rotate`'s inverse map, angle −m.
      const t = (-m * Math.PI) / 180;
      const [cx, cy] = [w / 2, h / 2];
      const [a, b, d, e] = [Math.cos(t), Math.sin(t), -Math.sin(t), Math.cos(t)];
      return affine(image, shape, [a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy]);
    }
    case "color": {
      if (ch !== 3) return image.slice();
      const g = grey(image, shape);
      return blend(image, (i) => g[Math.floor(i / 3)]!, 1 + m);
    }
    case "contrast": {
      const g = grey(image, shape);
      const mean = Math.round(g.reduce((a, v) => a + level8(v), 0) / g.length) / 255;
      return blend(image, () => mean, 1 + m);
    }
    case "brightness":
      return blend(image, () => 0, 1 + m);
    case "sharpness": {
      // PIL's SMOOTH filter [[1,1,1],[1,5,1],[1,1,1]] / 13; the border keeps the original pixels.
      const smooth = image.slice();
      for (let y = 1; y < h - 1; y++) {
        for (let x = 1; x < w - 1; x++) {
          for (let k = 0; k < ch; k++) {
            let sum = 4 * image[(y * w + x) * ch + k]!;
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) sum += image[((y + dy) * w + x + dx) * ch + k]!;
            }
            smooth[(y * w + x) * ch + k] = sum / 13;
          }
        }
      }
      return blend(image, (i) => smooth[i]!, 1 + m);
    }
    case "posterize": {
      const mask = (0xff << (8 - m)) & 0xff;
      return image.map((v) => (level8(v) & mask) / 255);
    }
    case "solarize":
      return image.map((v) => (level8(v) < m ? v : 1 - v));
    case "invert":
      return image.map((v) => 1 - v);
    case "autocontrast": {
      const out = image.slice();
      for (let k = 0; k < ch; k++) {
        let lo = 255, hi = 0;
        for (let p = k; p < image.length; p += ch) {
          const v = level8(image[p]!);
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        if (hi <= lo) continue;
        for (let p = k; p < image.length; p += ch) out[p] = clip((level8(image[p]!) - lo) / (hi - lo));
      }
      return out;
    }
    case "equalize": {
      // PIL ImageOps.equalize, per channel: a lookup table from the cumulative histogram.
      const out = image.slice();
      for (let k = 0; k < ch; k++) {
        const hist = new Array<number>(256).fill(0);
        for (let p = k; p < image.length; p += ch) hist[level8(image[p]!)]! += 1;
        const used = hist.filter((n) => n > 0);
        const step = Math.floor((used.reduce((a, n) => a + n, 0) - used[used.length - 1]!) / 255);
        if (step === 0) continue;
        const lut: number[] = [];
        let n = Math.floor(step / 2);
        for (let i = 0; i < 256; i++) {
          lut.push(Math.min(255, Math.floor(n / step)));
          n += hist[i]!;
        }
        for (let p = k; p < image.length; p += ch) out[p] = lut[level8(image[p]!)]! / 255;
      }
      return out;
    }
  }
}

/** Ops whose magnitude takes a random sign (Cubuk et al.: "negated with probability 0.5"). */
const SIGNED: ReadonlySet<AugmentOp> = new Set([
  "shearX",
  "shearY",
  "translateX",
  "translateY",
  "rotate",
  "color",
  "contrast",
  "sharpness",
  "brightness",
]);

/**
 * Augments one image, in place, with a sub-policy drawn uniformly from `policy`. The generator is
 * drawn in a fixed order: the sub-policy; then per step, whether it applies and (if it applies and
 * is signed) its sign.
 *
 * @param image One h×w×c image with values in [0, 1]; overwritten.
 * @param shape [height, width, channels].
 * @param rng The generator.
 * @param policy The sub-policies (default: {@linkcode CIFAR10_POLICY}).
 * @example
 * ```ts
 * import { autoAugment } from "./autoaugment.ts";
 * import { Rng } from "../core/rng.ts";
 * const image = new Float32Array(4 * 4 * 3).fill(0.2);
 * autoAugment(image, [4, 4, 3], new Rng(1));
 * ```
 */
export function autoAugment(
  image: Float32Array,
  shape: Shape,
  rng: Rng,
  policy: readonly SubPolicy[] = CIFAR10_POLICY,
): void {
  const sub = policy[rng.int(policy.length)]!;
  let current = image;
  for (const step of sub) {
    if (!(rng.next() < step.p)) continue;
    const sign = SIGNED.has(step.op) && rng.next() < 0.5 ? -1 : 1;
    current = applyOp(step.op, current, shape, sign * magnitude(step.op, step.level));
  }
  if (current !== image) image.set(current);
}

/**
 * Differentiable kernel formulations that run forward and backward on every tfjs backend.
 *
 * The wasm backend lacks DepthwiseConv2dNativeBackpropInput/Filter and Conv2DBackpropFilter, gives
 * wrong MaxPoolGrad results, and tfjs has no gradient for dilated depthwise convolution at all. So the
 * spatial kernels here are built from ops whose gradients exist everywhere: pad, slice, reshape,
 * multiply, add, maximum, concat and matMul. Every window op takes its taps as slices of the padded
 * input ("shifted slices"); a stride of 2 reads them from the four phases of the input (even/odd rows
 * and columns, split by rank-4 reshapes and slices), so no strided slice (no gradient in tfjs) is needed.
 *
 * The network ops use these for full k×k convolutions (im2col) and 1×1 convolutions; for depthwise conv,
 * pooling and batch norm they use kernels_native.ts (native forwards, hand-written gradients, a tape of
 * one input instead of k² slices), whose tests check them against the formulations here.
 *
 * Layout NHWC, float32. Padding is PyTorch's: `(k − 1)/2 · d` on every side, so a stride-2 window
 * op on an even size halves it exactly as DARTS does.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { weightGradientsWanted } from "./grad_scope.ts";

/** Largest number of tensors summed by one AddN (webgpu's AddN is wrong from 8 inputs on some devices). */
const ADD_N_CHUNK = 6;

/** Output size of a window op on `size` with PyTorch padding `pad` (floor division, as PyTorch). */
export function windowOutputSize(
  size: number,
  kernel: number,
  stride: number,
  dilation: number,
  pad: number,
): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** The symmetric "same" padding of PyTorch for an odd kernel: `(k − 1)/2 · d`. */
export function samePadding(kernel: number, dilation: number): number {
  return ((kernel - 1) / 2) * dilation;
}

/**
 * Sums tensors of one shape with AddN in chunks of at most six inputs.
 *
 * @param terms The tensors to sum (at least one).
 * @returns Their sum.
 */
export function sumTensors<T extends tf.Tensor>(terms: readonly T[]): T {
  if (terms.length === 0) throw new Error("sumTensors() needs at least one tensor");
  let rest: T[] = [...terms];
  while (rest.length > 1) {
    const next: T[] = [];
    for (let i = 0; i < rest.length; i += ADD_N_CHUNK) {
      const chunk = rest.slice(i, i + ADD_N_CHUNK);
      next.push(chunk.length === 1 ? chunk[0]! : tf.addN(chunk));
    }
    rest = next;
  }
  return rest[0]!;
}

/**
 * The k×k taps of a window op: for each kernel position (row-major), the input values that position
 * sees at every output pixel, as a tensor `[N, Ho, Wo, C]`.
 *
 * @param x Input `[N, H, W, C]`.
 * @param kernel Odd kernel size k.
 * @param stride 1 or 2.
 * @param dilation Kernel dilation d ≥ 1.
 * @param padValue Value of the padding (0 for convolutions and average pooling, -Infinity for max pooling).
 * @returns k² tensors `[N, Ho, Wo, C]`, kernel row first.
 */
export function windowTaps(
  x: tf.Tensor4D,
  kernel: number,
  stride: 1 | 2,
  dilation: number,
  padValue = 0,
): tf.Tensor4D[] {
  const [n, h, w, c] = x.shape;
  const pad = samePadding(kernel, dilation);
  const ho = windowOutputSize(h, kernel, stride, dilation, pad);
  const wo = windowOutputSize(w, kernel, stride, dilation, pad);
  const taps: tf.Tensor4D[] = [];
  if (stride === 1) {
    const xp = pad === 0 ? x : tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], padValue);
    for (let a = 0; a < kernel; a++) {
      for (let b = 0; b < kernel; b++) {
        taps.push(tf.slice(xp, [0, a * dilation, b * dilation, 0], [n, ho, wo, c]));
      }
    }
    return taps;
  }
  // Stride 2: pad to an even size, split into the four phases (even/odd rows × even/odd columns) and
  // read each tap from its phase.
  const hp = h + 2 * pad;
  const wp = w + 2 * pad;
  const extraH = hp % 2;
  const extraW = wp % 2;
  const xp = pad === 0 && extraH === 0 && extraW === 0
    ? x
    : tf.pad(x, [[0, 0], [pad, pad + extraH], [pad, pad + extraW], [0, 0]], padValue);
  const phase = phaseView(xp);
  for (let a = 0; a < kernel; a++) {
    for (let b = 0; b < kernel; b++) {
      const oy = a * dilation;
      const ox = b * dilation;
      taps.push(
        tf.slice(phase((oy & 1) as 0 | 1, (ox & 1) as 0 | 1), [0, oy >> 1, ox >> 1, 0], [n, ho, wo, c]),
      );
    }
  }
  return taps;
}

/**
 * The phases of an even-sized input: `phase(r, c)` is `x[:, r::2, c::2, :]`, built on first use.
 * Only rank-4 reshapes and slices: tfjs-webgpu's rank-5 slice gradient gives wrong results.
 */
function phaseView(x: tf.Tensor4D): (r: 0 | 1, c: 0 | 1) => tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const rows: (tf.Tensor4D | undefined)[] = [];
  const cells: (tf.Tensor4D | undefined)[] = [];
  return (r, col) => {
    const key = r * 2 + col;
    const cached = cells[key];
    if (cached) return cached;
    rows[r] ??= tf.reshape(
      tf.slice(tf.reshape(x, [n, h / 2, 2, w * c]), [0, 0, r, 0], [n, h / 2, 1, w * c]),
      [n, h / 2, w / 2, 2 * c],
    );
    const cell = tf.slice(rows[r]!, [0, 0, 0, col * c], [n, h / 2, w / 2, c]);
    cells[key] = cell;
    return cell;
  };
}

/**
 * `x[:, offset::2, offset::2, :]`, differentiable on every backend (tfjs has no StridedSlice gradient).
 *
 * @param x Input `[N, H, W, C]`.
 * @param offset 0 or 1: the first row and column taken.
 * @returns `[N, ceil((H − offset)/2), ceil((W − offset)/2), C]`.
 */
export function subsample2(x: tf.Tensor4D, offset: 0 | 1): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const ho = Math.ceil((h - offset) / 2);
  const wo = Math.ceil((w - offset) / 2);
  const xp = h % 2 === 0 && w % 2 === 0 ? x : tf.pad(x, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]]);
  const phase = phaseView(xp)(offset, offset);
  return phase.shape[1] === ho && phase.shape[2] === wo
    ? phase
    : tf.slice(phase, [0, 0, 0, 0], [n, ho, wo, c]);
}

/**
 * `x · weight` for 2-D tensors, whose gradient uses plain matMuls of explicitly transposed operands:
 * tfjs's own matMul gradient asks for transposed products, which wasm's BatchMatMul computes 3–10×
 * slower than untransposed ones (the other backends take the transposed products: on native an
 * explicit transpose of the [N·H·W, C] activations cost ~0.2 ms, 2,168 times a DARTS step). The
 * weight's gradient is skipped inside `withoutWeightGradients`.
 *
 * @param x `[M, K]`.
 * @param weight `[K, N]`.
 * @returns `[M, N]`.
 */
export function matMul2d(x: tf.Tensor2D, weight: tf.Tensor2D): tf.Tensor2D {
  // Without weight gradients (the α step) the weight is a constant of the kernel, not an input.
  const withWeight = weightGradientsWanted();
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const a = args[0] as tf.Tensor2D;
    const b = withWeight ? args[1] as tf.Tensor2D : weight;
    // dx needs only the weight: the input is kept for the weight's gradient alone.
    (args[args.length - 1] as tf.GradSaveFunc)(withWeight ? [b, a] : [b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [bs, as] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        if (tf.getBackend() !== "wasm") { // the others take transposed operands as they are (native: oneDNN)
          const dx = tf.matMul(g, bs, false, true);
          return withWeight ? [dx, tf.matMul(as, g, true, false)] : [dx];
        }
        const dx = tf.matMul(g, tf.transpose(bs));
        return withWeight ? [dx, tf.matMul(tf.transpose(as), g)] : [dx];
      },
    };
  });
  return (withWeight ? f(x, weight) : f(x)) as tf.Tensor2D;
}

/**
 * Pointwise (1×1) convolution as reshape + matMul; stride 2 takes every other pixel first.
 *
 * @param x Input `[N, H, W, Cin]`.
 * @param weight `[Cin, Cout]`.
 * @param stride 1 or 2.
 * @param offset For stride 2: the phase read (1 is DARTS' FactorizedReduce second path, `x[:, :, 1:, 1:]`).
 * @returns `[N, Ho, Wo, Cout]`.
 */
export function conv1x1(
  x: tf.Tensor4D,
  weight: tf.Tensor2D,
  stride: 1 | 2 = 1,
  offset: 0 | 1 = 0,
): tf.Tensor4D {
  const xs = stride === 2 ? subsample2(x, offset) : x;
  const [n, h, w, c] = xs.shape;
  const y = matMul2d(tf.reshape(xs, [n * h * w, c]), weight);
  return tf.reshape(y, [n, h, w, weight.shape[1]]);
}

/**
 * Depthwise k×k convolution (any dilation, stride 1 or 2, PyTorch "same" padding) as the sum of the
 * shifted slices of the padded input times per-channel weights.
 *
 * @param x Input `[N, H, W, C]`.
 * @param weight `[k, k, C]`.
 * @param stride 1 or 2.
 * @param dilation d ≥ 1.
 * @returns `[N, Ho, Wo, C]`.
 */
export function depthwiseConv(x: tf.Tensor4D, weight: tf.Tensor3D, stride: 1 | 2, dilation = 1): tf.Tensor4D {
  const [k, , c] = weight.shape;
  const taps = windowTaps(x, k, stride, dilation);
  const perTap = tf.unstack(tf.reshape(weight, [k * k, c])) as tf.Tensor1D[];
  return sumTensors(taps.map((tap, i) => tf.mul(tap, perTap[i]!)));
}

/**
 * Full k×k convolution with groups (PyTorch "same" padding) as im2col from shifted slices + matMul.
 * Output channel o reads input group `floor(o / (Cout/g))`, as PyTorch.
 *
 * @param x Input `[N, H, W, Cin]`.
 * @param weight `[k, k, Cin/g, Cout]` (tfjs' filter layout).
 * @param stride 1 or 2.
 * @param dilation d ≥ 1.
 * @param groups g, dividing Cin and Cout.
 * @returns `[N, Ho, Wo, Cout]`.
 */
export function conv(
  x: tf.Tensor4D,
  weight: tf.Tensor4D,
  stride: 1 | 2,
  dilation = 1,
  groups = 1,
): tf.Tensor4D {
  const [k, , cg, cOut] = weight.shape;
  const cIn = x.shape[3];
  if (cg * groups !== cIn || cOut % groups !== 0) {
    throw new Error(`conv(): ${groups} groups do not fit ${cIn} input and ${cOut} output channels`);
  }
  if (k === 1 && dilation === 1 && groups === 1) {
    return conv1x1(x, tf.reshape(weight, [cIn, cOut]), stride);
  }
  const taps = windowTaps(x, k, stride, dilation);
  const [n, ho, wo] = taps[0]!.shape;
  const rows = n * ho * wo;
  if (groups === 1) {
    const patches = tf.reshape(taps.length === 1 ? taps[0]! : tf.concat(taps, 3), [rows, k * k * cIn]);
    return tf.reshape(matMul2d(patches as tf.Tensor2D, tf.reshape(weight, [k * k * cIn, cOut])), [
      n,
      ho,
      wo,
      cOut,
    ]);
  }
  // Grouped: one batched matMul over the groups.
  const patches = tf.transpose(tf.reshape(tf.stack(taps, 3), [rows, k * k, groups, cg]), [2, 0, 1, 3]);
  const w = tf.transpose(tf.reshape(weight, [k * k, cg, groups, cOut / groups]), [2, 0, 1, 3]);
  const y = tf.matMul(
    tf.reshape(patches, [groups, rows, k * k * cg]),
    tf.reshape(w, [groups, k * k * cg, cOut / groups]),
  );
  return tf.reshape(tf.transpose(y, [1, 0, 2]), [n, ho, wo, cOut]);
}

/**
 * k×k max pooling (stride 1 or 2, padding (k−1)/2 of -Infinity) as the maximum over shifted slices.
 *
 * @param x Input `[N, H, W, C]`.
 * @param kernel Odd k.
 * @param stride 1 or 2.
 * @returns `[N, Ho, Wo, C]`.
 */
export function maxPool(x: tf.Tensor4D, kernel: number, stride: 1 | 2): tf.Tensor4D {
  const taps = windowTaps(x, kernel, stride, 1, Number.NEGATIVE_INFINITY);
  return taps.reduce((acc, tap) => tf.maximum(acc, tap));
}

/**
 * The reciprocal count of the real (non-padding) pixels in each window, `[1, Ho, Wo, 1]`.
 *
 * @param h Input height.
 * @param w Input width.
 * @param kernel Odd k.
 * @param stride 1 or 2.
 * @returns A constant tensor.
 */
export function inverseWindowCounts(h: number, w: number, kernel: number, stride: 1 | 2): tf.Tensor4D {
  const pad = samePadding(kernel, 1);
  const counts = (size: number): number[] => {
    const out = windowOutputSize(size, kernel, stride, 1, pad);
    return Array.from({ length: out }, (_, i) => {
      const first = i * stride - pad;
      return Math.min(size, first + kernel) - Math.max(0, first);
    });
  };
  const rows = counts(h);
  const cols = counts(w);
  const values = new Float32Array(rows.length * cols.length);
  rows.forEach((r, i) => cols.forEach((c, j) => (values[i * cols.length + j] = 1 / (r * c))));
  return tf.tensor4d(values, [1, rows.length, cols.length, 1]);
}

/**
 * k×k average pooling (stride 1 or 2, padding (k−1)/2) that excludes the padding from the count
 * (PyTorch's `count_include_pad=False`, as DARTS): the sum of shifted slices times the reciprocal count.
 *
 * @param x Input `[N, H, W, C]`.
 * @param kernel Odd k.
 * @param stride 1 or 2.
 * @returns `[N, Ho, Wo, C]`.
 */
export function avgPool(x: tf.Tensor4D, kernel: number, stride: 1 | 2): tf.Tensor4D {
  const sum = sumTensors(windowTaps(x, kernel, stride, 1));
  return tf.mul(sum, inverseWindowCounts(x.shape[1], x.shape[2], kernel, stride));
}

/** Batch statistics of a batch-norm forward pass in training. */
export interface BatchNormResult {
  readonly y: tf.Tensor4D;
  /** Per-channel batch mean `[C]`. */
  readonly mean: tf.Tensor1D;
  /** Per-channel biased batch variance `[C]` (the one that normalises). */
  readonly variance: tf.Tensor1D;
}

/**
 * Batch norm with batch statistics, by explicit arithmetic (the gradient flows through the mean and
 * variance). `gamma` and `beta` are both given (affine) or both omitted.
 *
 * @param x Input `[N, H, W, C]`.
 * @param eps Added to the variance (PyTorch: 1e-5).
 * @param gamma Scale `[C]`.
 * @param beta Shift `[C]`.
 * @returns The normalised output and the batch statistics.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  eps: number,
  gamma?: tf.Tensor1D,
  beta?: tf.Tensor1D,
): BatchNormResult {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const y = normalize(x, mean as tf.Tensor1D, variance as tf.Tensor1D, eps, gamma, beta);
  return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

/**
 * Batch norm with given (running) statistics.
 *
 * @param x Input `[N, H, W, C]`.
 * @param mean `[C]`.
 * @param variance `[C]`.
 * @param eps Added to the variance.
 * @param gamma Scale `[C]`.
 * @param beta Shift `[C]`.
 * @returns The normalised output.
 */
export function normalize(
  x: tf.Tensor4D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  eps: number,
  gamma?: tf.Tensor1D,
  beta?: tf.Tensor1D,
): tf.Tensor4D {
  const scale = gamma ? tf.mul(tf.rsqrt(tf.add(variance, eps)), gamma) : tf.rsqrt(tf.add(variance, eps));
  // x·scale + (beta − mean·scale): two full-size passes, the rest is per channel.
  const meanScaled = tf.mul(mean, scale);
  const shift = beta ? tf.sub(beta, meanScaled) : tf.neg(meanScaled);
  return tf.add(tf.mul(x, scale), shift);
}

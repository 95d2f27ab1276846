/**
 * Depthwise convolution and max pooling on the backends' native forward kernels, with gradients
 * written out by hand (tf.customGrad), so that backpropagation keeps only the op's input:
 *
 * - depthwise conv: dx is the native depthwise convolution of dy (zero-inserted for stride 2) with
 *   the flipped kernel; dW is Σ over the batch and pixels of each input tap times dy. wasm has no
 *   DepthwiseConv2dNativeBackpropInput/Filter and tfjs has no gradient for dilation > 1: neither is
 *   needed here.
 * - max pool: dy goes to the first maximum of each window (as PyTorch), scattered back by pads;
 *   wasm's MaxPoolGrad (wrong) is not used.
 *
 * The shifted-slice formulations of kernels.ts compute the same values with stock gradients; they
 * keep k² copies of the input alive for backpropagation, these keep one.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { alphaGradientsWanted, weightGradientsWanted } from "./grad_scope.ts";
import { inverseWindowCounts, samePadding, subsample2, sumTensors, windowTaps } from "./composite.ts";
import { shareCopies } from "./shared_data.ts";
import { freeWhileBackpropagating } from "./lean_backprop.ts";
import {
  BATCH_NORM_AFFINE_GRAD,
  BATCH_NORM_AFFINE_TRAIN,
  BATCH_NORM_GRAD,
  BATCH_NORM_TRAIN,
  DEPTHWISE_FILTER_GRAD,
  hasArrayKernel,
  MAX_POOL_GRAD,
  MAX_POOL_INDICES,
  MAX_POOL_INDICES_GRAD,
  RELU_GRAD,
  runArrayKernel,
  WEIGHTED_SUM,
  WEIGHTED_SUM_GRAD,
} from "./array_kernels.ts";

// Saved tensors and wasm's Identity share data, and backpropagation frees what it no longer needs, from
// the first import of the network kernels on.
shareCopies();
freeWhileBackpropagating();

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

/** dy placed at every `stride`-th pixel of a zero map: `[N, H·s, W·s, C]` (the transpose of striding). */
function zeroInsert(dy: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  if (stride === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const zeros = tf.zerosLike(dy);
  const cols = tf.reshape(tf.stack([dy, zeros], 3), [n, h, 2 * w, c]);
  return tf.reshape(tf.stack([cols, tf.zerosLike(cols)], 2), [n, 2 * h, 2 * w, c]) as tf.Tensor4D;
}

/**
 * The adjoint of reading tap (a, b) at `stride` from the zero-padded input: `g` ([N, Ho, Wo, C])
 * scattered to the input's shape `[N, H, W, C]`, padding cropped.
 */
function placeTap(
  g: tf.Tensor4D,
  a: number,
  b: number,
  stride: 1 | 2,
  pad: number,
  shape: readonly [number, number, number, number],
): tf.Tensor4D {
  const [n, h, w, c] = shape;
  const u = zeroInsert(g, stride);
  // u[i] lands on padded row a + i; keep padded rows [pad, pad + h).
  const top = a - pad;
  const left = b - pad;
  const fit = (offset: number, length: number, size: number): [number, number, number] => {
    const start = Math.max(0, -offset);
    const before = Math.max(0, offset);
    const used = Math.max(0, Math.min(length - start, size - before));
    return [start, before, used];
  };
  const [sy, py, hy] = fit(top, u.shape[1], h);
  const [sx, px, wx] = fit(left, u.shape[2], w);
  if (hy === 0 || wx === 0) return tf.zeros([n, h, w, c]);
  const part = tf.slice(u, [0, sy, sx, 0], [n, hy, wx, c]);
  return tf.pad(part, [[0, 0], [py, h - py - hy], [px, w - px - wx], [0, 0]]) as tf.Tensor4D;
}

/**
 * Depthwise k×k convolution (PyTorch "same" padding (k−1)/2·d, stride 1 or 2, any dilation).
 *
 * @param x Input `[N, H, W, C]`.
 * @param weight `[k, k, C]`.
 * @param stride 1 or 2.
 * @param dilation d ≥ 1.
 * @returns `[N, Ho, Wo, C]`.
 */
export function depthwiseConvNative(
  x: tf.Tensor4D,
  weight: tf.Tensor3D,
  stride: 1 | 2,
  dilation = 1,
): tf.Tensor4D {
  // Native kernels take a stride or a dilation, not both: stride 1, then every other pixel.
  if (stride === 2 && dilation > 1) return subsample2(depthwiseConvNative(x, weight, 1, dilation), 0);
  const [k, , c] = weight.shape;
  const p = samePadding(k, dilation);
  const pad: Pad4 = [[0, 0], [p, p], [p, p], [0, 0]];
  // Without weight gradients (the α step) the weight is a constant of the kernel, not an input.
  const withWeight = weightGradientsWanted();
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    const wi = withWeight ? args[1] as tf.Tensor3D : weight;
    const filter = tf.reshape(wi, [k, k, c, 1]) as tf.Tensor4D;
    // dx needs only the filter: the input is kept for the filter's gradient alone.
    (args[args.length - 1] as tf.GradSaveFunc)(withWeight ? [filter, xi] : [filter]);
    const value = tf.depthwiseConv2d(xi, filter, stride, pad, "NHWC", dilation);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [filterSaved, xs] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        const dx = inputGrad(g, filterSaved, xi.shape, stride, dilation);
        return withWeight ? [dx, filterGrad(g, xs, k, stride, dilation)] : [dx];
      },
    };
  });
  return (withWeight ? f(x, weight) : f(x)) as tf.Tensor4D;
}

/**
 * dx of a depthwise convolution: dy (zero-inserted for stride 2) correlated with the flipped kernel,
 * padded so that the output has the input's size (no crop). `flip: false` for a symmetric kernel.
 */
function inputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  shape: readonly [number, number, number, number],
  stride: 1 | 2,
  dilation: number,
  flip = true,
): tf.Tensor4D {
  const [n, h, w, c] = shape;
  const [k] = filter.shape;
  const p = samePadding(k, dilation);
  const u = zeroInsert(dy, stride);
  const kernel = flip ? tf.reverse(filter, [0, 1]) : filter;
  // dx[r] = Σ_b u[r − p + b·d]·flipped[b]: pad p before; after, as much as gives h rows.
  const bottom = p + h - u.shape[1];
  const right = p + w - u.shape[2];
  if (bottom >= 0 && right >= 0) {
    return tf.depthwiseConv2d(u, kernel, 1, [[0, 0], [p, bottom], [p, right], [0, 0]], "NHWC", dilation);
  }
  const full = tf.depthwiseConv2d(
    u,
    kernel,
    1,
    [[0, 0], [p, Math.max(0, bottom)], [p, Math.max(0, right)], [0, 0]],
    "NHWC",
    dilation,
  );
  return tf.slice(full, [0, 0, 0, 0], [n, h, w, c]);
}

/**
 * dW[a, b, c] = Σ_{n, y, x} xpad[n, s·y + d·a, s·x + d·b, c] · dy[n, y, x, c]: one native depthwise
 * correlation of the padded input with dy as the filter, batch folded into the channels.
 */
function filterGrad(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  k: number,
  stride: 1 | 2,
  dilation: number,
): tf.Tensor3D {
  const p = samePadding(k, dilation);
  if (hasArrayKernel(DEPTHWISE_FILTER_GRAD)) {
    return runArrayKernel(DEPTHWISE_FILTER_GRAD, { x, dy }, {
      kernel: k,
      stride,
      dilation,
      pad: p,
    }) as tf.Tensor3D;
  }
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = dy.shape;
  const hp = h + 2 * p;
  const wp = w + 2 * p;
  const input = tf.reshape(tf.transpose(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]), [1, 2, 0, 3]), [
    1,
    hp,
    wp,
    n * c,
  ]);
  const filter = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [ho, wo, n * c, 1]);
  const out = tf.depthwiseConv2d(
    input as tf.Tensor4D,
    filter as tf.Tensor4D,
    dilation,
    "valid",
    "NHWC",
    stride,
  );
  const taps = tf.slice(out, [0, 0, 0, 0], [1, k, k, n * c]);
  return tf.sum(tf.reshape(taps, [k, k, n, c]), 2) as tf.Tensor3D;
}

/**
 * k×k max pooling, padding (k−1)/2 ignored, stride 1 or 2; the gradient goes to the first maximum
 * of each window in row-major order, as PyTorch.
 *
 * @param x Input `[N, H, W, C]`.
 * @param kernel Odd k.
 * @param stride 1 or 2.
 * @returns `[N, Ho, Wo, C]`.
 */
export function maxPoolNative(x: tf.Tensor4D, kernel: number, stride: 1 | 2): tf.Tensor4D {
  const p = samePadding(kernel, 1);
  const window = { kernel, stride, dilation: 1, pad: p };
  if (hasArrayKernel(MAX_POOL_INDICES)) {
    // Backpropagation keeps where the maxima were, not the input and output.
    const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const xi = args[0] as tf.Tensor4D;
      const [value, indices] = runArrayKernel(MAX_POOL_INDICES, { x: xi }, window) as tf.Tensor[];
      (args[1] as tf.GradSaveFunc)([indices!]);
      return {
        value: value!,
        gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => [
          runArrayKernel(MAX_POOL_INDICES_GRAD, { dy, indices: saved! }, {
            ...window,
            inputShape: [...xi.shape],
          }) as tf.Tensor4D,
        ],
      };
    });
    return g(x) as tf.Tensor4D;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    const value = tf.maxPool(xi, kernel, stride, p);
    (args[1] as tf.GradSaveFunc)([xi, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, y] = saved as [tf.Tensor4D, tf.Tensor4D];
        if (hasArrayKernel(MAX_POOL_GRAD)) {
          return [
            runArrayKernel(MAX_POOL_GRAD, { x: xs, dy }, {
              kernel,
              stride,
              dilation: 1,
              pad: p,
            }) as tf.Tensor4D,
          ];
        }
        const taps = windowTaps(xs, kernel, stride, 1, Number.NEGATIVE_INFINITY);
        let free = tf.onesLike(y);
        const parts = taps.map((tap, t) => {
          const first = tf.mul(tf.cast(tf.equal(tap, y), "float32"), free);
          free = tf.sub(free, first);
          return placeTap(
            tf.mul(first, dy) as tf.Tensor4D,
            Math.floor(t / kernel),
            t % kernel,
            stride,
            p,
            xs.shape,
          );
        });
        return [sumTensors(parts)];
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

/**
 * k×k average pooling, padding (k−1)/2 excluded from the count (PyTorch's count_include_pad=False,
 * as DARTS). tfjs's forward excludes the padding but its AvgPoolGrad divides by k² everywhere, so the
 * gradient is written here: dy over each window's count, summed back by a native depthwise
 * correlation with a kernel of ones.
 *
 * @param x Input `[N, H, W, C]`.
 * @param kernel Odd k.
 * @param stride 1 or 2.
 * @returns `[N, Ho, Wo, C]`.
 */
export function avgPoolNative(x: tf.Tensor4D, kernel: number, stride: 1 | 2): tf.Tensor4D {
  const p = samePadding(kernel, 1);
  const [, h, w, c] = x.shape;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    return {
      value: tf.avgPool(xi, kernel, stride, p),
      gradFunc: (dy: tf.Tensor) => {
        const scaled = tf.mul(dy, inverseWindowCounts(h, w, kernel, stride)) as tf.Tensor4D;
        return [
          inputGrad(scaled, tf.ones([kernel, kernel, c, 1]) as tf.Tensor4D, xi.shape, stride, 1, false),
        ];
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

/** Receives a batch norm's batch statistics inside its forward pass (e.g. to update running ones). */
export type StatisticsSink = (mean: tf.Tensor1D, variance: tf.Tensor1D) => void;

/**
 * Batch norm with batch statistics, forward and gradient written out with few kernels: one each on
 * cpu and wasm (array_kernels.ts); elsewhere the forward takes seven (mean, centre, square, mean,
 * add ε, rsqrt, scale) and the gradient seven (dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))/σ); two to
 * four more when affine. Backpropagation keeps x̂ and 1/σ only.
 * `gamma` and `beta` are both given (affine) or both omitted.
 *
 * @param x Input `[N, H, W, C]`.
 * @param eps Added to the variance (PyTorch: 1e-5).
 * @param gamma Scale `[C]`.
 * @param beta Shift `[C]`.
 * @param onStatistics Called once per forward with the batch mean and biased variance (valid only
 * during the call; keep or use them there).
 * @returns The normalised output.
 */
export function batchNormTrainNative(
  x: tf.Tensor4D,
  eps: number,
  gamma?: tf.Tensor1D,
  beta?: tf.Tensor1D,
  onStatistics?: StatisticsSink,
): tf.Tensor4D {
  const axes = [0, 1, 2];
  if (gamma && beta && hasArrayKernel(BATCH_NORM_AFFINE_TRAIN)) {
    return affineBatchNorm(x, eps, gamma, beta, onStatistics);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as [tf.Tensor4D, tf.Tensor1D | undefined, tf.Tensor1D | undefined];
    const arrays = hasArrayKernel(BATCH_NORM_TRAIN);
    let xhat: tf.Tensor4D;
    let rstd: tf.Tensor1D;
    if (arrays) {
      const [xh, mean, variance, r] = runArrayKernel(BATCH_NORM_TRAIN, { x: xi }, { eps }) as tf.Tensor[];
      onStatistics?.(mean as tf.Tensor1D, variance as tf.Tensor1D);
      [xhat, rstd] = [xh as tf.Tensor4D, r as tf.Tensor1D];
    } else {
      const mean = tf.mean(xi, axes) as tf.Tensor1D;
      const centred = tf.sub(xi, mean);
      const variance = tf.mean(tf.square(centred), axes) as tf.Tensor1D;
      onStatistics?.(mean, variance);
      rstd = tf.rsqrt(tf.add(variance, eps));
      xhat = tf.mul(centred, rstd);
    }
    (args[args.length - 1] as tf.GradSaveFunc)(gamma ? [xhat, rstd, g!] : [xhat, rstd]);
    return {
      value: gamma ? tf.add(tf.mul(xhat, g!), b!) : xhat,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gs] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D | undefined];
        if (arrays) {
          const dx = runArrayKernel(BATCH_NORM_GRAD, { dy: gs ? tf.mul(dy, gs) : dy, xhat: xh, rstd: r }, {});
          return gs ? [dx as tf.Tensor, tf.sum(tf.mul(dy, xh), axes), tf.sum(dy, axes)] : [dx as tf.Tensor];
        }
        if (!gs) {
          const m1 = tf.mean(dy, axes);
          const m2 = tf.mean(tf.mul(dy, xh), axes);
          return [tf.mul(tf.sub(tf.sub(dy, m1), tf.mul(xh, m2)), r)];
        }
        // Affine: Σdy and Σdy·x̂ are β's and γ's gradients, and give the means of dx̂ = dy·γ.
        const count = dy.size / dy.shape[dy.rank - 1]!;
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xh), axes);
        const scale = tf.mul(gs, r);
        const perCount = tf.mul(scale, 1 / count);
        const m1 = tf.mul(dBeta, perCount);
        const m2 = tf.mul(dGamma, perCount);
        const dx = tf.sub(tf.sub(tf.mul(dy, scale), m1), tf.mul(xh, m2));
        return [dx, dGamma, dBeta];
      },
    };
  });
  return (gamma && beta ? f(x, gamma, beta) : f(x)) as tf.Tensor4D;
}

/**
 * The affine batch norm in two kernels (native): the forward returns y and the statistics, the gradient
 * dx, dγ and dβ at once. Backpropagation keeps x, the mean and 1/σ (x̂ is recomputed inside the gradient).
 */
function affineBatchNorm(
  x: tf.Tensor4D,
  eps: number,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  onStatistics?: StatisticsSink,
): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const [y, mean, variance, rstd] = runArrayKernel(
      BATCH_NORM_AFFINE_TRAIN,
      { x: xi, gamma: g, beta: b },
      { eps },
    ) as tf.Tensor[];
    onStatistics?.(mean as tf.Tensor1D, variance as tf.Tensor1D);
    (args[args.length - 1] as tf.GradSaveFunc)([xi, mean!, rstd!, g]);
    return {
      value: y as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor, [xs, m, r, gs]: tf.Tensor[]) =>
        runArrayKernel(
          BATCH_NORM_AFFINE_GRAD,
          { dy, x: xs!, mean: m!, rstd: r!, gamma: gs! },
          {},
        ) as tf.Tensor[],
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * Σ_k φ[at_k]·terms_k (a mixed op's weighted sum, eq. 2) as one matMul of the stacked terms, and its
 * gradient as an outer product and a matMul: dterms = φ ⊗ dy, dφ = terms · dy. `at` picks which entry of φ weighs each term
 * (the others get a zero gradient), e.g. when a zero op has a weight but no term.
 *
 * @param terms Tensors of one shape, at least one.
 * @param phi The weights `[K]`.
 * @param at For each term, its index in `phi` (default: term k has weight φ[k]; then K = terms).
 * @returns The weighted sum, shaped as each term.
 * @example
 * ```ts
 * import { weightedSum } from "./custom_grad.ts";
 * import { tf } from "../deps.ts";
 * await tf.setBackend("cpu");
 * const y = weightedSum([tf.ones([2, 2]), tf.fill([2, 2], 2)], tf.tensor1d([0, 0.5, 0.5]), [1, 2]);
 * if (!(y.dataSync()[0] === 1.5)) throw new Error("the example's claim does not hold");
 * ```
 */
export function weightedSum<T extends tf.Tensor>(
  terms: readonly T[],
  phi: tf.Tensor1D,
  at?: readonly number[],
): T {
  const k = terms.length;
  const shape = terms[0]!.shape;
  const size = terms[0]!.size;
  const slots = phi.shape[0];
  const picks = at ?? terms.map((_, i) => i);
  if (picks.length !== k || picks.some((p) => p < 0 || p >= slots)) {
    throw new Error(
      `weightedSum(): ${k} terms do not match their ${picks.length} indices into ${slots} weights`,
    );
  }
  const identity = k === slots && picks.every((p, i) => p === i);
  // The selection matrix [slots, k]: column j is one-hot at picks[j].
  const select = identity ? null : (() => {
    const values = new Float32Array(slots * k);
    picks.forEach((p, j) => values[p * k + j] = 1);
    return values;
  })();
  // Inside withoutAlphaGradients (the w step) Φ's gradient is zeros: nothing reads it.
  const phiGrad = alphaGradientsWanted();
  if (hasArrayKernel(WEIGHTED_SUM)) {
    // One kernel each way, and no stacked copy of the terms.
    const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const xs = args.slice(0, k + 1) as tf.Tensor[];
      (args[k + 1] as tf.GradSaveFunc)(xs);
      const named = (ts: tf.Tensor[]) => Object.fromEntries(ts.map((t, i) => [`t${i}`, t]));
      return {
        value: runArrayKernel(WEIGHTED_SUM, { phi: xs[k]!, ...named(xs.slice(0, k)) }, {
          at: [...picks],
        }) as tf.Tensor,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          runArrayKernel(WEIGHTED_SUM_GRAD, { dy, phi: saved[k]!, ...named(saved.slice(0, k)) }, {
            at: [...picks],
            phiGrad: phiGrad ? 1 : 0,
          }) as tf.Tensor[],
      };
    });
    return g(...terms, phi) as T;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, k) as tf.Tensor[];
    const p = args[k] as tf.Tensor1D;
    const stacked = tf.reshape(tf.stack(xs), [k, size]) as tf.Tensor2D;
    const row = tf.reshape(p, [1, slots]) as tf.Tensor2D;
    const w = select ? tf.matMul(row, tf.tensor2d(select, [slots, k])) : row;
    (args[k + 1] as tf.GradSaveFunc)([stacked, w]);
    return {
      value: tf.reshape(tf.matMul(w, stacked), shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ys, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        // dy is a matMul operand in one shape only: wasm's matMul caches its second operand's layout
        // by buffer, and a buffer met again in another shape crashes it.
        const dTerms = tf.unstack(tf.reshape(tf.mul(tf.reshape(ws, [k, 1]), tf.reshape(dy, [1, size])), [
          k,
          ...shape,
        ]));
        if (!phiGrad) return [...dTerms, tf.zeros([slots])];
        const dPicked = tf.matMul(ys, tf.reshape(dy, [size, 1]) as tf.Tensor2D);
        const dPhi = select ? tf.matMul(tf.tensor2d(select, [slots, k]), dPicked) : dPicked;
        return [...dTerms, tf.reshape(dPhi, [slots])];
      },
    };
  });
  return f(...terms, phi) as T;
}

/**
 * ReLU whose gradient takes two kernels (tfjs's own takes three: it casts), computed from the output:
 * backpropagation keeps y only.
 *
 * @param x Any tensor.
 * @returns max(x, 0).
 */
export function reluNative<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const y = tf.relu(args[0] as tf.Tensor);
    (args[1] as tf.GradSaveFunc)([y]);
    return {
      value: y,
      // Two wasm kernels beat one JavaScript loop here (measured at batch 8 and 16); native has one.
      gradFunc: (dy: tf.Tensor, [ys]: tf.Tensor[]) =>
        hasArrayKernel(RELU_GRAD)
          ? runArrayKernel(RELU_GRAD, { dy, y: ys! }, {}) as tf.Tensor
          : tf.mul(dy, tf.step(ys!)),
    };
  });
  return f(x) as T;
}

/**
 * Gradient kernels written as loops over float32 arrays, registered for the two CPU backends (cpu,
 * wasm), where a tensor's data is a typed array in memory: one kernel dispatch where the tfjs ops
 * take ten to a hundred. Other backends keep the composite formulations (custom_grad.ts asks
 * {@linkcode hasArrayKernel} first).
 *
 * - `AsapMaxPoolGrad`: dy to the first maximum (row-major) of each window, as PyTorch.
 * - `AsapDepthwiseFilterGrad`: dW[a, b, c] = Σ_{n, y, x} x[n, s·y + d·a − p, s·x + d·b − p, c] · dy[n, y, x, c].
 * - `AsapBatchNormTrain`, `AsapBatchNormGrad`: batch norm's forward (statistics in float64) and gradient,
 *   one kernel each instead of seven.
 * - `AsapMomentumUpdate`: a running statistic's update, one kernel instead of three.
 * - `AsapSgdUpdate`: one weight's SGD step (clipping scale, weight decay, momentum, Nesterov), one kernel
 *   instead of seven, with every operation rounded to float32 in the same order as the seven.
 * - `AsapWeightedSum`, `AsapWeightedSumGrad`: a mixed op's Σ φ·term and its gradient, without stacking
 *   the terms (no copy).
 *
 * The native backend registers these too (native/array_kernels.ts), and two of its own:
 * `AsapMaxPoolIndices` (max pooling that also returns where each maximum was, as float32 plane indices)
 * and `AsapMaxPoolIndicesGrad` (dy scattered back to those indices), so that backpropagation keeps the
 * indices and need not pool again; and, for the evaluation network, `AsapBatchNormAffineTrain` and
 * `AsapBatchNormAffineGrad` (an affine batch norm's forward and its gradient with γ's and β's, one kernel
 * each instead of three and six) and `AsapReluGrad` (dy where y > 0: one kernel instead of two).
 *
 * @module
 */
import { tf } from "../deps.ts";

/** The kernels of this module. */
export const MAX_POOL_GRAD = "AsapMaxPoolGrad";
export const MAX_POOL_INDICES = "AsapMaxPoolIndices";
export const MAX_POOL_INDICES_GRAD = "AsapMaxPoolIndicesGrad";
export const DEPTHWISE_FILTER_GRAD = "AsapDepthwiseFilterGrad";
export const BATCH_NORM_TRAIN = "AsapBatchNormTrain";
export const BATCH_NORM_GRAD = "AsapBatchNormGrad";
export const MOMENTUM_UPDATE = "AsapMomentumUpdate";
export const SGD_UPDATE = "AsapSgdUpdate";
export const WEIGHTED_SUM = "AsapWeightedSum";
export const WEIGHTED_SUM_GRAD = "AsapWeightedSumGrad";
/** Native only (native/array_kernels.ts): an affine batch norm's forward and its gradient, a relu's gradient. */
export const BATCH_NORM_AFFINE_TRAIN = "AsapBatchNormAffineTrain";
export const BATCH_NORM_AFFINE_GRAD = "AsapBatchNormAffineGrad";
export const RELU_GRAD = "AsapReluGrad";

/** Window attributes of the pooling and convolution kernels. */
export interface WindowAttrs {
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  /** Padding before the first row and column (PyTorch's symmetric padding). */
  readonly pad: number;
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}

type Attrs = Record<string, number | number[]>;
/** A kernel body: outputs and inputs as tuples of float32 arrays (typed per kernel, hence `never` here). */
type Compute = (outs: never, inputs: never, shapes: number[][], attrs: Attrs) => void;

/**
 * Registers `compute` for cpu and wasm as kernel `name`: float32 inputs in the order of `names`,
 * float32 outputs of the shapes `outShapes` gives (one output: a tensor, more: a list), which
 * `compute` writes in full (on wasm they start with whatever the heap held).
 */
function register(
  name: string,
  names: readonly string[] | ((inputs: tf.NamedTensorInfoMap) => string[]),
  outShapes: (shapes: number[][], attrs: Attrs) => number[][],
  compute: Compute,
): void {
  const wasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackend;
    const infos = (typeof names === "function" ? names(inputs) : names).map((n) =>
      inputs[n] as tf.TensorInfo
    );
    const shapes = infos.map((i) => [...i.shape]);
    const a = attrs as unknown as Attrs;
    const outs = outShapes(shapes, a).map((shape) => b.makeOutput(shape, "float32"));
    // Views after the allocations: a growing heap detaches earlier ones.
    const values = outs.map((o) => b.typedArrayFromHeap(o));
    compute(values as never, infos.map((i) => b.typedArrayFromHeap(i)) as never, shapes, a);
    return outs.length === 1 ? outs[0]! : outs;
  };
  const cpu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as unknown as CpuBackend;
    const infos = (typeof names === "function" ? names(inputs) : names).map((n) =>
      inputs[n] as tf.TensorInfo
    );
    const shapes = infos.map((i) => [...i.shape]);
    const a = attrs as unknown as Attrs;
    const out = outShapes(shapes, a);
    const values = out.map((shape) => new Float32Array(shape.reduce((p, d) => p * d, 1)));
    compute(values as never, infos.map((i) => b.data.get(i.dataId).values) as never, shapes, a);
    const infosOut = out.map((shape, i) => b.makeTensorInfo(shape, "float32", values[i]!));
    return infosOut.length === 1 ? infosOut[0]! : infosOut;
  };
  for (const [backendName, kernelFunc] of [["wasm", wasm], ["cpu", cpu]] as const) {
    if (!tf.getKernel(name, backendName)) tf.registerKernel({ kernelName: name, backendName, kernelFunc });
  }
}

let enabled = true;

/**
 * Turns the array kernels off (or on again): the composite formulations run on every backend, as on
 * webgpu (tests check both against the same references).
 *
 * @param on Whether to use the array kernels where they are registered.
 */
export function useArrayKernels(on: boolean): void {
  enabled = on;
}

/** Whether kernel `name` runs on the active backend. */
export function hasArrayKernel(name: string): boolean {
  return enabled && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** dx of max pooling: inputs x `[N, H, W, C]`, dy `[N, Ho, Wo, C]`. */
function maxPoolGrad(
  [out]: [Float32Array],
  [x, dy]: [Float32Array, Float32Array],
  [xs, ys]: number[][],
  a: Attrs,
): void {
  const [n, h, w, c] = xs as [number, number, number, number];
  const [, ho, wo] = ys as [number, number, number, number];
  const { kernel: k, stride: s, pad: p } = a as { kernel: number; stride: number; pad: number };
  out.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      const i0 = Math.max(0, p - oy * s);
      const i1 = Math.min(k, h + p - oy * s);
      for (let ox = 0; ox < wo; ox++) {
        const j0 = Math.max(0, p - ox * s);
        const j1 = Math.min(k, w + p - ox * s);
        // The window's first real pixel starts the search; strictly greater keeps the first maximum.
        const start = ((b * h + oy * s - p + i0) * w + ox * s - p + j0) * c;
        for (let ch = 0; ch < c; ch++) {
          best[ch] = x[start + ch]!;
          where[ch] = start + ch;
        }
        for (let i = i0; i < i1; i++) {
          const row = (b * h + oy * s - p + i) * w + ox * s - p;
          for (let j = i === i0 ? j0 + 1 : j0; j < j1; j++) {
            const base = (row + j) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                where[ch] = base + ch;
              }
            }
          }
        }
        const g = ((b * ho + oy) * wo + ox) * c;
        for (let ch = 0; ch < c; ch++) out[where[ch]!] = out[where[ch]!]! + dy[g + ch]!;
      }
    }
  }
}

/** dW of a depthwise convolution: inputs x `[N, H, W, C]`, dy `[N, Ho, Wo, C]`; output `[k, k, C]`. */
function depthwiseFilterGrad(
  [out]: [Float32Array],
  [x, dy]: [Float32Array, Float32Array],
  [xs, ys]: number[][],
  a: Attrs,
): void {
  const [n, h, w, c] = xs as [number, number, number, number];
  const [, ho, wo] = ys as [number, number, number, number];
  const { kernel: k, stride: s, dilation: d, pad: p } = a as unknown as WindowAttrs;
  const acc = new Float64Array(c);
  const run = new Float64Array(wo * c);
  // Output columns whose input column ox·s + off lies in [0, w).
  const first = (off: number) => Math.max(0, Math.ceil(-off / s));
  const end = (off: number, size: number, outSize: number) =>
    Math.min(outSize, Math.floor((size - 1 - off) / s) + 1);
  for (let i = 0; i < k; i++) {
    const offY = i * d - p;
    const y0 = first(offY);
    const y1 = end(offY, h, ho);
    for (let j = 0; j < k; j++) {
      const offX = j * d - p;
      const x0 = first(offX);
      const x1 = end(offX, w, wo);
      acc.fill(0);
      if (s === 1) {
        // Stride 1: the pixels of a row are one contiguous run in x and dy; sum runs, then fold them.
        const len = Math.max(0, x1 - x0) * c;
        run.fill(0, 0, len);
        for (let b = 0; b < n; b++) {
          for (let oy = y0; oy < y1; oy++) {
            const xb = ((b * h + oy + offY) * w + x0 + offX) * c;
            const gb = ((b * ho + oy) * wo + x0) * c;
            for (let t = 0; t < len; t++) run[t] = run[t]! + x[xb + t]! * dy[gb + t]!;
          }
        }
        for (let t = 0; t < len; t += c) for (let ch = 0; ch < c; ch++) acc[ch] = acc[ch]! + run[t + ch]!;
      } else {
        for (let b = 0; b < n; b++) {
          for (let oy = y0; oy < y1; oy++) {
            const rowX = (b * h + oy * s + offY) * w;
            const rowG = (b * ho + oy) * wo;
            for (let ox = x0; ox < x1; ox++) {
              const xb = (rowX + ox * s + offX) * c;
              const gb = (rowG + ox) * c;
              for (let ch = 0; ch < c; ch++) acc[ch] = acc[ch]! + x[xb + ch]! * dy[gb + ch]!;
            }
          }
        }
      }
      const tap = (i * k + j) * c;
      for (let ch = 0; ch < c; ch++) out[tap + ch] = acc[ch]!;
    }
  }
}

/** Batch statistics per channel of `[M, C]` and x̂ = (x − mean)·rstd; outputs x̂, mean, variance, rstd. */
function batchNormTrain(
  [xhat, mean, variance, rstd]: [Float32Array, Float32Array, Float32Array, Float32Array],
  [x]: [Float32Array],
  [xs]: number[][],
  a: Attrs,
): void {
  const c = xs![xs!.length - 1]!;
  const m = x.length / c;
  // Two passes in float64, as the composite formulation: the mean, then Σ(x − mean)².
  const sum = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) for (let ch = 0; ch < c; ch++) sum[ch] = sum[ch]! + x[i + ch]!;
  for (let ch = 0; ch < c; ch++) mean[ch] = sum[ch]! / m;
  const squares = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) {
    for (let ch = 0; ch < c; ch++) {
      const d = x[i + ch]! - mean[ch]!;
      squares[ch] = squares[ch]! + d * d;
    }
  }
  for (let ch = 0; ch < c; ch++) {
    variance[ch] = squares[ch]! / m;
    rstd[ch] = 1 / Math.sqrt(variance[ch]! + (a["eps"] as number));
  }
  for (let i = 0; i < x.length; i += c) {
    for (let ch = 0; ch < c; ch++) xhat[i + ch] = (x[i + ch]! - mean[ch]!) * rstd[ch]!;
  }
}

/** dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))·rstd per channel; inputs dx̂, x̂, rstd. */
function batchNormGrad(
  [dx]: [Float32Array],
  [dy, xhat, rstd]: [Float32Array, Float32Array, Float32Array],
  [ys]: number[][],
): void {
  const c = ys![ys!.length - 1]!;
  const m = dy.length / c;
  const s1 = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let i = 0; i < dy.length; i += c) {
    for (let ch = 0; ch < c; ch++) {
      const g = dy[i + ch]!;
      s1[ch] = s1[ch]! + g;
      s2[ch] = s2[ch]! + g * xhat[i + ch]!;
    }
  }
  const m1 = new Float32Array(c);
  const m2 = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    m1[ch] = s1[ch]! / m;
    m2[ch] = s2[ch]! / m;
  }
  for (let i = 0; i < dy.length; i += c) {
    for (let ch = 0; ch < c; ch++) {
      dx[i + ch] = (dy[i + ch]! - m1[ch]! - xhat[i + ch]! * m2[ch]!) * rstd[ch]!;
    }
  }
}

/** Σ_k φ[at_k]·t_k; inputs φ, t_0 … t_{K−1}. */
function weightedSum([out]: [Float32Array], [phi, ...terms]: Float32Array[], _: number[][], a: Attrs): void {
  const at = a["at"] as number[];
  const w = (k: number) => k < terms.length ? phi![at[k]!]! : 0;
  // Up to four terms per pass over the output (memory-bound: fewer passes, less traffic).
  for (let k = 0; k < terms.length; k += 4) {
    const keep = k > 0; // the first pass overwrites (wasm outputs start as garbage, maybe NaN)
    const [t0, t1, t2, t3] = [terms[k]!, terms[k + 1], terms[k + 2], terms[k + 3]];
    const [w0, w1, w2, w3] = [w(k), w(k + 1), w(k + 2), w(k + 3)];
    if (t1 && t2 && t3) {
      for (let i = 0; i < out.length; i++) {
        out[i] = (keep ? out[i]! : 0) + w0 * t0[i]! + w1 * t1[i]! + w2 * t2[i]! + w3 * t3[i]!;
      }
    } else if (t1 && t2) {
      for (let i = 0; i < out.length; i++) {
        out[i] = (keep ? out[i]! : 0) + w0 * t0[i]! + w1 * t1[i]! + w2 * t2[i]!;
      }
    } else if (t1) {
      for (let i = 0; i < out.length; i++) out[i] = (keep ? out[i]! : 0) + w0 * t0[i]! + w1 * t1[i]!;
    } else {
      for (let i = 0; i < out.length; i++) out[i] = (keep ? out[i]! : 0) + w0 * t0[i]!;
    }
  }
}

/** Outputs dt_k = φ[at_k]·dy for each term, then dφ (Σ t_k·dy at at_k, 0 elsewhere); inputs dy, φ, t_0 … t_{K−1}. */
function weightedSumGrad(
  outs: Float32Array[],
  [dy, phi, ...terms]: Float32Array[],
  _: number[][],
  a: Attrs,
): void {
  const at = a["at"] as number[];
  const withPhi = a["phiGrad"] !== 0; // 0: Φ's gradient is not wanted (zeros)
  const dPhi = outs[terms.length]!.fill(0);
  terms.forEach((t, k) => {
    const w = phi![at[k]!]!;
    const dt = outs[k]!;
    let sum = 0;
    for (let i = 0; i < dt.length; i++) {
      const g = dy![i]!;
      dt[i] = w * g;
      sum += t[i]! * g;
    }
    if (withPhi) dPhi[at[k]!] = sum;
  });
}

/** (1 − momentum)·running + momentum·scale·batch. */
function momentumUpdate(
  [out]: [Float32Array],
  [running, batch]: [Float32Array, Float32Array],
  _: number[][],
  a: Attrs,
): void {
  const m = a["momentum"] as number;
  const scale = a["scale"] as number;
  for (let i = 0; i < out.length; i++) out[i] = (1 - m) * running[i]! + m * scale * batch[i]!;
}

/**
 * w and the momentum buffer after one SGD step, as the composed tfjs ops compute them (each result
 * rounded to float32): g ← g·scale (+ w·decay); buf ← buf·momentum + g; w ← w − lr·(Nesterov ?
 * g + buf·momentum : buf).
 */
function sgdUpdate(
  [wOut, bufOut]: [Float32Array, Float32Array],
  [w, g, buf, scale]: [Float32Array, Float32Array, Float32Array, Float32Array],
  _: number[][],
  a: Attrs,
): void {
  const f = Math.fround;
  const lr = f(a["lr"] as number);
  const m = f(a["momentum"] as number);
  const decay = f(a["weightDecay"] as number);
  const nesterov = a["nesterov"] === 1;
  const s = scale[0]!;
  for (let i = 0; i < w.length; i++) {
    let gi = f(g[i]! * s);
    if (decay !== 0) gi = f(gi + f(w[i]! * decay));
    const b = f(f(buf[i]! * m) + gi);
    const d = nesterov ? f(gi + f(b * m)) : b;
    bufOut[i] = b;
    wOut[i] = f(w[i]! - f(d * lr));
  }
}

register(MAX_POOL_GRAD, ["x", "dy"], ([xs]) => [xs!], maxPoolGrad);
register(SGD_UPDATE, ["w", "g", "buf", "scale"], ([ws]) => [ws!, ws!], sgdUpdate);
register(
  DEPTHWISE_FILTER_GRAD,
  ["x", "dy"],
  ([xs], a) => [[a["kernel"] as number, a["kernel"] as number, xs![3]!]],
  depthwiseFilterGrad,
);
register(BATCH_NORM_TRAIN, ["x"], ([xs]) => {
  const c = xs![xs!.length - 1]!;
  return [xs!, [c], [c], [c]];
}, batchNormTrain);
register(BATCH_NORM_GRAD, ["dy", "xhat", "rstd"], ([ys]) => [ys!], batchNormGrad);
register(MOMENTUM_UPDATE, ["running", "batch"], ([rs]) => [rs!], momentumUpdate);
/** t_0 … t_{K−1}: the inputs besides the `others` named ones. */
const termNames = (inputs: tf.NamedTensorInfoMap, others: number) =>
  Array.from({ length: Object.keys(inputs).length - others }, (_, k) => `t${k}`);
register(WEIGHTED_SUM, (inputs) => ["phi", ...termNames(inputs, 1)], ([, ts]) => [ts!], weightedSum);
register(
  WEIGHTED_SUM_GRAD,
  (inputs) => ["dy", "phi", ...termNames(inputs, 2)],
  ([ys, phi, ...ts]) => [...ts.map(() => ys!), phi!],
  weightedSumGrad,
);

/**
 * Runs one of this module's kernels on the active backend (check {@linkcode hasArrayKernel} first).
 *
 * @param name A kernel name exported here.
 * @param inputs Its inputs by name (x and dy for the window kernels).
 * @param attrs Its attributes (a {@linkcode WindowAttrs} for the window kernels, eps, momentum, scale).
 * @returns Its output, or its outputs in order.
 */
export function runArrayKernel(
  name: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, number | number[]> | WindowAttrs,
): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
}

/**
 * A running statistic's next value, (1 − momentum)·running + momentum·scale·batch: one kernel where
 * the array kernels run, three elsewhere.
 *
 * @param running The running statistic `[C]`.
 * @param batch The batch statistic `[C]`.
 * @param momentum PyTorch's momentum (0.1).
 * @param scale Multiplies the batch statistic (n/(n − 1) for an unbiased variance).
 * @returns The new value.
 */
export function momentumStep(
  running: tf.Tensor1D,
  batch: tf.Tensor1D,
  momentum: number,
  scale = 1,
): tf.Tensor1D {
  if (hasArrayKernel(MOMENTUM_UPDATE)) {
    return runArrayKernel(MOMENTUM_UPDATE, { running, batch }, { momentum, scale }) as tf.Tensor1D;
  }
  return tf.add(tf.mul(running, 1 - momentum), tf.mul(batch, momentum * scale));
}

// Each kernel formulation of runtime/kernels/composite.ts against the plain tfjs op on the cpu backend (the
// reference): forward within 1e-5, gradients w.r.t. input and weights within 1e-4.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import {
  avgPool,
  batchNormTrain,
  conv,
  conv1x1,
  depthwiseConv,
  inverseWindowCounts,
  maxPool,
  normalize,
  subsample2,
} from "../runtime/kernels/composite.ts";
import { useBackend } from "../runtime/kernels/backend.ts";

await useBackend("cpu");

const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-4;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}

type Fn = (...inputs: tf.Tensor[]) => tf.Tensor;

/**
 * Checks `ours` against `reference` on `inputs`: outputs, and the gradients of Σ f·r (r random) with
 * respect to every input.
 */
function assertSameFunction(ours: Fn, reference: Fn, inputs: tf.Tensor[], label: string): void {
  tf.tidy(() => {
    const yOurs = ours(...inputs);
    const yRef = reference(...inputs);
    const fwd = maxAbsDiff(yOurs, yRef);
    assert.ok(fwd <= FORWARD_TOL, `${label}: forward differs by ${fwd}`);
    const r = tf.randomNormal(yRef.shape, 0, 1, "float32", 7);
    const gOurs = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(ours(...xs), r)))(inputs);
    const gRef = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(reference(...xs), r)))(inputs);
    gOurs.forEach((g, i) => {
      const d = maxAbsDiff(g, gRef[i]!);
      assert.ok(d <= GRAD_TOL, `${label}: gradient of input ${i} differs by ${d}`);
    });
  });
}

/** Inserts d − 1 zeros between the taps of a kernel (axes 0 and 1), so tfjs' undilated ops have gradients. */
function dilateKernel<T extends tf.Tensor>(w: T, d: number): T {
  if (d === 1) return w;
  const spread = (t: tf.Tensor, axis: number): tf.Tensor => {
    const k = t.shape[axis]!;
    const parts = tf.unstack(t, axis).flatMap((p, i) =>
      i === k - 1 ? [p] : [p, ...Array(d - 1).fill(tf.zerosLike(p))]
    );
    return tf.stack(parts, axis);
  };
  return spread(spread(w, 0), 1) as T;
}

function padSame(x: tf.Tensor4D, p: number, value = 0): tf.Tensor4D {
  return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], value);
}

const x = tf.randomNormal([2, 6, 6, 4], 0, 1, "float32", 1) as tf.Tensor4D;

for (const stride of [1, 2] as const) {
  for (const dilation of [1, 2]) {
    for (const k of [3, 5]) {
      Deno.test(`depthwiseConv() matches tf.depthwiseConv2d (k ${k}, stride ${stride}, dilation ${dilation})`, () => {
        const w = tf.randomNormal([k, k, 4], 0, 1, "float32", 2);
        const p = ((k - 1) / 2) * dilation;
        assertSameFunction(
          (a, b) => depthwiseConv(a as tf.Tensor4D, b as tf.Tensor3D, stride, dilation),
          (a, b) =>
            tf.depthwiseConv2d(
              padSame(a as tf.Tensor4D, p),
              tf.expandDims(dilateKernel(b as tf.Tensor3D, dilation), 3) as tf.Tensor4D,
              stride,
              "valid",
            ),
          [x, w],
          "depthwiseConv",
        );
        w.dispose();
      });
    }
  }
}

for (const stride of [1, 2] as const) {
  for (const dilation of [1, 2]) {
    for (const groups of [1, 2]) {
      Deno.test(`conv() matches tf.conv2d (3×3, stride ${stride}, dilation ${dilation}, groups ${groups})`, () => {
        const w = tf.randomNormal([3, 3, 4 / groups, 6], 0, 1, "float32", 3);
        assertSameFunction(
          (a, b) => conv(a as tf.Tensor4D, b as tf.Tensor4D, stride, dilation, groups),
          (a, b) => {
            // One tf.conv2d per group (slices: tfjs' split gradient fails for a single part).
            const xp = padSame(a as tf.Tensor4D, dilation);
            const wd = dilateKernel(b as tf.Tensor4D, dilation);
            const cIn = 4 / groups;
            const cOut = 6 / groups;
            const outs = Array.from({ length: groups }, (_, g) =>
              tf.conv2d(
                tf.slice(xp, [0, 0, 0, g * cIn], [-1, -1, -1, cIn]),
                tf.slice(wd, [0, 0, 0, g * cOut], [-1, -1, -1, cOut]),
                stride,
                "valid",
              ));
            return groups === 1 ? outs[0]! : tf.concat(outs, 3);
          },
          [x, w],
          "conv",
        );
        w.dispose();
      });
    }
  }
}

for (const [stride, offset] of [[1, 0], [2, 0], [2, 1]] as const) {
  Deno.test(`conv1x1() matches a 1×1 tf.conv2d (stride ${stride}, offset ${offset})`, () => {
    const w = tf.randomNormal([4, 6], 0, 1, "float32", 4);
    assertSameFunction(
      (a, b) => conv1x1(a as tf.Tensor4D, b as tf.Tensor2D, stride, offset),
      (a, b) => {
        const shifted = offset === 1
          ? tf.slice(a, [0, 1, 1, 0], [-1, -1, -1, -1]) as tf.Tensor4D
          : a as tf.Tensor4D;
        return tf.conv2d(shifted, tf.reshape(b, [1, 1, 4, 6]) as tf.Tensor4D, stride, "valid");
      },
      [x, w],
      "conv1x1",
    );
    w.dispose();
  });
}

Deno.test("subsample2() takes every other pixel of an odd-sized input, from either phase", () => {
  const odd = tf.tensor4d(Array.from({ length: 25 }, (_, i) => i), [1, 5, 5, 1]);
  assert.deepEqual(Array.from(subsample2(odd, 0).dataSync()), [0, 2, 4, 10, 12, 14, 20, 22, 24]);
  assert.deepEqual(Array.from(subsample2(odd, 1).dataSync()), [6, 8, 16, 18]);
  odd.dispose();
});

for (const stride of [1, 2] as const) {
  Deno.test(`maxPool() matches tf.maxPool over -Infinity padding (3×3, stride ${stride})`, () => {
    assertSameFunction(
      (a) => maxPool(a as tf.Tensor4D, 3, stride),
      (a) => tf.maxPool(padSame(a as tf.Tensor4D, 1, Number.NEGATIVE_INFINITY), 3, stride, "valid"),
      [x],
      "maxPool",
    );
  });
}

Deno.test("maxPool() never lets the padding win where every input is negative", () => {
  const negative = tf.fill([1, 4, 4, 1], -5) as tf.Tensor4D;
  assert.deepEqual(Array.from(maxPool(negative, 3, 2).dataSync()), [-5, -5, -5, -5]);
  negative.dispose();
});

/** Naive average pool excluding padding, and its gradient for upstream `r`, in plain JS. */
function naiveAvgPool(
  input: Float32Array,
  [n, h, w, c]: readonly [number, number, number, number],
  k: number,
  s: number,
  r: Float32Array,
): { y: number[]; dx: number[] } {
  const p = (k - 1) / 2;
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((w + 2 * p - k) / s) + 1;
  const y: number[] = [];
  const dx = new Array<number>(input.length).fill(0);
  const at = (b: number, i: number, j: number, ch: number) => ((b * h + i) * w + j) * c + ch;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let ch = 0; ch < c; ch++) {
          const cells: number[] = [];
          for (let a = 0; a < k; a++) {
            for (let e = 0; e < k; e++) {
              const yi = i * s - p + a;
              const xj = j * s - p + e;
              if (yi >= 0 && yi < h && xj >= 0 && xj < w) cells.push(at(b, yi, xj, ch));
            }
          }
          y.push(cells.reduce((acc, idx) => acc + input[idx]!, 0) / cells.length);
          const upstream = r[((b * ho + i) * wo + j) * c + ch]!;
          for (const idx of cells) dx[idx]! += upstream / cells.length;
        }
      }
    }
  }
  return { y, dx };
}

for (const stride of [1, 2] as const) {
  Deno.test(`avgPool() matches a naive pool that excludes the padding (3×3, stride ${stride})`, () => {
    tf.tidy(() => {
      const y = avgPool(x, 3, stride);
      const r = tf.randomNormal(y.shape, 0, 1, "float32", 5);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(avgPool(a as tf.Tensor4D, 3, stride), r)))(x);
      const naive = naiveAvgPool(
        x.dataSync() as Float32Array,
        x.shape,
        3,
        stride,
        r.dataSync() as Float32Array,
      );
      assert.ok(maxAbsDiff(y, tf.tensor(naive.y, y.shape)) <= FORWARD_TOL);
      assert.ok(maxAbsDiff(dx, tf.tensor(naive.dx, x.shape)) <= GRAD_TOL);
    });
  });
}

Deno.test("avgPool() divides a corner window by its 4 real pixels, not 9", () => {
  tf.tidy(() => {
    // x[i][j] = 6i + j on one channel: the top-left window holds 0, 1, 6, 7.
    const grid = tf.tensor4d(Array.from({ length: 36 }, (_, i) => i), [1, 6, 6, 1]);
    const y = avgPool(grid, 3, 1).dataSync();
    assert.ok(Math.abs(y[0]! - (0 + 1 + 6 + 7) / 4) < 1e-6);
    // An edge window (row 0, column 2) holds 6 real pixels: 1, 2, 3, 7, 8, 9.
    assert.ok(Math.abs(y[2]! - (1 + 2 + 3 + 7 + 8 + 9) / 6) < 1e-6);
    assert.deepEqual(Array.from(inverseWindowCounts(6, 6, 3, 2).dataSync()).map((v) => Math.round(1 / v)), [
      4,
      6,
      6,
      6,
      9,
      9,
      6,
      9,
      9,
    ]);
  });
});

Deno.test("batchNormTrain() matches tf.batchNorm with batch statistics, gamma and beta", () => {
  const gamma = tf.randomNormal([4], 1, 0.1, "float32", 8);
  const beta = tf.randomNormal([4], 0, 0.1, "float32", 9);
  assertSameFunction(
    (a, g, b) => batchNormTrain(a as tf.Tensor4D, 1e-5, g as tf.Tensor1D, b as tf.Tensor1D).y,
    (a, g, b) => {
      const { mean, variance } = tf.moments(a, [0, 1, 2]);
      return tf.batchNorm(a as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5);
    },
    [x, gamma, beta],
    "batchNormTrain",
  );
  tf.dispose([gamma, beta]);
});

Deno.test("normalize() without gamma and beta gives zero mean and unit variance per channel", () => {
  tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const y = normalize(x, mean as tf.Tensor1D, variance as tf.Tensor1D, 0);
    const stats = tf.moments(y, [0, 1, 2]);
    for (const m of stats.mean.dataSync()) assert.ok(Math.abs(m) < 1e-5);
    for (const v of stats.variance.dataSync()) assert.ok(Math.abs(v - 1) < 1e-4);
  });
});

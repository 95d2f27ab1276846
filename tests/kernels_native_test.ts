import { assert } from "./deps.ts";
import { NUMERIC_BACKENDS, onBackend } from "./_native.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { avgPool, batchNormTrain, depthwiseConv, maxPool } from "../runtime/kernels/composite.ts";
import {
  avgPoolNative,
  batchNormTrainNative,
  depthwiseConvNative,
  maxPoolNative,
} from "../runtime/kernels/custom_grad.ts";

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

for (const backend of NUMERIC_BACKENDS) {
  Deno.test(
    onBackend(
      `depthwiseConvNative() matches the shifted-slice reference, values and gradients (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      for (
        const [size, k, stride, dilation] of [[6, 3, 1, 1], [7, 3, 2, 1], [6, 5, 2, 2], [8, 3, 1, 2], [
          5,
          5,
          1,
          1,
        ]] as const
      ) {
        const x = tf.randomNormal([2, size, size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
        const w = tf.randomNormal([k, k, 3], 0, 1, "float32", 2) as tf.Tensor3D;
        const dy = tf.randomNormal(depthwiseConv(x, w, stride, dilation).shape, 0, 1, "float32", 3);
        const loss = (f: typeof depthwiseConv) => (a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor3D, stride, dilation), dy));
        const reference = tf.grads(loss(depthwiseConv))([x, w]);
        const native = tf.grads(loss(depthwiseConvNative))([x, w]);
        const label = `size ${size} k ${k} stride ${stride} dilation ${dilation}`;
        assert.ok(
          maxDiff(depthwiseConv(x, w, stride, dilation), depthwiseConvNative(x, w, stride, dilation)) < 1e-4,
          label,
        );
        assert.ok(maxDiff(reference[0]!, native[0]!) < 1e-4, `dx, ${label}`);
        assert.ok(maxDiff(reference[1]!, native[1]!) < 1e-3, `dW, ${label}`);
        tf.dispose([x, w, dy, ...reference, ...native]);
      }
    },
  );

  Deno.test(
    onBackend(
      `avgPoolNative() matches the shifted-slice reference, values and gradients (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      for (const [size, stride] of [[6, 1], [6, 2], [7, 2], [5, 1]] as const) {
        const x = tf.randomNormal([2, size, size, 3], 0, 1, "float32", 6) as tf.Tensor4D;
        const dy = tf.randomNormal(avgPool(x, 3, stride).shape, 0, 1, "float32", 7);
        const loss = (f: typeof avgPool) => (a: tf.Tensor) =>
          tf.sum(tf.mul(f(a as tf.Tensor4D, 3, stride), dy));
        assert.ok(maxDiff(avgPool(x, 3, stride), avgPoolNative(x, 3, stride)) < 1e-5);
        const reference = tf.grad(loss(avgPool))(x);
        const native = tf.grad(loss(avgPoolNative))(x);
        assert.ok(maxDiff(reference, native) < 1e-5, `size ${size} stride ${stride}`);
        tf.dispose([x, dy, reference, native]);
      }
    },
  );

  Deno.test(
    onBackend(
      `batchNormTrainNative() matches the autodiff reference, values and gradients (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      const x = tf.randomNormal([3, 4, 4, 5], 1, 2, "float32", 8) as tf.Tensor4D;
      const gamma = tf.randomNormal([5], 1, 0.5, "float32", 9) as tf.Tensor1D;
      const beta = tf.randomNormal([5], 0, 1, "float32", 10) as tf.Tensor1D;
      const dy = tf.randomNormal(x.shape, 0, 1, "float32", 11);
      for (const affine of [true, false]) {
        const loss = (f: typeof batchNormTrain) => (...args: tf.Tensor[]) => {
          const [a, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
          return tf.sum(tf.mul(affine ? f(a, 1e-5, g, b).y : f(a, 1e-5).y, dy));
        };
        const inputs = affine ? [x, gamma, beta] : [x];
        const reference = tf.grads(loss(batchNormTrain))(inputs);
        const native = tf.grads(loss(batchNormTrainNative))(inputs);
        const r = batchNormTrain(x, 1e-5, gamma, beta);
        const n = batchNormTrainNative(x, 1e-5, gamma, beta);
        assert.ok(
          maxDiff(r.y, n.y) < 1e-5 && maxDiff(r.mean, n.mean) < 1e-6 &&
            maxDiff(r.variance, n.variance) < 1e-5,
        );
        reference.forEach((g, i) => assert.ok(maxDiff(g, native[i]!) < 1e-4, `affine ${affine}, input ${i}`));
        tf.dispose([...reference, ...native, r.y, r.mean, r.variance, n.y, n.mean, n.variance]);
      }
      tf.dispose([x, gamma, beta, dy]);
    },
  );

  Deno.test(
    onBackend(
      `maxPoolNative() matches the shifted-slice reference, values and gradients (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      for (const [size, stride] of [[6, 1], [6, 2], [7, 2], [5, 1]] as const) {
        const x = tf.randomNormal([2, size, size, 3], 0, 1, "float32", 4) as tf.Tensor4D;
        const dy = tf.randomNormal(maxPool(x, 3, stride).shape, 0, 1, "float32", 5);
        const loss = (f: typeof maxPool) => (a: tf.Tensor) =>
          tf.sum(tf.mul(f(a as tf.Tensor4D, 3, stride), dy));
        assert.ok(maxDiff(maxPool(x, 3, stride), maxPoolNative(x, 3, stride)) < 1e-6);
        const reference = tf.grad(loss(maxPool))(x);
        const native = tf.grad(loss(maxPoolNative))(x);
        assert.ok(maxDiff(reference, native) < 1e-5, `size ${size} stride ${stride}`);
        tf.dispose([x, dy, reference, native]);
      }
    },
  );
}

Deno.test("the native kernels keep only their input for backpropagation", async () => {
  await useBackend("cpu");
  const x = tf.randomNormal([2, 8, 8, 4]) as tf.Tensor4D;
  const w = tf.variable(tf.randomNormal([5, 5, 4]) as tf.Tensor3D);
  // Inside a gradient tape, count the tensors alive after the forward pass.
  const alive = (f: () => tf.Tensor) => {
    let count = 0;
    const { value, grads } = tf.variableGrads(() => {
      const before = tf.memory().numTensors;
      const y = tf.sum(f()) as tf.Scalar;
      count = tf.memory().numTensors - before;
      return y;
    }, [w]);
    tf.dispose([value, ...Object.values(grads)]);
    return count;
  };
  const reference = alive(() => depthwiseConv(x, w, 1, 1));
  const native = alive(() => depthwiseConvNative(x, w, 1, 1));
  assert.ok(native * 4 < reference, `${native} tensors alive vs ${reference}`);
  tf.dispose([x, w]);
});

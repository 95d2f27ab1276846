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
  reluNative,
  weightedSum,
} from "../runtime/kernels/custom_grad.ts";
import { countKernels } from "../runtime/kernels/kernel_count.ts";
import { momentumStep, useArrayKernels } from "../runtime/kernels/array_kernels.ts";
import { nativeThreads, setNativeThreads } from "../runtime/kernels/native/load.ts";

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

for (
  const [backend, arrays] of [
    ["cpu", true],
    ["wasm", true],
    ["native", true],
    ["cpu", false],
    ["wasm", false],
    ["native", false],
  ] as const
) {
  const how = arrays ? "array kernels" : "composite gradients";
  Deno.test(
    onBackend(
      `depthwiseConvNative() and maxPoolNative() gradients match the shifted-slice reference (${backend}, ${how})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      useArrayKernels(arrays);
      try {
        for (
          const [size, k, stride, dilation, c] of [
            [6, 3, 1, 1, 3],
            [7, 3, 2, 1, 3],
            [6, 5, 2, 2, 3],
            [8, 3, 1, 2, 3],
            [5, 5, 1, 1, 3],
            // 8 and 16 channels: the native filter gradient's vector loops (5×5 and dilated filters)
            [7, 5, 2, 1, 16],
            [8, 3, 1, 2, 8],
            [6, 5, 1, 2, 16],
          ] as const
        ) {
          const x = tf.randomNormal([2, size, size, c], 0, 1, "float32", 1) as tf.Tensor4D;
          const w = tf.randomNormal([k, k, c], 0, 1, "float32", 2) as tf.Tensor3D;
          const dy = tf.randomNormal(depthwiseConv(x, w, stride, dilation).shape, 0, 1, "float32", 3);
          const loss = (f: typeof depthwiseConv) => (a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor3D, stride, dilation), dy));
          const reference = tf.grads(loss(depthwiseConv))([x, w]);
          const native = tf.grads(loss(depthwiseConvNative))([x, w]);
          const label = `size ${size} k ${k} stride ${stride} dilation ${dilation} channels ${c}`;
          assert.ok(maxDiff(reference[0]!, native[0]!) < 1e-4, `dx, ${label}`);
          assert.ok(maxDiff(reference[1]!, native[1]!) < 1e-3, `dW, ${label}`);
          tf.dispose([x, w, dy, ...reference, ...native]);
        }
        for (const [size, stride] of [[6, 1], [6, 2], [7, 2], [5, 1]] as const) {
          // Ties (a constant block) go to the window's first maximum in both.
          const x = tf.tidy(() =>
            tf.concat([tf.zeros([1, size, size, 3]), tf.randomNormal([1, size, size, 3], 0, 1, "float32", 4)])
          ) as tf.Tensor4D;
          const dy = tf.randomNormal(maxPool(x, 3, stride).shape, 0, 1, "float32", 5);
          const loss = (f: typeof maxPool) => (a: tf.Tensor) =>
            tf.sum(tf.mul(f(a as tf.Tensor4D, 3, stride), dy));
          const reference = tf.grad(loss(maxPool))(x);
          const native = tf.grad(loss(maxPoolNative))(x);
          assert.ok(maxDiff(reference, native) < 1e-5, `max pool, size ${size} stride ${stride}`);
          tf.dispose([x, dy, reference, native]);
        }
      } finally {
        useArrayKernels(true);
      }
    },
  );
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
      for (const [affine, arrays] of [[true, true], [false, true], [true, false], [false, false]] as const) {
        useArrayKernels(arrays);
        const native = (a: tf.Tensor4D, eps: number, g?: tf.Tensor1D, b?: tf.Tensor1D) => {
          let stats: [tf.Tensor1D, tf.Tensor1D] | null = null;
          const y = batchNormTrainNative(
            a,
            eps,
            g,
            b,
            (m, v) => stats = [tf.keep(m.clone()), tf.keep(v.clone())],
          );
          const [mean, variance] = stats!;
          return { y, mean, variance };
        };
        const loss = (f: typeof batchNormTrain) => (...args: tf.Tensor[]) => {
          const [a, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
          const r = affine ? f(a, 1e-5, g, b) : f(a, 1e-5);
          tf.dispose([r.mean, r.variance]);
          return tf.sum(tf.mul(r.y, dy));
        };
        const inputs = affine ? [x, gamma, beta] : [x];
        const reference = tf.grads(loss(batchNormTrain))(inputs);
        const custom = tf.grads(loss(native))(inputs);
        const r = affine ? batchNormTrain(x, 1e-5, gamma, beta) : batchNormTrain(x, 1e-5);
        const n = affine ? native(x, 1e-5, gamma, beta) : native(x, 1e-5);
        assert.ok(
          maxDiff(r.y, n.y) < 1e-5 && maxDiff(r.mean, n.mean) < 1e-6 &&
            maxDiff(r.variance, n.variance) < 1e-5,
        );
        assert.equal(custom.length, reference.length);
        reference.forEach((g, i) =>
          assert.ok(maxDiff(g, custom[i]!) < 1e-4, `affine ${affine}, array kernels ${arrays}, input ${i}`)
        );
        useArrayKernels(true);
        tf.dispose([...reference, ...custom, r.y, r.mean, r.variance, n.y, n.mean, n.variance]);
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

for (
  const [backend, arrays] of [
    ["cpu", true],
    ["wasm", true],
    ["native", true],
    ["cpu", false],
    ["wasm", false],
    ["native", false],
  ] as const
) {
  const how = arrays ? "array kernels" : "matMul";
  Deno.test(
    onBackend(
      `weightedSum() matches Σ φ·term, values and gradients, with and without skipped weights (${backend}, ${how})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      useArrayKernels(arrays);
      const terms = [0, 1, 2].map((i) =>
        tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 20 + i) as tf.Tensor4D
      );
      const phi = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
      const dy = tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 30);
      for (const at of [[0, 2, 3], [1, 3, 0]]) {
        // The reference: slices of φ times each term, summed, with autodiff's gradients.
        const reference = (...args: tf.Tensor[]) =>
          tf.sum(tf.mul(dy, tf.addN(at.map((p, k) => tf.mul(args[k]!, tf.slice(args[3]!, [p], [1]))))));
        const fused = (...args: tf.Tensor[]) =>
          tf.sum(tf.mul(dy, weightedSum(args.slice(0, 3), args[3] as tf.Tensor1D, at)));
        const inputs = [...terms, phi];
        const r = tf.grads(reference)(inputs);
        const f = tf.grads(fused)(inputs);
        assert.ok(Math.abs(reference(...inputs).dataSync()[0]! - fused(...inputs).dataSync()[0]!) < 1e-4);
        r.forEach((g, i) => assert.ok(maxDiff(g, f[i]!) < 1e-4, `at ${at}, input ${i}`));
        // The slot no term uses gets a zero gradient.
        const unused = [0, 1, 2, 3].find((p) => !at.includes(p))!;
        assert.equal(f[3]!.dataSync()[unused], 0);
        tf.dispose([...r, ...f]);
      }
      assert.throws(
        () => weightedSum(terms, phi, [0, 1]),
        /3 terms do not match their 2 indices into 4 weights/,
      );
      tf.dispose([...terms, phi, dy]);
    },
  );
}

for (const backend of NUMERIC_BACKENDS) {
  Deno.test(
    onBackend(`reluNative() has tf.relu's values and gradient, 0 at 0 (${backend})`, backend),
    async () => {
      await useBackend(backend);
      const x = tf.reshape(tf.concat([tf.zeros([4]), tf.randomNormal([60], 0, 1, "float32", 50)]), [
        2,
        2,
        4,
        4,
      ]);
      const dy = tf.randomNormal(x.shape, 0, 1, "float32", 51);
      const loss = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(f(t), dy));
      assert.equal(maxDiff(tf.relu(x), reluNative(x)), 0);
      assert.equal(maxDiff(tf.grad(loss(tf.relu))(x), tf.grad(loss(reluNative))(x)), 0);
      tf.dispose([x, dy]);
    },
  );
}

for (const backend of ["wasm", "native"] as const) {
  Deno.test(
    onBackend(
      `batch norm's array kernel gives the composite's values on inputs with NaN, ±Infinity and huge values (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      const values = [-Infinity, 1, 3e38, 3, NaN, 2, -3e38, 7, 0.5, -Infinity, 1e30, 4, 2, 2, 2, 2];
      const x = tf.tensor4d(values, [2, 2, 2, 2]);
      const run = (arrays: boolean) => {
        useArrayKernels(arrays);
        const y = batchNormTrainNative(x, 1e-5);
        useArrayKernels(true);
        return Array.from(y.dataSync());
      };
      const [a, c] = [run(true), run(false)];
      a.forEach((v, i) =>
        assert.ok(Object.is(v, c[i]) || Math.abs(v - c[i]!) < 1e-5, `${i}: ${v} vs ${c[i]}`)
      );
      x.dispose();
    },
  );
}

Deno.test("tensors saved for backpropagation share their data: no Identity kernel, values intact (wasm)", async () => {
  await useBackend("wasm");
  const x = tf.variable(tf.randomNormal([2, 4, 4, 3], 0, 1, "float32", 40));
  const { result, byName } = await countKernels(() =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.relu(x), tf.exp(x))) as tf.Scalar, [x]);
      return grads[x.name]!.dataSync().slice();
    })
  );
  const expected = tf.tidy(() => {
    const e = tf.exp(x);
    return tf.add(tf.mul(tf.step(x), e), tf.mul(tf.relu(x), e)).dataSync().slice();
  });
  assert.equal(byName["Identity"], undefined);
  result.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5));
  // wasm's Identity shares the buffer; the copy survives the original's disposal.
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  b.dispose();
  x.dispose();
});

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

for (const backend of NUMERIC_BACKENDS) {
  for (const arrays of [true, false]) {
    Deno.test(
      onBackend(
        `momentumStep() gives (1 − momentum)·running + momentum·scale·batch (${backend}, ${
          arrays ? "array kernel" : "tfjs ops"
        })`,
        backend,
      ),
      async () => {
        await useBackend(backend);
        useArrayKernels(arrays);
        try {
          const running = tf.tensor1d([1, -2, 0.5, NaN]);
          const batch = tf.tensor1d([3, 4, -1, 1]);
          const got = Array.from(momentumStep(running, batch, 0.1, 4 / 3).dataSync());
          const want = [0.9 * 1 + 0.1 * 4 / 3 * 3, 0.9 * -2 + 0.1 * 4 / 3 * 4, 0.9 * 0.5 - 0.1 * 4 / 3, NaN];
          got.forEach((v, i) =>
            assert.ok(Object.is(v, want[i]) || Math.abs(v - want[i]!) < 1e-6, `${i}: ${v}`)
          );
          tf.dispose([running, batch]);
        } finally {
          useArrayKernels(true);
        }
      },
    );
  }
}

Deno.test(
  onBackend(
    "native: an affine batch norm is one kernel forward and one backward, a relu's gradient one, and they match cpu",
    "native",
  ),
  async () => {
    // relu → affine batch norm, as every edge of the evaluation network ends; the loss weighs each output.
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      batchNormTrainNative(reluNative(a as tf.Tensor4D), 1e-5, g as tf.Tensor1D, b as tf.Tensor1D);
    const run = async () => {
      const x = tf.randomNormal([4, 6, 6, 36], 0.5, 2, "float32", 60);
      const gamma = tf.randomNormal([36], 1, 0.5, "float32", 61);
      const beta = tf.randomNormal([36], 0, 1, "float32", 62);
      const r = tf.randomNormal([4, 6, 6, 36], 0, 1, "float32", 63);
      const counted = await countKernels(() =>
        tf.tidy(() => [
          f(x, gamma, beta),
          ...tf.grads((a, g, b) => tf.sum(tf.mul(f(a, g, b), r)))([x, gamma, beta]),
        ])
      );
      const values = await Promise.all(counted.result.map(async (t) => Array.from(await t.data())));
      tf.dispose([x, gamma, beta, r, ...counted.result]);
      return { values, byName: counted.byName };
    };
    await useBackend("cpu");
    const reference = await run();
    await useBackend("native");
    try {
      const native = await run();
      // Forward twice (the value, then inside grads), backward once.
      assert.equal(native.byName["AsapBatchNormAffineTrain"]?.calls, 2);
      assert.equal(native.byName["AsapBatchNormAffineGrad"]?.calls, 1);
      assert.equal(native.byName["AsapReluGrad"]?.calls, 1);
      assert.equal(native.byName["Step"], undefined, "the relu's gradient takes no Step");
      reference.values.forEach((ref, i) =>
        ref.forEach((v, j) => {
          const w = native.values[i]![j]!;
          assert.ok(Math.abs(v - w) <= 1e-4 * (1 + Math.abs(v)), `output ${i} [${j}]: native ${w}, cpu ${v}`);
        })
      );
    } finally {
      await useBackend("cpu");
    }
  },
);

Deno.test(
  onBackend(
    "native: batch norm over many row blocks, plain and affine, matches cpu and gives the same bits at 1 and 2 threads",
    "native",
  ),
  async () => {
    // 6·10·10 = 600 rows: three of the shim's 256-row blocks, split between threads; a mean of 40 against a
    // standard deviation of 3 (a one-pass variance without its shift would lose digits here).
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal([6, 10, 10, 20], 40, 3, "float32", 70);
        const gamma = tf.randomNormal([20], 1, 0.5, "float32", 71);
        const beta = tf.randomNormal([20], 0, 1, "float32", 72);
        const r = tf.randomNormal([6, 10, 10, 20], 0, 1, "float32", 73);
        const plain = (a: tf.Tensor) => batchNormTrainNative(a as tf.Tensor4D, 1e-5);
        const affine = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          batchNormTrainNative(a as tf.Tensor4D, 1e-5, g as tf.Tensor1D, b as tf.Tensor1D);
        return [
          plain(x),
          tf.grad((a) => tf.sum(tf.mul(plain(a), r)))(x),
          affine(x, gamma, beta),
          ...tf.grads((a, g, b) => tf.sum(tf.mul(affine(a, g, b), r)))([x, gamma, beta]),
        ].map((t) => Array.from(t.dataSync()));
      });
    await useBackend("cpu");
    const reference = run();
    await useBackend("native");
    const threads = nativeThreads()!;
    try {
      setNativeThreads(1);
      const one = run();
      setNativeThreads(2);
      const two = run();
      two.forEach((out, i) =>
        out.forEach((v, j) =>
          assert.ok(Object.is(v, one[i]![j]), `output ${i} [${j}]: ${v} at 2 threads, ${one[i]![j]} at 1`)
        )
      );
      reference.forEach((ref, i) =>
        ref.forEach((v, j) => {
          const w = two[i]![j]!;
          assert.ok(Math.abs(v - w) <= 1e-4 * (1 + Math.abs(v)), `output ${i} [${j}]: native ${w}, cpu ${v}`);
        })
      );
    } finally {
      setNativeThreads(threads);
      await useBackend("cpu");
    }
  },
);

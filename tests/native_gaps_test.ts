// The native backend's former gaps, each against the cpu reference or its own rule: TopK, SpaceToBatchND
// and BatchToSpaceND, MirrorPad, GatherV2 with batch dimensions, max pooling over NaN and infinities (tfjs
// skips NaNs; ATen's maximum is NaN), results that no longer hold their source's storage, and the same
// bits on every run at 1 and at 2 threads.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { maxPoolNative } from "../runtime/kernels/custom_grad.ts";
import type { NativeBackend } from "../runtime/kernels/native/backend.ts";
import { nativeThreads, setNativeThreads } from "../runtime/kernels/native/load.ts";
import { buildOperation } from "../runtime/nets/ops.ts";
import { onBackend } from "./_native.ts";

type Case = () => tf.Tensor[];

const x4 = () => tf.randomNormal([2, 6, 6, 3], 0, 1, "float32", 1) as tf.Tensor4D;

/** x4 with NaNs and infinities: a window of NaNs only, −∞ only, NaN beside numbers, +∞. */
function nonFinite(): tf.Tensor4D {
  const values = x4().dataSync().slice();
  const at = (b: number, h: number, w: number, c: number) => ((b * 6 + h) * 6 + w) * 3 + c;
  for (let h = 0; h < 4; h++) for (let w = 0; w < 4; w++) values[at(0, h, w, 0)] = NaN; // all-NaN windows
  for (let h = 0; h < 4; h++) for (let w = 2; w < 6; w++) values[at(1, h, w, 1)] = -Infinity; // all −∞
  values[at(0, 3, 4, 2)] = NaN;
  values[at(1, 5, 5, 2)] = NaN;
  values[at(1, 1, 1, 0)] = Infinity;
  return tf.tensor4d(values, [2, 6, 6, 3]);
}

/** The value and the gradient of Σ(f(x)·r) (r fixed random). */
function withGrad(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor[] {
  const r = tf.randomNormal(f(x).shape, 0, 1, "float32", 9);
  return [f(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x)];
}

const CASES: Record<string, Case> = {
  "topk, sorted, equal values in index order, float and int32": () => {
    const x = tf.tensor2d([[3, 1, 3, 2, 3, 0], [5, 5, 5, 5, 1, 2]]);
    const ints = tf.tensor1d([4, -2, 9, 4, 4, 7], "int32");
    const r = tf.randomNormal([3, 4, 10], 0, 1, "float32", 4);
    return [
      ...Object.values(tf.topk(x, 4)),
      ...Object.values(tf.topk(ints, 3)),
      ...Object.values(tf.topk(r, 10)),
    ];
  },
  "spaceToBatchND and batchToSpaceND with padding and crops, and the gradient": () => {
    const x = x4();
    const grid = tf.randomNormal([3, 5, 7, 2], 0, 1, "float32", 5);
    const crops = tf.randomNormal([8, 2, 3, 1], 0, 1, "float32", 6);
    return [
      ...withGrad((a) => tf.spaceToBatchND(a, [2, 3], [[0, 0], [0, 0]]), x),
      ...withGrad((a) => tf.spaceToBatchND(a, [2, 2], [[1, 0], [0, 1]]), grid),
      tf.spaceToBatchND(tf.randomNormal([2, 6, 4], 0, 1, "float32", 7), [3], [[0, 3]]),
      ...withGrad((a) => tf.batchToSpaceND(a, [2, 2], [[0, 1], [1, 0]]), crops),
    ];
  },
  "mirrorPad, reflect and symmetric, on every axis": () => {
    const x = x4();
    return [
      tf.mirrorPad(x, [[0, 0], [2, 1], [0, 3], [0, 0]], "reflect"),
      tf.mirrorPad(x, [[1, 1], [3, 0], [2, 2], [1, 2]], "symmetric"),
      tf.mirrorPad(tf.tensor1d([1, 2, 3], "int32"), [[2, 2]], "reflect"),
    ];
  },
  "gather with batchDims 1 and 2, along axes 1 and 2": () => {
    const x = tf.randomNormal([2, 3, 4, 2], 0, 1, "float32", 8);
    const i1 = tf.tensor2d([[2, 0, 1, 1, 2], [1, 1, 0, 2, 0]], [2, 5], "int32");
    const i2 = tf.tensor3d([[[3, 0], [1, 1], [2, 3]], [[0, 0], [3, 2], [1, 0]]], [2, 3, 2], "int32");
    return [
      tf.gather(x, i1, 1, 1),
      tf.gather(x, tf.add(tf.slice(i1, [0, 0], [2, 3]), tf.scalar(1, "int32")), 2, 1),
      tf.gather(x, i2, 2, 2),
    ];
  },
  "maxPool over NaN, −∞ and +∞ windows, with the gradient": () => {
    const x = nonFinite();
    return [
      ...withGrad((a) => tf.maxPool(a as tf.Tensor4D, 3, 1, "same"), x),
      ...withGrad((a) => tf.maxPool(a as tf.Tensor4D, 3, 2, "same"), x),
      ...withGrad((a) => tf.maxPool(a as tf.Tensor4D, 2, 2, "valid"), x),
    ];
  },
};

/** Every output's shape, dtype and values. */
async function values(run: Case) {
  const outs = tf.tidy(run);
  const data = await Promise.all(
    outs.map(async (t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(await t.data()) })),
  );
  tf.dispose(outs);
  return data;
}

function assertSame(
  native: Awaited<ReturnType<typeof values>>,
  reference: Awaited<ReturnType<typeof values>>,
) {
  assert.equal(native.length, reference.length);
  reference.forEach((ref, i) => {
    const got = native[i]!;
    assert.deepEqual([got.shape, got.dtype], [ref.shape, ref.dtype], `output ${i}`);
    ref.data.forEach((v, j) => {
      const w = got.data[j]!;
      const close = Number.isNaN(v)
        ? Number.isNaN(w)
        : v === w || Math.abs(v - w) <= 1e-5 * (1 + Math.abs(v));
      assert.ok(close, `output ${i} [${j}]: native ${w}, cpu ${v}`);
    });
  });
}

for (const [name, run] of Object.entries(CASES)) {
  Deno.test(onBackend(`native agrees with cpu: ${name}`, "native"), async () => {
    await useBackend("cpu");
    const reference = await values(run);
    await useBackend("native");
    try {
      assertSame(await values(run), reference);
    } finally {
      await useBackend("cpu");
    }
  });
}

Deno.test(
  onBackend(
    "the network's max pooling on native skips NaNs as tf.maxPool on cpu does, value and gradient",
    "native",
  ),
  async () => {
    for (const stride of [1, 2] as const) {
      await useBackend("cpu");
      const reference = await values(() =>
        withGrad((a) => tf.maxPool(a as tf.Tensor4D, 3, stride, 1), nonFinite())
      );
      await useBackend("native");
      try {
        assertSame(
          await values(() => withGrad((a) => maxPoolNative(a as tf.Tensor4D, 3, stride), nonFinite())),
          reference,
        );
      } finally {
        await useBackend("cpu");
      }
    }
  },
);

Deno.test(
  onBackend("native gather with batchDims refuses an index outside the axis with one line", "native"),
  async () => {
    await useBackend("native");
    try {
      const x = tf.zeros([2, 3]);
      assert.throws(
        () => tf.gather(x, tf.tensor2d([[0], [3]], [2, 1], "int32"), 1, 1),
        /index is not in \[0, 2\]/,
      );
      x.dispose();
    } finally {
      await useBackend("cpu");
    }
  },
);

Deno.test(
  onBackend("a native slice, split or unstack holds only its own bytes, not its source's", "native"),
  async () => {
    await useBackend("native");
    const backend = tf.backend() as NativeBackend;
    const storage = (t: tf.Tensor) => backend.shim.storageBytes(backend.handle(t.dataId));
    try {
      const source = tf.randomNormal([64, 256], 0, 1, "float32", 3);
      const first = tf.slice(source, [0, 0], [1, 256]);
      const rows = tf.slice(source, [10, 0], [4, 256]);
      const [a, b] = tf.split(source, [8, 56], 0);
      const pieces = tf.unstack(source, 0);
      const expected = Array.from(source.dataSync().subarray(10 * 256, 14 * 256));
      source.dispose();
      assert.equal(storage(first), 256 * 4);
      assert.equal(storage(rows), 4 * 256 * 4);
      assert.deepEqual([storage(a!), storage(b!)], [8 * 256 * 4, 56 * 256 * 4]);
      assert.equal(storage(pieces[5]!), 256 * 4);
      assert.deepEqual(Array.from(rows.dataSync()), expected);
      tf.dispose([first, rows, a!, b!, ...pieces]);
    } finally {
      await useBackend("cpu");
    }
  },
);

/** A sep_conv and a max pool, their value and every gradient, as bytes. */
function step(): Uint8Array[] {
  let seed = 1;
  const op = buildOperation(
    [
      { kind: "relu", stride: 1 },
      { kind: "dw_conv", kernel: 3, dilation: 1, stride: 1 },
      { kind: "conv_1x1", stride: 1 },
      { kind: "batch_norm", stride: 1 },
    ],
    8,
    { name: `determinism_${Math.random()}`, affine: true, nextSeed: () => seed++ },
  );
  const x = tf.variable(tf.randomNormal([8, 16, 16, 8], 0, 1, "float32", 5) as tf.Tensor4D);
  const r = tf.randomNormal([8, 8, 8, 8], 0, 1, "float32", 6);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(maxPoolNative(op.apply(x, true) as tf.Tensor4D, 3, 2), r)) as tf.Scalar,
    [x, ...op.weights],
  );
  const out = [value, ...Object.values(grads)].map((t) => new Uint8Array(t.dataSync().slice().buffer));
  tf.dispose([value, ...Object.values(grads), x, r, ...op.weights]);
  return out;
}

Deno.test(
  onBackend("native results are the same bits on every run, at 1 thread and at 2", "native"),
  async () => {
    await useBackend("native");
    const threads = nativeThreads()!;
    try {
      const runs: Record<number, Uint8Array[]> = {};
      for (const n of [1, 2]) {
        setNativeThreads(n);
        const first = step();
        for (let again = 0; again < 2; again++) {
          assert.deepEqual(
            step(),
            first,
            `${n} thread(s), run ${again + 2}`,
          );
        }
        runs[n] = first;
      }
      // Across thread counts a reduction may split differently: close, not necessarily equal.
      runs[1]!.forEach((bytes, i) => {
        const one = new Float32Array(bytes.buffer), two = new Float32Array(runs[2]![i]!.buffer);
        one.forEach((v, j) =>
          assert.ok(Math.abs(v - two[j]!) <= 1e-4 * (1 + Math.abs(v)), `output ${i} [${j}]`)
        );
      });
    } finally {
      setNativeThreads(threads);
      await useBackend("cpu");
    }
  },
);

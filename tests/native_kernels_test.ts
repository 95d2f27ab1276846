// Every kernel of the native backend against the cpu reference: values, and gradients where tfjs
// differentiates through it (so the gradient kernels are compared too).
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { onBackend } from "./_native.ts";

type Case = () => tf.Tensor | tf.Tensor[];

const x4 = () => tf.randomNormal([2, 5, 6, 3], 0, 1, "float32", 1) as tf.Tensor4D;
const m = () => tf.randomNormal([3, 4], 0, 1, "float32", 2) as tf.Tensor2D;
const pos = () => tf.add(tf.abs(m()), 0.5) as tf.Tensor2D;
const ints = () => tf.tensor1d([3, -1, 0, 7, 2], "int32");

/** The value and, for float ops of one tensor, the gradient of Σ(op·r) (r fixed random). */
function withGrad(f: (x: tf.Tensor) => tf.Tensor, input: () => tf.Tensor): Case {
  return () => {
    const x = input();
    const y = f(x);
    const r = tf.randomNormal(y.shape, 0, 1, "float32", 9);
    return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(x)];
  };
}

const CASES: Record<string, Case> = {
  "unary float ops": () =>
    [
      tf.exp,
      tf.log,
      tf.sqrt,
      tf.rsqrt,
      tf.sigmoid,
      tf.tanh,
      tf.softplus,
      tf.reciprocal,
      tf.square,
      tf.neg,
      tf.abs,
    ]
      .flatMap((f) => withGrad(f as (x: tf.Tensor) => tf.Tensor, pos)() as tf.Tensor[]),
  "relu, relu6, elu, leakyRelu, step-based gradients": () =>
    [
      tf.relu,
      tf.relu6,
      tf.elu,
      (x: tf.Tensor) => tf.leakyRelu(x, 0.1),
      (x: tf.Tensor) => tf.clipByValue(x, -0.5, 0.7),
    ]
      .flatMap((f) => withGrad(f as (x: tf.Tensor) => tf.Tensor, m)() as tf.Tensor[]),
  "step with alpha, NaN and infinities": () => {
    const x = tf.tensor1d([NaN, -Infinity, -1, 0, 0.5, Infinity, 3]);
    return [tf.step(x), tf.step(x, 0.3), tf.step(tf.randomNormal([4, 8, 8, 5], 0, 1, "float32", 6), 0.2)];
  },
  "rounding, sign, floor, ceil, isNaN":
    () => [tf.round(tf.mul(m(), 3)), tf.sign(m()), tf.floor(m()), tf.ceil(m()), tf.isNaN(tf.div(m(), 0))],
  "binary ops with broadcasting and their gradients": () => {
    const a = m();
    const b = tf.randomNormal([1, 4], 0, 1, "float32", 3);
    const out: tf.Tensor[] = [];
    for (const f of [tf.add, tf.sub, tf.mul, tf.div]) {
      out.push(f(a, b), ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), a)))([a, b]));
    }
    // tfjs' gradients of these do not reduce a broadcast input: same shapes.
    const c = tf.randomNormal([3, 4], 0, 1, "float32", 8);
    for (const f of [tf.maximum, tf.minimum, tf.squaredDifference]) {
      out.push(f(a, c), ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), a)))([a, c]));
    }
    out.push(
      tf.pow(pos(), tf.scalar(1.5)),
      tf.floorDiv(ints(), tf.scalar(2, "int32")),
      tf.mod(ints(), tf.scalar(3, "int32")),
    );
    return out;
  },
  "comparisons, logical ops and where": () => {
    const a = m();
    const b = tf.randomNormal([3, 4], 0, 1, "float32", 4);
    const c = tf.greater(a, b);
    return [
      c,
      tf.greaterEqual(a, b),
      tf.less(a, b),
      tf.lessEqual(a, b),
      tf.equal(a, a),
      tf.notEqual(a, b),
      tf.logicalAnd(c, tf.less(a, 0)),
      tf.logicalOr(c, tf.less(a, 0)),
      tf.logicalNot(c),
      tf.where(c, a, b),
    ];
  },
  "casts between float32, int32 and bool": () => {
    const a = tf.mul(m(), 3);
    return [
      tf.cast(a, "int32"),
      tf.cast(a, "bool"),
      tf.cast(tf.cast(a, "int32"), "float32"),
      tf.cast(tf.greater(a, 0), "float32"),
    ];
  },
  "reductions, argMax, softmax and their gradients": () => {
    const out: tf.Tensor[] = [];
    for (
      const f of [
        (x: tf.Tensor) => tf.sum(x, 1),
        (x: tf.Tensor) => tf.mean(x, 0, true),
        (x: tf.Tensor) => tf.max(x, 1),
        (x: tf.Tensor) => tf.min(x),
        (x: tf.Tensor) => tf.prod(x, 1),
        (x: tf.Tensor) => tf.softmax(x),
        (x: tf.Tensor) => tf.logSumExp(x, 1),
      ]
    ) {
      out.push(...withGrad(f, m)() as tf.Tensor[]);
    }
    out.push(
      tf.argMax(m(), 1),
      tf.argMin(m(), 0),
      tf.sum(ints()),
      tf.any(tf.greater(m(), 1)),
      tf.all(tf.greater(m(), -3), 1),
    );
    return out;
  },
  "matMul with transposes, and its gradients": () => {
    const a = m();
    const b = tf.randomNormal([5, 4], 0, 1, "float32", 5);
    const f = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D, false, true);
    return [f(a, b), ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(f(p, q))))([a, b])];
  },
  "matMul of many rows (the 1×1 convolutions' oneDNN path) with every transpose, rank 3, batch > 1, and gradients":
    () => {
      // ≥ the shim's 512 rows and 2^22 multiply-adds (16384·16·16)
      const tall = tf.randomNormal([16384, 16], 0, 0.1, "float32", 6) as tf.Tensor2D;
      const w = tf.randomNormal([16, 16], 0, 1, "float32", 7) as tf.Tensor2D;
      const g = tf.randomNormal([16384, 16], 0, 0.1, "float32", 8) as tf.Tensor2D;
      const f = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D);
      return [
        f(tall, w),
        tf.matMul(tall, tf.transpose(w), false, true),
        tf.matMul(tall, g, true, false),
        tf.matMul(tf.transpose(tall), w, true, false),
        tf.matMul(tf.reshape(tall, [1, 16384, 16]) as tf.Tensor3D, tf.reshape(w, [1, 16, 16]) as tf.Tensor3D),
        tf.matMul(tf.reshape(tall, [2, 8192, 16]) as tf.Tensor3D, tf.stack([w, tf.neg(w)]) as tf.Tensor3D),
        ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), g)))([tall, w]),
      ];
    },
  "matMul of a few hundred rows by wide operands (oneDNN's path beyond 64 columns) with every transpose, and gradients":
    () => {
      // 600 rows ≥ the shim's 512 and 600·100·70 ≥ 2^22 multiply-adds; K = 100 and N = 70 above the 64 columns
      // the first oneDNN window took.
      const rows = tf.randomNormal([600, 100], 0, 0.1, "float32", 16) as tf.Tensor2D;
      const w = tf.randomNormal([100, 70], 0, 0.1, "float32", 17) as tf.Tensor2D;
      const g = tf.randomNormal([600, 70], 0, 0.1, "float32", 18) as tf.Tensor2D;
      const f = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D);
      return [
        f(rows, w),
        tf.matMul(g, w, false, true),
        tf.matMul(rows, g, true, false),
        ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), g)))([rows, w]),
      ];
    },
  "layout ops (transpose, slice, pad, concat, stack, unstack, split, tile, reverse, gather, stridedSlice) and gradients":
    () => {
      const f = (x: tf.Tensor) =>
        tf.addN([
          tf.sum(tf.square(tf.transpose(x, [0, 3, 1, 2]))),
          tf.sum(tf.square(tf.slice(x, [0, 1, 2, 0], [2, 3, 3, 2]))),
          tf.sum(tf.square(tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]], 0.5))),
          tf.sum(tf.square(tf.concat([x, tf.mul(x, 2)], 3))),
          tf.sum(tf.square(tf.stack([x, x], 1))),
          tf.sum(tf.square(tf.unstack(x, 1)[2]!)),
          tf.sum(tf.square(tf.split(x, [1, 2], 3)[1]!)),
          tf.sum(tf.square(tf.tile(x, [1, 2, 1, 1]))),
          tf.sum(tf.mul(tf.reverse(x, [1, 2]), x)),
          tf.sum(tf.square(tf.gather(x, tf.tensor1d([2, 0, 2], "int32"), 1))),
        ]);
      const x = x4();
      return [f(x), tf.grad(f)(x), tf.stridedSlice(x, [0, 1, 0, 0], [2, 5, 6, 3], [1, 2, 3, 1])];
    },
  "creation ops (fill, range, linspace, oneHot, zerosLike, onesLike)": () => [
    tf.fill([2, 3], 1.5),
    tf.fill([2], 4, "int32"),
    tf.range(0, 7, 2),
    tf.range(1, 4, 1, "int32"),
    tf.linspace(-1, 1, 5),
    tf.oneHot(tf.tensor1d([0, 2, -1, 5], "int32"), 3),
    tf.zerosLike(m()),
    tf.onesLike(ints()),
  ],
  "batchNorm (FusedBatchNorm) with and without scale and offset": () => {
    const x = x4();
    const mean = tf.tensor1d([0.1, -0.2, 0.3]);
    const variance = tf.tensor1d([1.5, 0.5, 2]);
    return [
      tf.batchNorm(x, mean, variance, tf.tensor1d([1, 2, 3]), tf.tensor1d([0.5, 1, -1]), 1e-3),
      tf.batchNorm(x, mean, variance, undefined, undefined, 1e-5),
    ];
  },
  "conv2d and depthwiseConv2d, stride 1 and 2, dilation, 'same'/'valid'/explicit padding, with gradients":
    () => {
      const x = x4();
      const out: tf.Tensor[] = [];
      const filter = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 6) as tf.Tensor4D;
      const dw = tf.randomNormal([3, 3, 3, 2], 0, 1, "float32", 7) as tf.Tensor4D;
      const configs: [
        1 | 2,
        "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]],
      ][] = [
        [1, "same"],
        [2, "same"],
        [2, "valid"],
        [1, [[0, 0], [2, 1], [0, 2], [0, 0]]],
      ];
      for (const [stride, pad] of configs) {
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
        out.push(
          f(x, filter),
          ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(a, b))))([x, filter]),
        );
        if (Array.isArray(pad)) continue; // tfjs' depthwise gradients take no explicit padding
        const g = (a: tf.Tensor, b: tf.Tensor) =>
          tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
        out.push(g(x, dw), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(g(a, b))))([x, dw]));
      }
      out.push(tf.depthwiseConv2d(x, dw, 1, "same", "NHWC", 2));
      return out;
    },
  "maxPool and avgPool, 'same' and 'valid', stride 1 and 2, with gradients": () => {
    const out: tf.Tensor[] = [];
    for (const stride of [1, 2] as const) {
      for (const pad of ["same", "valid"] as const) {
        out.push(...withGrad((x) => tf.maxPool(x as tf.Tensor4D, 3, stride, pad), x4)() as tf.Tensor[]);
        out.push(...withGrad((x) => tf.avgPool(x as tf.Tensor4D, 3, stride, pad), x4)() as tf.Tensor[]);
      }
    }
    return out;
  },
};

for (const [name, run] of Object.entries(CASES)) {
  Deno.test(onBackend(`native agrees with cpu: ${name}`, "native"), async () => {
    const values = async () => {
      const outs = tf.tidy(() => [run()].flat());
      const data = await Promise.all(
        outs.map(async (t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(await t.data()) })),
      );
      tf.dispose(outs);
      return data;
    };
    await useBackend("cpu");
    const reference = await values();
    await useBackend("native");
    try {
      const native = await values();
      assert.equal(native.length, reference.length);
      reference.forEach((ref, i) => {
        const got = native[i]!;
        assert.deepEqual([got.shape, got.dtype], [ref.shape, ref.dtype], `output ${i}`);
        ref.data.forEach((v, j) => {
          const w = got.data[j]!;
          const close = Number.isNaN(v) ? Number.isNaN(w) : Math.abs(v - w) <= 1e-4 * (1 + Math.abs(v));
          assert.ok(close, `output ${i} [${j}]: native ${w}, cpu ${v}`);
        });
      });
    } finally {
      await useBackend("cpu");
    }
  });
}

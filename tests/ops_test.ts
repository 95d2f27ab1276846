// The op registry on tiny tensors (batch 2, 6×6, C = 4): shapes, parameter counts, batch-norm state,
// tensor leaks, determinism, and wasm against the cpu reference.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { type Operation, type Step, stepsAt } from "../dsl/ir.ts";
import {
  type BuildContext,
  buildOperation,
  factorizedReduce,
  linear,
  type Module,
  reluConvBn,
  sequential,
  stem,
} from "../runtime/nets/ops.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { onBackend } from "./_native.ts";

await useBackend("cpu");

const C = 4;
const SPAN = { file: "test.space", line: 1, column: 1, offset: 0, length: 1 };

const sep = (k: number): Step[] => [
  { kind: "relu" },
  { kind: "dw_conv", kernel: k, dilation: 1 },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
  { kind: "relu" },
  { kind: "dw_conv", kernel: k, dilation: 1 },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
];
const dil = (k: number): Step[] => [
  { kind: "relu" },
  { kind: "dw_conv", kernel: k, dilation: 2 },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
];

/** DARTS' operations as steps, and their weight counts at C channels (non-affine batch norms). */
const OPS: Record<string, { steps: Step[]; weights: (c: number) => number; bns: number }> = {
  sep_conv_3x3: { steps: sep(3), weights: (c) => 2 * (c * 9 + c * c), bns: 2 },
  sep_conv_5x5: { steps: sep(5), weights: (c) => 2 * (c * 25 + c * c), bns: 2 },
  dil_conv_3x3: { steps: dil(3), weights: (c) => c * 9 + c * c, bns: 1 },
  dil_conv_5x5: { steps: dil(5), weights: (c) => c * 25 + c * c, bns: 1 },
  max_pool_3x3: { steps: [{ kind: "max_pool", kernel: 3 }], weights: () => 0, bns: 0 },
  avg_pool_3x3: { steps: [{ kind: "avg_pool", kernel: 3 }], weights: () => 0, bns: 0 },
  skip_connect: { steps: [{ kind: "identity" }], weights: () => 0, bns: 0 },
  none: { steps: [{ kind: "zero" }], weights: () => 0, bns: 0 },
  conv_3x3_g2: {
    steps: [{ kind: "relu" }, { kind: "conv", kernel: 3, dilation: 1, groups: 2 }, {
      kind: "batch_norm",
      affine: true,
    }],
    weights: (c) => (c * c * 9) / 2 + 2 * c,
    bns: 1,
  },
};
const ASAP_OPS = [
  "sep_conv_3x3",
  "sep_conv_5x5",
  "dil_conv_3x3",
  "dil_conv_5x5",
  "max_pool_3x3",
  "avg_pool_3x3",
  "skip_connect",
];

function operation(name: string): Operation {
  return { name, steps: OPS[name]!.steps, span: SPAN };
}

let unique = 0;
function context(affine = false, seed = 1): BuildContext {
  let next = seed;
  return { name: `test${unique++}`, affine, nextSeed: () => next++ };
}

function build(name: string, stride: 1 | 2, ctx = context()): Module {
  return buildOperation(stepsAt(operation(name), stride), C, ctx);
}

const size = (vs: readonly tf.Variable[]): number => vs.reduce((n, v) => n + v.size, 0);
const input = (seed = 1) => tf.randomNormal([2, 6, 6, C], 0, 1, "float32", seed) as tf.Tensor4D;

for (const name of Object.keys(OPS)) {
  for (const stride of [1, 2] as const) {
    Deno.test(`buildOperation() builds ${name} at stride ${stride} with the DARTS shape and weight count`, () => {
      const op = build(name, stride);
      const x = input();
      const y = op.apply(x, true);
      assert.deepEqual(y.shape, stride === 1 ? [2, 6, 6, C] : [2, 3, 3, C]);
      // skip_connect at stride 2 is a factorized reduce: two 1×1 convs to C/2 and a batch norm.
      const reduce = name === "skip_connect" && stride === 2;
      assert.equal(size(op.weights), reduce ? C * C : OPS[name]!.weights(C));
      assert.equal(size(op.state), (reduce ? 1 : OPS[name]!.bns) * 2 * C);
      tf.dispose([x, y]);
      op.dispose();
    });
  }
}

Deno.test("buildOperation() gives affine batch norms 2C weights each when the context is affine", () => {
  const op = build("sep_conv_3x3", 1, context(true));
  assert.equal(size(op.weights), OPS.sep_conv_3x3!.weights(C) + 2 * 2 * C);
  op.dispose();
});

Deno.test("buildOperation() names every variable uniquely under the context's prefix", () => {
  const ctx = context(true);
  const op = build("sep_conv_3x3", 2, ctx);
  const names = [...op.weights, ...op.state].map((v) => v.name);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.ok(n.startsWith(`${ctx.name}/`), n);
  assert.ok(op.weights.every((v) => v.trainable) && op.state.every((v) => !v.trainable));
  op.dispose();
});

Deno.test("buildOperation() initialises the same weights from the same seeds", () => {
  const a = build("dil_conv_3x3", 1, context(false, 42));
  const b = build("dil_conv_3x3", 1, context(false, 42));
  const c = build("dil_conv_3x3", 1, context(false, 43));
  a.weights.forEach((w, i) => assert.deepEqual(w.dataSync(), b.weights[i]!.dataSync()));
  assert.notDeepEqual(a.weights[0]!.dataSync(), c.weights[0]!.dataSync());
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("zero at stride 2 returns zeros of the reduced size", () => {
  const op = build("none", 2);
  const x = input();
  const y = op.apply(x, true);
  assert.deepEqual(y.shape, [2, 3, 3, C]);
  assert.equal(tf.max(tf.abs(y)).dataSync()[0], 0);
  tf.dispose([x, y]);
  op.dispose();
});

Deno.test("batch norm updates its running statistics with momentum 0.1 and uses them in evaluation", () => {
  const op = buildOperation([{ kind: "batch_norm", stride: 1 }], C, context());
  const x = tf.add(tf.mul(input(), 2), 3) as tf.Tensor4D;
  tf.dispose(op.apply(x, true));
  const [runningMean, runningVar] = op.state;
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const n = 2 * 6 * 6;
  const expectedMean = tf.mul(mean, 0.1);
  const expectedVar = tf.add(0.9, tf.mul(variance, (0.1 * n) / (n - 1)));
  assert.ok(tf.max(tf.abs(tf.sub(runningMean!, expectedMean))).dataSync()[0]! < 1e-5);
  assert.ok(tf.max(tf.abs(tf.sub(runningVar!, expectedVar))).dataSync()[0]! < 1e-5);
  // Evaluation normalises with the running statistics, not the batch's.
  const y = op.apply(x, false);
  const manual = tf.div(tf.sub(x, runningMean!), tf.sqrt(tf.add(runningVar!, 1e-5)));
  assert.ok(tf.max(tf.abs(tf.sub(y, manual))).dataSync()[0]! < 1e-4);
  tf.dispose([x, mean, variance, expectedMean, expectedVar, y, manual]);
  op.dispose();
});

Deno.test("apply() leaks no tensor, in training and evaluation, and dispose() frees every variable", () => {
  const before = tf.memory().numTensors;
  const op = build("sep_conv_3x3", 2, context(true));
  const x = input();
  const built = tf.memory().numTensors;
  for (const training of [true, false]) {
    tf.tidy(() => {
      op.apply(x, training);
    });
    assert.equal(tf.memory().numTensors, built);
    // Inside a gradient computation too (the search differentiates through apply).
    const { value, grads } = tf.variableGrads(() => tf.sum(op.apply(x, training)) as tf.Scalar, [
      ...op.weights,
    ]);
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, built);
  }
  x.dispose();
  op.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("reluConvBn(), factorizedReduce(), stem(), linear() and sequential() have the DARTS shapes and counts", () => {
  const before = tf.memory().numTensors;
  const x = input();
  const pre = reluConvBn(C, 6, 1, 1, context(false));
  assert.equal(size(pre.weights), C * 6);
  const reduce = factorizedReduce(C, 6, context(true));
  assert.equal(size(reduce.weights), C * 6 + 2 * 6);
  const s = stem(C, 6, context(false));
  assert.equal(size(s.weights), C * 6 * 9 + 2 * 6);
  const chain = sequential([s, reluConvBn(6, 8, 3, 2, context(false))]);
  assert.equal(size(chain.weights), C * 6 * 9 + 2 * 6 + 6 * 8 * 9);
  const head = linear(8, 10, context());
  assert.equal(size(head.weights), 8 * 10 + 10);
  tf.tidy(() => {
    assert.deepEqual(pre.apply(x, true).shape, [2, 6, 6, 6]);
    assert.deepEqual(reduce.apply(x, true).shape, [2, 3, 3, 6]);
    const features = chain.apply(x, true);
    assert.deepEqual(features.shape, [2, 3, 3, 8]);
    assert.deepEqual(head.apply(tf.mean(features, [1, 2]) as tf.Tensor2D).shape, [2, 10]);
  });
  x.dispose();
  [pre, reduce, chain, head].forEach((m) => m.dispose());
  assert.equal(tf.memory().numTensors, before);
});

/** Output and gradients (w.r.t. input and every weight) of Σ_o softmax-weight_o · o(x) on the current backend. */
async function mixedForwardBackward(names: readonly string[], stride: 1 | 2): Promise<Float32Array[]> {
  const ops = names.map((n, i) => build(n, stride, context(false, 100 * i + 1)));
  const x = tf.variable(input(3));
  const phi = tf.softmax(tf.linspace(-1, 1, names.length));
  const r = tf.randomNormal(stride === 1 ? [2, 6, 6, C] : [2, 3, 3, C], 0, 1, "float32", 9);
  const weights = [x, ...ops.flatMap((o) => o.weights)];
  const f = () => {
    const terms = ops.map((o, i) => tf.mul(o.apply(x, true), tf.slice(phi, [i], [1])));
    return tf.sum(tf.mul(tf.addN(terms), r)) as tf.Scalar;
  };
  const y = tf.tidy(() => tf.addN(ops.map((o) => o.apply(x, false))));
  const { grads } = tf.variableGrads(f, weights);
  const out = [
    await y.data() as Float32Array,
    ...await Promise.all(weights.map((w) => grads[w.name]!.data() as Promise<Float32Array>)),
  ];
  tf.dispose([x, phi, r, y, ...Object.values(grads)]);
  ops.forEach((o) => o.dispose());
  return out;
}

async function assertBackendsAgree(
  names: readonly string[],
  stride: 1 | 2,
  backend: "wasm" | "native",
): Promise<void> {
  const reference = await mixedForwardBackward(names, stride);
  await useBackend(backend);
  try {
    const wasm = await mixedForwardBackward(names, stride);
    reference.forEach((ref, i) => {
      let worst = 0;
      ref.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - wasm[i]![j]!) / (1 + Math.abs(v)))));
      assert.ok(worst < 1e-3, `tensor ${i} differs by ${worst}`);
    });
  } finally {
    await useBackend("cpu");
  }
}

for (const backend of ["wasm", "native"] as const) {
  Deno.test(
    onBackend(
      `${backend} agrees with cpu on forward and backward of sep_conv_3x3 at stride 1 and 2`,
      backend,
    ),
    async () => {
      await assertBackendsAgree(["sep_conv_3x3"], 1, backend);
      await assertBackendsAgree(["sep_conv_3x3"], 2, backend);
    },
  );

  Deno.test(
    onBackend(`${backend} agrees with cpu on forward and backward of the 7-op ASAP mixed op`, backend),
    async () => {
      await assertBackendsAgree(ASAP_OPS, 1, backend);
      await assertBackendsAgree(ASAP_OPS, 2, backend);
    },
  );
}

// The evaluation network (runtime/nets/evaluation_network.ts) on the cpu backend with tiny sizes: shapes
// and channels at every cell, parameter counts against hand counts and dsl/infer.ts, drop-path, the
// auxiliary head, and clear errors for genotypes that do not fit their space.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import {
  dropPath,
  EvaluationNetwork,
  type EvaluationNetworkOptions,
} from "../runtime/nets/evaluation_network.ts";
import { Rng } from "../runtime/core/rng.ts";
import { inferEvaluation } from "../dsl/infer.ts";
import type { GenotypeCell } from "../dsl/ir.ts";
import { DARTS_V2, dartsSpace, TINY_GENOTYPE as TINY, tinySpace } from "./_ir_builders.ts";

await useBackend("cpu");

const input = (index: number) => ({ kind: "input", index }) as const;
const node = (index: number) => ({ kind: "node", index }) as const;

/** Every edge a stride-1 identity. */
const ALL_SKIP: readonly GenotypeCell[] = [{
  cellType: "normal",
  edges: [
    { from: input(0), to: 0, op: "skip" },
    { from: input(1), to: 0, op: "skip" },
    { from: node(0), to: 1, op: "skip" },
  ],
}];

/** Every edge a conv. */
const ALL_CONV: readonly GenotypeCell[] = [{
  cellType: "normal",
  edges: [
    { from: input(0), to: 0, op: "conv" },
    { from: input(1), to: 1, op: "conv" },
    { from: node(0), to: 1, op: "conv" },
  ],
}];

function build(
  cells: readonly GenotypeCell[],
  options: Partial<EvaluationNetworkOptions> & { inputChannels: number; classes: number },
  ir = tinySpace(),
): EvaluationNetwork {
  let seed = 1;
  return new EvaluationNetwork(ir, cells, { nextSeed: () => seed++, auxiliary: false, ...options });
}

function images(n: number, size: number, channels: number, seed = 3): tf.Tensor4D {
  return tf.randomNormal([n, size, size, channels], 0, 1, "float32", seed) as tf.Tensor4D;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

Deno.test("EvaluationNetwork halves the size and doubles the channels at each reduction cell", () => {
  const net = build(TINY, { inputChannels: 3, classes: 5, channels: 4, cells: 4 });
  try {
    // 4 cells: reductions at floor(4/3) = 1 and floor(8/3) = 2.
    assert.deepEqual(net.reductions, [1, 2]);
    assert.deepEqual(net.cellTypes, ["normal", "reduction", "reduction", "normal"]);
    const x = images(2, 16, 3);
    const shapes = tf.tidy(() => net.features(x, true).map((t) => t.shape));
    assert.deepEqual(shapes, [
      [2, 16, 16, 12], // stem: 3·C
      [2, 16, 16, 8], // normal, C = 4, concat of 2 nodes
      [2, 8, 8, 16], // reduction, C = 8
      [2, 4, 4, 32], // reduction, C = 16
      [2, 4, 4, 32], // normal, C = 16
    ]);
    const inferred = inferEvaluation(tinySpace(), TINY, {
      channels: 4,
      cells: 4,
      inputSize: 16,
      inputChannels: 3,
      classes: 5,
    });
    assert.deepEqual(
      shapes.slice(1).map((s) => [s[1], s[3]]),
      inferred.cells.map((c) => [c.outputSize, c.outputChannels]),
    );
    const logits = tf.tidy(() => net.forward(x, false).logits.shape);
    assert.deepEqual(logits, [2, 5]);
    x.dispose();
  } finally {
    net.dispose();
  }
});

Deno.test("EvaluationNetwork has as many parameters as a hand count of a tiny genotype", () => {
  const net = build(TINY, {
    inputChannels: 1,
    classes: 3,
    channels: 2,
    cells: 2,
    reductions: [1],
    auxiliary: true,
  });
  try {
    const stem = 1 * 6 * 9 + 2 * 6; // 3×3 conv 1 → 3·C, affine BN
    // Normal cell, C = 2: two ReLUConvBN 6 → 2; conv 3×3 on 2 channels + affine BN; skip, pool free.
    const normal = 2 * (6 * 2 + 2 * 2) + (2 * 2 * 9 + 2 * 2);
    // Reduction cell, C = 4: ReLUConvBN 6 → 4 and 4 → 4; skip at stride 2 = FactorizedReduce(4 → 4);
    // conv 3×3 on 4 channels + BN.
    const reduction = (6 * 4 + 2 * 4) + (4 * 4 + 2 * 4) + (2 * 4 * 2 + 2 * 4) + (4 * 4 * 9 + 2 * 4);
    const classifier = 8 * 3 + 3;
    assert.equal(net.parameterCount(), stem + normal + reduction + classifier);
    // DARTS' AuxiliaryHeadCIFAR on the 8 channels of the reduction cell.
    const head = 8 * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * 3 + 3;
    assert.equal(net.parameterCount({ auxiliary: true }), stem + normal + reduction + classifier + head);
    const inferred = inferEvaluation(tinySpace(), TINY, {
      channels: 2,
      cells: 2,
      reductions: [1],
      inputChannels: 1,
      classes: 3,
      auxiliary: true,
    });
    assert.equal(net.parameterCount(), inferred.params);
    assert.equal(net.parameterCount({ auxiliary: true }), inferred.paramsWithAuxiliary);
  } finally {
    net.dispose();
  }
});

Deno.test("EvaluationNetwork of DARTS_V2 at C = 36 with 20 cells has DARTS' 3,349,342 parameters", () => {
  const net = build(DARTS_V2, { inputChannels: 3, classes: 10, auxiliary: true }, dartsSpace());
  try {
    assert.deepEqual(net.reductions, [6, 13]);
    assert.equal(net.parameterCount(), 3_349_342);
    assert.equal(
      net.parameterCount({ auxiliary: true }),
      inferEvaluation(dartsSpace(), DARTS_V2, { auxiliary: true }).paramsWithAuxiliary,
    );
  } finally {
    net.dispose();
  }
});

Deno.test("EvaluationNetwork never drops identity edges", () => {
  const net = build(ALL_SKIP, { inputChannels: 2, classes: 3, channels: 4, cells: 2, reductions: [] });
  const x = images(6, 4, 2);
  try {
    const plain = tf.tidy(() => net.forward(x, true, 0).logits);
    const dropped = tf.tidy(() => net.forward(x, true, 0.9, new Rng(5)).logits);
    assert.equal(maxAbsDiff(plain, dropped), 0);
    tf.dispose([plain, dropped]);
  } finally {
    x.dispose();
    net.dispose();
  }
});

Deno.test("EvaluationNetwork drops other edges while training only", () => {
  const net = build(ALL_CONV, { inputChannels: 2, classes: 3, channels: 4, cells: 2, reductions: [] });
  const x = images(6, 4, 2);
  try {
    const inference = tf.tidy(() => net.forward(x, false, 0).logits);
    const inferenceDrop = tf.tidy(() => net.forward(x, false, 0.9, new Rng(5)).logits);
    assert.equal(maxAbsDiff(inference, inferenceDrop), 0);
    const training = tf.tidy(() => net.forward(x, true, 0).logits);
    const trainingDrop = tf.tidy(() => net.forward(x, true, 0.5, new Rng(5)).logits);
    assert.ok(maxAbsDiff(training, trainingDrop) > 1e-3);
    tf.dispose([inference, inferenceDrop, training, trainingDrop]);
  } finally {
    x.dispose();
    net.dispose();
  }
});

Deno.test("dropPath() zeroes whole samples and scales the kept ones by 1/(1 − p)", () => {
  const x = tf.ones([400, 2, 2, 3]) as tf.Tensor4D;
  const y = dropPath(x, 0.25, new Rng(7));
  const values = y.dataSync();
  const perSample = Array.from({ length: 400 }, (_, n) => new Set(values.slice(n * 12, (n + 1) * 12)));
  assert.ok(perSample.every((s) => s.size === 1));
  const kept = perSample.filter((s) => [...s][0]! > 0);
  assert.ok(kept.every((s) => Math.abs([...s][0]! - 1 / 0.75) < 1e-6));
  // 300 kept on average; 5 standard deviations is about ±43.
  assert.ok(Math.abs(kept.length - 300) < 45, `kept ${kept.length} of 400`);
  tf.dispose([x, y]);
});

Deno.test("EvaluationNetwork builds and runs the auxiliary head only when asked, and only while training", () => {
  // 32×32 input, reductions at 1 and 2: the head sees the 8×8 output of cell 2.
  const withHead = build(TINY, {
    inputChannels: 1,
    classes: 4,
    channels: 2,
    cells: 3,
    reductions: [1, 2],
    auxiliary: true,
  });
  const without = build(TINY, {
    inputChannels: 1,
    classes: 4,
    channels: 2,
    cells: 3,
    reductions: [1, 2],
    auxiliary: false,
  });
  const x = images(2, 32, 1);
  try {
    assert.equal(withHead.hasAuxiliary, true);
    assert.equal(without.hasAuxiliary, false);
    assert.ok(withHead.parameterCount({ auxiliary: true }) > withHead.parameterCount());
    assert.equal(without.parameterCount({ auxiliary: true }), without.parameterCount());
    const train = withHead.forward(x, true);
    const infer = withHead.forward(x, false);
    const plain = without.forward(x, true);
    assert.deepEqual(train.auxLogits?.shape, [2, 4]);
    assert.equal(infer.auxLogits, null);
    assert.equal(plain.auxLogits, null);
    tf.dispose([train.logits, train.auxLogits!, infer.logits, plain.logits]);
  } finally {
    x.dispose();
    withHead.dispose();
    without.dispose();
  }
});

Deno.test("EvaluationNetwork explains when the auxiliary head does not fit the image size", () => {
  const net = build(TINY, {
    inputChannels: 1,
    classes: 4,
    channels: 2,
    cells: 3,
    reductions: [1, 2],
    auxiliary: true,
  });
  const x = images(2, 16, 1);
  try {
    assert.throws(() => tf.tidy(() => net.forward(x, true).logits), /auxiliary: false/);
  } finally {
    x.dispose();
    net.dispose();
  }
});

Deno.test("EvaluationNetwork names a cell type the genotype lacks and an edge its space does not have", () => {
  assert.throws(
    () => build(ALL_SKIP, { inputChannels: 1, classes: 2, channels: 2, cells: 3 }),
    /no cell of type "reduction"/,
  );
  const bad: GenotypeCell[] = [{ cellType: "normal", edges: [{ from: node(1), to: 0, op: "skip" }] }];
  assert.throws(
    () => build(bad, { inputChannels: 1, classes: 2, channels: 2, cells: 1, reductions: [] }),
    /not an edge of cell type "normal"/,
  );
});

Deno.test("EvaluationNetwork forward leaves no tensor behind and dispose frees every variable", () => {
  const before = tf.memory().numTensors;
  const net = build(TINY, {
    inputChannels: 1,
    classes: 3,
    channels: 2,
    cells: 3,
    reductions: [1, 2],
    auxiliary: true,
  });
  const x = images(2, 32, 1);
  const built = tf.memory().numTensors;
  tf.tidy(() => {
    net.forward(x, true, 0.2);
    net.forward(x, false);
  });
  assert.equal(tf.memory().numTensors, built);
  x.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("EvaluationNetwork gives the same gradients, drop-path included, with activations recomputed", () => {
  const net = build(TINY, { inputChannels: 3, classes: 5, channels: 4, cells: 4 });
  const x = images(2, 8, 3);
  try {
    const grads = (recompute: boolean) => {
      net.recompute = recompute;
      const { value, grads } = tf.variableGrads(
        // Drop-path on, with the same masks in both passes (the same seed).
        () => tf.sum(net.forward(x, true, 0.3, new Rng(5)).logits) as tf.Scalar,
        net.weights(),
      );
      value.dispose();
      return grads;
    };
    const plain = grads(false);
    const recomputed = grads(true);
    for (const [name, g] of Object.entries(plain)) assert.ok(maxAbsDiff(g, recomputed[name]!) < 1e-4, name);
    tf.dispose([...Object.values(plain), ...Object.values(recomputed)]);
  } finally {
    x.dispose();
    net.dispose();
  }
});

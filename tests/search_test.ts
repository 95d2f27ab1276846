import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { SearchNetwork } from "../runtime/nets/supernet.ts";
import { cellsToRecompute, SearchRun } from "../runtime/loops/search.ts";
import { syntheticDataset } from "../runtime/data/datasets.ts";
import { Rng } from "../runtime/core/rng.ts";
import { withoutAlphaGradients, withoutWeightGradients } from "../runtime/kernels/grad_scope.ts";
import type { SearchSettings, SpaceIR } from "../dsl/ir.ts";
import { dartsSpace, tinySpace } from "./_ir_builders.ts";
import { summarize } from "../dsl/infer.ts";
import { onBackend } from "./_native.ts";

// wasm: the CPU default; the kernels it lacks are reformulated (tests/kernels_test.ts checks them against cpu).
await useBackend("wasm");

const data = syntheticDataset({ n: 48, height: 8, width: 8, channels: 3, classes: 3, seed: 7 });

function tiny(search: Partial<SearchSettings> = {}): SpaceIR {
  const ir = tinySpace();
  return {
    ...ir,
    search: {
      ...ir.search,
      grace: { kind: "epochs", epochs: 0 },
      batchSize: 8,
      maxEpochs: 6,
      archOptimizer: { ...ir.search.archOptimizer, lr: 0.05 },
      ...search,
    },
  };
}

function network(ir: SpaceIR, seed = 1): SearchNetwork {
  const rng = new Rng(seed);
  return new SearchNetwork(ir, { inputChannels: 3, classes: 3, nextSeed: () => rng.int(2 ** 31 - 1) });
}

function batch(n = 4): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const x = tf.randomNormal([n, 8, 8, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1].slice(0, n), "int32"), 3) as tf.Tensor2D;
  return { x, y };
}

Deno.test("SearchNetwork.phi() stays a finite distribution at temperatures down to 1e-3", () => {
  const net = network(tinySpace());
  try {
    net.alpha.get("normal")![0]!.assign(tf.tensor1d([5, -3, 0]));
    for (const t of [10, 1, 0.1, 1e-3]) {
      const phi = net.phi("normal", t)[0]!;
      const values = Array.from(phi.dataSync());
      phi.dispose();
      assert.ok(values.every(Number.isFinite), `T = ${t}: ${values}`);
      assert.ok(Math.abs(values.reduce((a, b) => a + b) - 1) < 1e-5);
    }
  } finally {
    net.dispose();
  }
});

Deno.test("the gradient of the loss w.r.t. α matches central finite differences at T = 1 and T = 0.5", () => {
  const net = network(tinySpace());
  const { x, y } = batch();
  try {
    const alpha = net.alpha.get("normal")![2]!;
    alpha.assign(tf.tensor1d([0.3, -0.2, 0.1]));
    for (const temperature of [1, 0.5]) {
      const loss = () => tf.losses.softmaxCrossEntropy(y, net.forward(x, temperature, false)) as tf.Scalar;
      const { grads } = tf.variableGrads(loss, [alpha]);
      const analytic = Array.from(grads[alpha.name]!.dataSync());
      tf.dispose(grads);
      const eps = 1e-2;
      const base = Array.from(alpha.dataSync());
      const numeric = base.map((_, k) => {
        const at = (d: number) => {
          alpha.assign(tf.tensor1d(base.map((v, j) => (j === k ? v + d : v))));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const g = (at(eps) - at(-eps)) / (2 * eps);
        alpha.assign(tf.tensor1d(base));
        return g;
      });
      analytic.forEach((g, k) => {
        assert.ok(
          Math.abs(g - numeric[k]!) < 2e-3 + 0.05 * Math.abs(numeric[k]!),
          `T=${temperature} k=${k}: ${g} vs ${numeric[k]}`,
        );
      });
      // Φ sums to 1 whatever α is, so the gradient w.r.t. α sums to 0 (eq. 4).
      assert.ok(Math.abs(analytic.reduce((a, b) => a + b)) < 1e-5);
    }
  } finally {
    tf.dispose([x, y]);
    net.dispose();
  }
});

Deno.test("recomputing the ops' activations gives the same loss and gradients as keeping them", () => {
  const net = network(tinySpace());
  const { x } = batch();
  const labels = tf.tensor1d([0, 1, 2, 1], "int32");
  try {
    net.alpha.get("reduction")![1]!.assign(tf.tensor1d([0.5, -0.5, 0.2]));
    net.prune({ cellType: "normal", edge: 3 }, 1);
    // Every cell recomputed, and some cells only (what "auto" picks when the rest fits its budget).
    for (const [all, cells] of [[true, []], [false, [0, 2]]] as const) {
      for (const wrt of [net.weights(), [...net.alpha.values()].flat()]) {
        net.recompute = false;
        net.recomputeCells = new Set();
        const plain = net.lossAndGradients(x, labels, 0.7, wrt);
        net.recompute = all;
        net.recomputeCells = new Set(cells);
        const recomputed = net.lossAndGradients(x, labels, 0.7, wrt);
        assert.ok(Math.abs(plain.loss.dataSync()[0]! - recomputed.loss.dataSync()[0]!) < 1e-5);
        plain.grads.forEach((g, i) => {
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(g, recomputed.grads[i]!))).dataSync()[0]!);
          assert.ok(diff < 1e-4, `${wrt[i]!.name}: max difference ${diff}`);
        });
        tf.dispose([
          plain.loss,
          plain.correct,
          ...plain.grads,
          recomputed.loss,
          recomputed.correct,
          ...recomputed.grads,
        ]);
      }
    }
  } finally {
    tf.dispose([x, labels]);
    net.dispose();
  }
});

for (const backend of ["wasm", "native"] as const) {
  Deno.test(
    onBackend(
      `without α's gradients (the w step) the weights' are the same, bit for bit, and Φ's are zeros (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      const net = network(tinySpace());
      const { x } = batch();
      const labels = tf.tensor1d([0, 1, 2, 1], "int32");
      try {
        net.alpha.get("normal")![0]!.assign(tf.tensor1d([0.3, -0.2, 0.1]));
        for (const recompute of [false, true]) {
          net.recompute = recompute;
          const weights = net.weights();
          const all = net.lossAndGradients(x, labels, 0.6, weights);
          const skipped = withoutAlphaGradients(() => net.lossAndGradients(x, labels, 0.6, weights));
          all.grads.forEach((g, i) =>
            assert.deepEqual(g.dataSync(), skipped.grads[i]!.dataSync(), weights[i]!.name)
          );
          // What the scope promises: asked for α's gradients inside it, one gets zeros.
          const alphas = [...net.alpha.values()].flat();
          const zeros = withoutAlphaGradients(() => net.lossAndGradients(x, labels, 0.6, alphas));
          for (const g of zeros.grads) assert.ok(g.dataSync().every((v) => v === 0));
          tf.dispose([all.loss, all.correct, ...all.grads, skipped.loss, skipped.correct, ...skipped.grads]);
          tf.dispose([zeros.loss, zeros.correct, ...zeros.grads]);
        }
      } finally {
        tf.dispose([x, labels]);
        net.dispose();
        await useBackend("wasm"); // the other tests here run on wasm
      }
    },
  );
}

Deno.test("cellsToRecompute: the largest cells recompute until the others' activations fit the budget", () => {
  assert.deepEqual([...cellsToRecompute([2, 2, 4, 1, 1], 10)], []);
  assert.deepEqual([...cellsToRecompute([2, 2, 4, 1, 1], 6)], [2]);
  assert.deepEqual([...cellsToRecompute([2, 2, 4, 1, 1], 5)], [2, 0]); // ties: the earlier cell first
  assert.deepEqual([...cellsToRecompute([2, 2, 4, 1, 1], 0)].sort(), [0, 1, 2, 3, 4]);
});

Deno.test("α gradients are the same when the weights' gradients are skipped (the α step)", () => {
  const net = network(tinySpace());
  const { x } = batch();
  const labels = tf.tensor1d([0, 1, 2, 1], "int32");
  try {
    const alphas = [...net.alpha.values()].flat();
    alphas[3]!.assign(tf.tensor1d([0.4, -0.1, 0.3]));
    for (const recompute of [false, true]) {
      net.recompute = recompute;
      const full = net.lossAndGradients(x, labels, 0.5, alphas);
      const skipped = withoutWeightGradients(() => net.lossAndGradients(x, labels, 0.5, alphas));
      full.grads.forEach((g, i) =>
        assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(g, skipped.grads[i]!))).dataSync()[0]!) < 1e-6)
      );
      tf.dispose([full.loss, full.correct, ...full.grads, skipped.loss, skipped.correct, ...skipped.grads]);
    }
  } finally {
    tf.dispose([x, labels]);
    net.dispose();
  }
});

Deno.test("batch norms update their running statistics once per w step, recomputed or not, and not in the α step", () => {
  const { x } = batch();
  const labels = tf.tensor1d([0, 1, 2, 1], "int32");
  const twin = (name: string) => {
    const rng = new Rng(5);
    return new SearchNetwork(tinySpace(), {
      inputChannels: 3,
      classes: 3,
      nextSeed: () => rng.int(2 ** 31 - 1),
      name,
    });
  };
  const plain = twin("plain");
  const recomputed = twin("recomputed");
  recomputed.recompute = true;
  const values = (net: SearchNetwork) => net.state().map((v) => Array.from(v.dataSync()));
  try {
    const initial = values(plain);
    for (const net of [plain, recomputed]) {
      const r = net.lossAndGradients(x, labels, 1, net.weights());
      tf.dispose([r.loss, r.correct, ...r.grads]);
    }
    const once = values(plain);
    assert.ok(
      once.some((v, i) => v.some((a, j) => Math.abs(a - initial[i]![j]!) > 1e-4)),
      "statistics moved",
    );
    values(recomputed).forEach((v, i) => v.forEach((a, j) => assert.ok(Math.abs(a - once[i]![j]!) < 1e-5)));
    const alphas = [...plain.alpha.values()].flat();
    const a = withoutWeightGradients(() => plain.lossAndGradients(x, labels, 1, alphas));
    tf.dispose([a.loss, a.correct, ...a.grads]);
    assert.deepEqual(values(plain), once);
  } finally {
    tf.dispose([x, labels]);
    plain.dispose();
    recomputed.dispose();
  }
});

Deno.test("recomputation leaks no tensors", () => {
  const net = network(tinySpace());
  const { x } = batch();
  const labels = tf.tensor1d([0, 1, 2, 1], "int32");
  try {
    net.recompute = true;
    const step = () => {
      const r = net.lossAndGradients(x, labels, 1, net.weights());
      tf.dispose([r.loss, r.correct, ...r.grads]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    assert.equal(tf.memory().numTensors, before);
  } finally {
    tf.dispose([x, labels]);
    net.dispose();
  }
});

Deno.test("pruning an op disposes its variables and removes its kernels from the executed graph", async () => {
  const net = network(tinySpace());
  const { x } = batch();
  try {
    const weightsBefore = net.weights().length;
    const kernelsBefore = await kernelCount(net, x);
    const memoryBefore = tf.memory();
    // Candidate 2 of tiny is the relu-conv-bn op; prune it on edge 0 of the normal cell type.
    const disposed = net.prune({ cellType: "normal", edge: 0 }, 2);
    assert.ok(disposed.length > 0);
    assert.ok(net.weights().length < weightsBefore);
    const memoryAfter = tf.memory();
    assert.ok(memoryAfter.numTensors < memoryBefore.numTensors);
    assert.ok(memoryAfter.numBytes < memoryBefore.numBytes);
    const kernelsAfter = await kernelCount(net, x);
    assert.ok(kernelsAfter < kernelsBefore, `${kernelsAfter} kernels after vs ${kernelsBefore} before`);
    assert.deepEqual(net.alive.get("normal")![0], [0, 1]);
  } finally {
    x.dispose();
    net.dispose();
  }
});

async function kernelCount(net: SearchNetwork, x: tf.Tensor4D): Promise<number> {
  const info = await tf.profile(() => net.forward(x, 1, false));
  tf.dispose(info.result as tf.Tensor);
  return info.kernels.length;
}

Deno.test("the last op of a mixed op is never pruned", () => {
  const net = network(tinySpace());
  try {
    net.prune({ cellType: "normal", edge: 1 }, 0);
    net.prune({ cellType: "normal", edge: 1 }, 1);
    assert.throws(() => net.prune({ cellType: "normal", edge: 1 }, 2), /last op/);
    assert.deepEqual(net.alive.get("normal")![1], [2]);
  } finally {
    net.dispose();
  }
});

Deno.test("a search step leaks no tensors: the count after step 3 equals the count after step 2", async () => {
  const run = new SearchRun(tiny({ threshold: { kind: "fixed", c: 0 } }), { data, seed: 1 });
  try {
    await run.runStep();
    await run.runStep();
    const after2 = tf.memory().numTensors;
    await run.runStep();
    assert.equal(tf.memory().numTensors, after2);
  } finally {
    run.dispose();
  }
});

Deno.test("ASAP prunes every op whose Φ falls below θ after an α step, and keeps the strongest", async () => {
  const run = new SearchRun(tiny({ temperature: { kind: "constant", value: 1 } }), { data, seed: 2 });
  try {
    // θ = 0.4 / 3 ≈ 0.133; Φ(3, 0, -3) ≈ (0.95, 0.047, 0.002): candidates 1 and 2 go.
    run.net.alpha.get("normal")![0]!.assign(tf.tensor1d([3, 0, -3]));
    await run.runStep();
    assert.deepEqual(run.net.alive.get("normal")![0], [0]);
    // Untouched edges (uniform Φ = 1/3 > θ) keep all three.
    assert.deepEqual(run.net.alive.get("normal")![1], [0, 1, 2]);
  } finally {
    run.dispose();
  }
});

Deno.test("α is frozen and nothing is pruned while T ≥ the grace temperature", async () => {
  const ir = tiny({
    temperature: { kind: "exponential", t0: 4, beta: 0.5 }, // epoch 1: T = 2, epoch 2: T = 1
    grace: { kind: "temperature", tau: 1.5 },
  });
  const run = new SearchRun(ir, { data, seed: 3, stepsPerEpoch: 2 });
  try {
    const t0 = await run.runEpoch();
    assert.equal(t0.grace, true);
    const alpha = Array.from(await run.net.alpha.get("normal")![0]!.data());
    assert.deepEqual(alpha, [0, 0, 0]);
    const t1 = await run.runEpoch(); // T = 1 < 1.5: α moves
    assert.equal(t1.grace, false);
    const moved = Array.from(await run.net.alpha.get("normal")![0]!.data());
    assert.ok(moved.some((v) => v !== 0));
  } finally {
    run.dispose();
  }
});

Deno.test("a tiny ASAP search converges to one op per edge, and the same seed gives the same genotype", async () => {
  const ir = tiny({ temperature: { kind: "exponential", t0: 1, beta: 0.3 }, maxEpochs: 12 });
  const genotypes = [];
  for (let i = 0; i < 2; i++) {
    const run = new SearchRun(ir, { data, seed: 11, stepsPerEpoch: 2 });
    try {
      const genotype = await run.run();
      assert.ok(run.converged, `not converged after ${run.epoch} epochs`);
      const last = run.telemetry[run.telemetry.length - 1]!;
      assert.deepEqual(last.opsLeft, { normal: [1, 1, 1, 1, 1], reduction: [1, 1, 1, 1, 1] });
      assert.ok(last.sparsity > 0.6);
      genotypes.push(genotype);
    } finally {
      run.dispose();
    }
  }
  assert.deepEqual(genotypes[0]!.cells, genotypes[1]!.cells);
  assert.deepEqual(genotypes[0]!.alpha, genotypes[1]!.alpha);
  assert.equal(genotypes[0]!.cells[0]!.edges.length, 5);
});

Deno.test("a run restored from a mid-run checkpoint ends with the same genotype as an uninterrupted one", async () => {
  const ir = tiny({ temperature: { kind: "exponential", t0: 1, beta: 0.5 }, maxEpochs: 4 });
  const options = { data, seed: 5, stepsPerEpoch: 2 };
  const whole = new SearchRun(ir, options);
  const expected = await whole.run();
  whole.dispose();

  const first = new SearchRun(ir, options);
  await first.runEpoch();
  await first.runStep();
  const checkpoint = await first.checkpoint();
  first.dispose();
  const second = new SearchRun(ir, options);
  second.restore(structuredClone(checkpoint));
  const resumed = await second.run();
  second.dispose();
  assert.deepEqual(resumed.cells, expected.cells);
  assert.deepEqual(resumed.alpha, expected.alpha);
});

Deno.test("DARTS keeps every op and derives the top-2 incoming edges of each node", async () => {
  const ir = tiny({ algorithm: "darts", temperature: { kind: "constant", value: 1 }, maxEpochs: 1 });
  const space: SpaceIR = {
    ...ir,
    cellTypes: ir.cellTypes.map((c) => ({
      ...c,
      derive: { kind: "top_k", k: 2, exclude: [], span: c.span },
    })),
  };
  const run = new SearchRun(space, { data, seed: 4, stepsPerEpoch: 2 });
  try {
    const genotype = await run.run();
    assert.deepEqual(run.telemetry[0]!.opsLeft, { normal: [3, 3, 3, 3, 3], reduction: [3, 3, 3, 3, 3] });
    for (const cell of genotype.cells) {
      // Node 0 has two incoming edges, node 1 three: both keep two.
      assert.equal(cell.edges.filter((e) => e.to === 0).length, 2);
      assert.equal(cell.edges.filter((e) => e.to === 1).length, 2);
    }
  } finally {
    run.dispose();
  }
});

for (const algorithm of ["magnitude", "accumulated_gradient"] as const) {
  Deno.test(`${algorithm} pruning follows the sparsity schedule s_t of eq. 13`, async () => {
    const sparsity = { initial: 0, final: 1, start: 0, interval: 1, steps: 2, power: 1 };
    const ir = tiny({ algorithm, temperature: { kind: "constant", value: 1 }, sparsity, maxEpochs: 5 });
    const run = new SearchRun(ir, { data, seed: 6, stepsPerEpoch: 1 });
    try {
      await run.run();
      const left = run.telemetry.map((t) => t.opsLeft.normal!.reduce((a, b) => a + b));
      // 5 edges × 3 ops: 10 prunable; s_1 = 0.5 → 5 pruned, s_2 = 1 → all 10.
      assert.deepEqual(left, [10, 5]);
      assert.ok(run.converged);
    } finally {
      run.dispose();
    }
  });
}

Deno.test("the search network has exactly the weights dsl/infer counts (DARTS: 1,930,618; three inputs)", () => {
  const weightsOf = (ir: SpaceIR) => {
    const rng = new Rng(1);
    const net = new SearchNetwork(ir, {
      inputChannels: 3,
      classes: 10,
      nextSeed: () => rng.int(2 ** 31 - 1),
    });
    try {
      return net.weights().reduce((n, w) => n + w.size, 0);
    } finally {
      net.dispose();
    }
  };
  assert.equal(weightsOf(dartsSpace()), 1930618);
  // Three inputs and back-to-back reductions: the oldest input is two reductions larger.
  const base = tinySpace();
  const threeInputs: SpaceIR = {
    ...base,
    cellTypes: base.cellTypes.map((c) => ({
      ...c,
      inputs: [{ name: "p3", span: c.span }, ...c.inputs],
      edges: c.edges.map((
        e,
      ) => (e.from.kind === "input" ? { ...e, from: { ...e.from, index: e.from.index + 1 } } : e)),
    })),
    supernet: {
      ...base.supernet,
      cells: [
        { cellType: "normal", channels: 4 },
        { cellType: "reduction", channels: 8 },
        { cellType: "reduction", channels: 16 },
        { cellType: "normal", channels: 16 },
      ],
      reductions: [1, 2],
    },
  };
  assert.equal(weightsOf(threeInputs), summarize(threeInputs).weightParams);
});

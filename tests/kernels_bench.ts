// Forward + backward of each kernel formulation at batch 32, 32×32, C = 16, on wasm and cpu.
// Run: deno bench -A tests/kernels_bench.ts   (add --filter wasm to skip the slow cpu rows)
import { tf } from "../runtime/deps.ts";
import { type BackendName, useBackend } from "../runtime/kernels/backend.ts";
import {
  avgPool,
  batchNormTrain,
  conv,
  conv1x1,
  depthwiseConv,
  maxPool,
} from "../runtime/kernels/composite.ts";
import { buildOperation } from "../runtime/nets/ops.ts";
import type { Step } from "../dsl/ir.ts";
import { stepsAt } from "../dsl/ir.ts";

const N = 32;
const S = 32;
const C = 16;

/** One fwd+bwd: Σ f(x)·r differentiated w.r.t. x and the weights, read back (async, as on webgpu). */
async function fwdBwd(
  f: (x: tf.Tensor4D, ...w: tf.Tensor[]) => tf.Tensor,
  weights: tf.Tensor[],
): Promise<void> {
  const x = tf.randomNormal([N, S, S, C], 0, 1, "float32", 1) as tf.Tensor4D;
  const grads = tf.tidy(() =>
    tf.grads((...xs: tf.Tensor[]) => tf.sum(f(xs[0] as tf.Tensor4D, ...xs.slice(1))))([x, ...weights])
  );
  await Promise.all(grads.map((g) => g.data()));
  tf.dispose([x, ...grads]);
}

const sep = (k: number, d: number): Step[] => [
  { kind: "relu" },
  { kind: "dw_conv", kernel: k, dilation: d },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
  ...(d === 1
    ? [{ kind: "relu" }, { kind: "dw_conv", kernel: k, dilation: 1 }, { kind: "conv_1x1" }, {
      kind: "batch_norm",
    }] as Step[]
    : []),
];
const SPAN = { file: "bench", line: 1, column: 1, offset: 0, length: 1 };
const ASAP: Step[][] = [
  sep(3, 1),
  sep(5, 1),
  sep(3, 2),
  sep(5, 2),
  [{ kind: "max_pool", kernel: 3 }],
  [{ kind: "avg_pool", kernel: 3 }],
  [{ kind: "identity" }],
];

let unique = 0;
async function mixedOp(ops: readonly Step[][], stride: 1 | 2): Promise<void> {
  let seed = 1;
  const modules = ops.map((steps) =>
    buildOperation(stepsAt({ name: "op", steps, span: SPAN }, stride), C, {
      name: `bench${unique++}`,
      affine: false,
      nextSeed: () => seed++,
    })
  );
  const x = tf.randomNormal([N, S, S, C], 0, 1, "float32", 1) as tf.Tensor4D;
  const weights = modules.flatMap((m) => m.weights);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.addN(modules.map((m) => m.apply(x, true)))) as tf.Scalar,
    weights,
  );
  await Promise.all(Object.values(grads).map((g) => g.data()));
  tf.dispose([x, value, ...Object.values(grads)]);
  modules.forEach((m) => m.dispose());
}

function cases(): Record<string, () => Promise<void>> {
  const dw3 = tf.randomNormal([3, 3, C]);
  const dw5 = tf.randomNormal([5, 5, C]);
  const full3 = tf.randomNormal([3, 3, C, C]);
  const pw = tf.randomNormal([C, C]);
  const gamma = tf.ones([C]);
  const beta = tf.zeros([C]);
  return {
    "dw_conv 3x3 (shifted slices)": () => fwdBwd((x, w) => depthwiseConv(x, w as tf.Tensor3D, 1), [dw3]),
    "dw_conv 3x3 stride 2 (shifted slices)": () =>
      fwdBwd((x, w) => depthwiseConv(x, w as tf.Tensor3D, 2), [dw3]),
    "dw_conv 5x5 dilation 2 (shifted slices)": () =>
      fwdBwd((x, w) => depthwiseConv(x, w as tf.Tensor3D, 1, 2), [dw5]),
    "dw_conv 5x5 dilation 2 (spaceToBatchND)": () =>
      fwdBwd((x, w) => {
        // pad 4, blocks of 2 → depthwise valid (dilation 1, as 'same' then crop) → back.
        const xs = tf.spaceToBatchND(tf.pad(x, [[0, 0], [4, 4], [4, 4], [0, 0]]), [2, 2], [[0, 0], [0, 0]]);
        const y = tf.slice(depthwiseConv(xs, w as tf.Tensor3D, 1), [0, 2, 2, 0], [-1, S / 2, S / 2, -1]);
        return tf.batchToSpaceND(y, [2, 2], [[0, 0], [0, 0]]);
      }, [dw5]),
    "conv 3x3 (im2col matMul)": () => fwdBwd((x, w) => conv(x, w as tf.Tensor4D, 1), [full3]),
    "conv_1x1 (matMul)": () => fwdBwd((x, w) => conv1x1(x, w as tf.Tensor2D, 1), [pw]),
    "max_pool 3x3 (shifted slices)": () => fwdBwd((x) => maxPool(x, 3, 1), []),
    "avg_pool 3x3 (shifted slices / count)": () => fwdBwd((x) => avgPool(x, 3, 1), []),
    "batch_norm (moments + arithmetic)": () =>
      fwdBwd((x, g, b) => batchNormTrain(x, 1e-5, g as tf.Tensor1D, b as tf.Tensor1D).y, [gamma, beta]),
    "batch_norm (tf.batchNorm)": () =>
      fwdBwd((x, g, b) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5);
      }, [gamma, beta]),
    "sep_conv_3x3 block": () => mixedOp([ASAP[0]!], 1),
    "7-op ASAP mixed op": () => mixedOp(ASAP, 1),
  };
}

for (const backend of ["wasm", "cpu"] as const satisfies readonly BackendName[]) {
  await useBackend(backend);
  for (const [name, fn] of Object.entries(cases())) {
    const slow = backend === "cpu" && name.startsWith("7-op");
    Deno.bench({
      name: `${backend}: ${name}`,
      group: name,
      baseline: backend === "wasm",
      n: backend === "cpu" ? 2 : 5,
      warmup: 1,
      ignore: slow,
      fn: async () => {
        await useBackend(backend);
        await fn();
      },
    });
  }
}

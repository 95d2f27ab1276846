// The evaluation network of DARTS_V2 at C = 36 with 20 cells (3.3M parameters, the paper's size) on
// the wasm backend: one training forward + backward, and one inference forward of a batch of 32.
//
//   deno bench -A tests/evaluation_bench.ts
//
// A training batch of 32 does not fit: the gradient tape of this network holds about 0.95 GB per
// image with runtime/kernels.ts' shifted-slice formulations (a sep_conv_3x3 keeps ~84 copies of its
// input for the backward pass), and the wasm heap is limited to 4 GB, so wasm aborts. The training
// bench therefore runs a batch of 2 (about 1.9 GB): multiply by 16 for a batch-32 estimate of the time.
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/backend.ts";
import { EvaluationNetwork } from "../runtime/evaluation_network.ts";
import { DARTS_V2, dartsSpace } from "./_ir_builders.ts";

await useBackend("wasm");

let seed = 1;
const net = new EvaluationNetwork(dartsSpace(), DARTS_V2, {
  inputChannels: 3,
  classes: 10,
  auxiliary: true,
  nextSeed: () => seed++,
});

function batch(n: number): { x: tf.Tensor4D; labels: tf.Tensor2D } {
  return tf.tidy(() => ({
    x: tf.randomNormal([n, 32, 32, 3], 0, 1, "float32", 7) as tf.Tensor4D,
    labels: tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 10), "int32"), 10) as tf.Tensor2D,
  }));
}

const train = batch(2);
const infer = batch(32);

Deno.bench({
  name: "DARTS_V2 C=36 20 cells: forward + backward, batch 2, auxiliary head and drop-path (wasm)",
  n: 3,
  warmup: 1,
  async fn() {
    const { value, grads } = tf.variableGrads(() => {
      const { logits, auxLogits } = net.forward(train.x, true, 0.1);
      const main = tf.losses.softmaxCrossEntropy(train.labels, logits);
      return tf.add(main, tf.mul(tf.losses.softmaxCrossEntropy(train.labels, auxLogits!), 0.4)) as tf.Scalar;
    }, net.weights());
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  },
});

Deno.bench({
  name: "DARTS_V2 C=36 20 cells: inference forward, batch 32 (wasm)",
  n: 3,
  warmup: 1,
  async fn() {
    const logits = tf.tidy(() => net.forward(infer.x, false).logits);
    await logits.data();
    logits.dispose();
  },
});

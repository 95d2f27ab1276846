// The freeing backward pass (runtime/kernels/lean_backprop.ts): tfjs's gradients, bit for bit, with the
// saved tensors and intermediate gradients freed as it goes.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { withStockBackprop } from "../runtime/kernels/lean_backprop.ts";
import { SearchNetwork } from "../runtime/nets/supernet.ts";
import { Rng } from "../runtime/core/rng.ts";
import { tinySpace } from "./_ir_builders.ts";
import { NUMERIC_BACKENDS, onBackend } from "./_native.ts";

for (const backend of NUMERIC_BACKENDS) {
  Deno.test(
    onBackend(
      `a supernet's weight and α gradients equal tfjs's own backward pass's, bit for bit (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      const rng = new Rng(5);
      const net = new SearchNetwork(tinySpace(), {
        inputChannels: 3,
        classes: 3,
        nextSeed: () => rng.int(2 ** 31 - 1),
      });
      const x = tf.randomNormal([4, 8, 8, 3], 0, 1, "float32", 11) as tf.Tensor4D;
      const labels = tf.tensor1d([0, 2, 1, 1], "int32");
      try {
        for (const recompute of [false, true]) {
          net.recompute = recompute;
          for (const wrt of [net.weights(), [...net.alpha.values()].flat()]) {
            const lean = net.lossAndGradients(x, labels, 0.8, wrt);
            const stock = withStockBackprop(() => net.lossAndGradients(x, labels, 0.8, wrt));
            assert.equal(lean.loss.dataSync()[0], stock.loss.dataSync()[0]);
            lean.grads.forEach((g, i) =>
              assert.deepEqual(
                g.dataSync(),
                stock.grads[i]!.dataSync(),
                `${wrt[i]!.name} (recompute ${recompute})`,
              )
            );
            tf.dispose([lean.loss, lean.correct, ...lean.grads, stock.loss, stock.correct, ...stock.grads]);
          }
        }
      } finally {
        tf.dispose([x, labels]);
        net.dispose();
      }
    },
  );
}

/** An identity op whose gradient reads the bytes alive when the backward pass reaches it. */
function bytesProbe(): { probe: (t: tf.Tensor) => tf.Tensor; bytes: () => number } {
  let bytes = -1;
  const probe = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    (args[1] as tf.GradSaveFunc)([]);
    return {
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => {
        bytes = tf.memory().numBytes;
        return dy;
      },
    };
  });
  return { probe: (t) => probe(t) as tf.Tensor, bytes: () => bytes };
}

/** Bytes alive when the gradient reaches the first op of a chain of 12 ops on a 1 MB tensor. */
function bytesAtTheStart(): number {
  const { probe, bytes } = bytesProbe();
  const x = tf.randomNormal([512, 512], 0, 1, "float32", 4);
  const dx = tf.grad((a: tf.Tensor) => {
    let h = probe(a);
    for (let i = 0; i < 6; i++) h = tf.sigmoid(tf.mul(h, 1.1)); // each op saves a 1 MB tensor
    return tf.sum(h);
  })(x);
  tf.dispose([x, dx]);
  return bytes();
}

Deno.test("saved tensors and intermediate gradients are freed as the backward pass moves on", async () => {
  await useBackend("cpu");
  const mb = 512 * 512 * 4;
  const lean = bytesAtTheStart();
  const stock = withStockBackprop(bytesAtTheStart);
  const before = tf.memory().numBytes;
  // tfjs keeps the 12 ops' saved tensors and gradients (~20 MB) to the end; the freeing pass, at the first
  // op, holds little more than x, the gradient arriving there and what the probe itself made.
  assert.ok(stock - before > 15 * mb, `tfjs's own pass held ${(stock - before) / mb} MB`);
  assert.ok(lean - before < 5 * mb, `the freeing pass held ${(lean - before) / mb} MB`);
});

Deno.test("a gradient that stands for two inputs, and a dy passed in, are not freed early", async () => {
  await useBackend("cpu");
  // Both inputs get the same tensor as their gradient (no copy): freeing it for one would break the other.
  const both = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    (args[2] as tf.GradSaveFunc)([]);
    return {
      value: tf.add(args[0] as tf.Tensor, args[1] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => [dy, dy],
    };
  });
  const a = tf.tensor1d([1, 2]);
  const b = tf.tensor1d([3, 4]);
  const dy = tf.tensor1d([1, 10]);
  // a also gets a gradient from a second path, so the shared tensor is first added into a's gradient.
  const { grads } = tf.engine().gradients(
    () => tf.mul(tf.add(both(a, b) as tf.Tensor, tf.mul(a, 3)), 2),
    [a, b],
    dy,
  );
  const [da, db] = grads.map((g) => Array.from(g!.dataSync()));
  assert.deepEqual(da, [8, 80]);
  assert.deepEqual(db, [2, 20]);
  assert.deepEqual(Array.from(dy.dataSync()), [1, 10]);
  tf.dispose([a, b, dy, ...grads]);
});

Deno.test("reshape, slice, pad, concat, add and sum keep no copy of their inputs for the backward pass", async () => {
  await useBackend("cpu");
  const mb = 512 * 512 * 4;
  // The last op before the loss: its gradient runs first, when the forward pass's scope has ended.
  const { probe, bytes } = bytesProbe();
  const x = tf.randomNormal([512, 512], 0, 1, "float32", 4);
  const before = tf.memory().numBytes;
  const dx = tf.grad((a: tf.Tensor) => {
    const m = tf.reshape(tf.mul(a, 2), [512 * 512]); // each of these makes a 1 MB tensor
    const s = tf.slice(tf.add(m, 1), [0], [512 * 512 - 1]);
    const p = tf.pad(s, [[1, 0]]);
    return tf.sum(probe(tf.concat([p, p])));
  })(x);
  // When the backward pass starts: 5 MB (the gradient arriving and the ones tfjs's Sum gradient made
  // for it, 2 MB each, and 1 MB of the CPU backend's own); with tfjs's saves, 11 MB (the product, the
  // sum, the slice, the padding and the concatenation held too).
  assert.ok(bytes() - before < 7 * mb, `the backward pass started with ${(bytes() - before) / mb} MB`);
  // ∂/∂x = 2 (the product) × 2 (both copies), and 0 for the element the slice dropped.
  const values = dx.dataSync();
  assert.deepEqual([values[0], values[512 * 512 - 2], values[512 * 512 - 1]], [4, 4, 0]);
  tf.dispose([x, dx]);
});

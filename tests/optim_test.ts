// The weights' optimizer: SGD's fused one-kernel step (AsapSgdUpdate) against the composed tfjs ops it
// replaces, and both against a step computed by hand.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { useArrayKernels } from "../runtime/kernels/array_kernels.ts";
import { clipScale, Sgd } from "../runtime/loops/optim.ts";
import { NUMERIC_BACKENDS, onBackend } from "./_native.ts";

/** Three steps of SGD on two weights; the weights and momentum buffers after them. */
async function threeSteps(nesterov: boolean, fused: boolean): Promise<Float32Array[]> {
  useArrayKernels(fused);
  try {
    const sgd = new Sgd({ lr: 0.025, lrMin: 0, momentum: 0.9, nesterov, weightDecay: 3e-4, gradClip: 5 });
    const ws = [
      tf.variable(tf.randomNormal([3, 3, 4, 1], 0, 1, "float32", 1)),
      tf.variable(tf.randomNormal([4, 6], 0, 1, "float32", 2)),
    ];
    for (let step = 0; step < 3; step++) {
      const grads = ws.map((w, i) => tf.randomNormal(w.shape, 0, 3, "float32", 100 + 10 * step + i));
      const scale = clipScale(grads, 5); // ‖grads‖ ≈ 15 here: the clipping scales them down
      sgd.step(ws, grads, 0.025 * (1 - step / 4), scale);
      tf.dispose([...grads, scale]);
    }
    const slots = Object.values(await sgd.save()).map((slot) => slot.values);
    const out = [...ws.map((w) => w.dataSync() as Float32Array), ...slots];
    sgd.dispose();
    tf.dispose(ws);
    return out;
  } finally {
    useArrayKernels(true);
  }
}

for (const backend of NUMERIC_BACKENDS) {
  Deno.test(
    onBackend(
      `SGD's one-kernel step equals the composed ops bit for bit, with and without Nesterov (${backend})`,
      backend,
    ),
    async () => {
      await useBackend(backend);
      for (const nesterov of [false, true]) {
        const fused = await threeSteps(nesterov, true);
        const composed = await threeSteps(nesterov, false);
        assert.equal(fused.length, 4);
        fused.forEach((a, i) => assert.deepEqual(a, composed[i], `tensor ${i}, nesterov ${nesterov}`));
      }
    },
  );
}

Deno.test("one SGD step as PyTorch's SGD computes it (momentum, weight decay, clipping scale)", async () => {
  await useBackend("cpu");
  const sgd = new Sgd({ lr: 0.1, lrMin: 0, momentum: 0.9, nesterov: false, weightDecay: 0.01, gradClip: 1 });
  const w = tf.variable(tf.tensor1d([1, -2]));
  const g = tf.tensor1d([3, 4]); // norm 5: clipped by 1/5
  const scale = clipScale([g], 1);
  for (let i = 0; i < 2; i++) sgd.step([w], [g], 0.1, scale);
  // step 1: g' = (0.6, 0.8) + 0.01·w; buf = g'; w -= 0.1·buf. step 2: buf = 0.9·buf + g'(w₁).
  let [w0, w1] = [1, -2];
  let [b0, b1] = [0, 0];
  for (let i = 0; i < 2; i++) {
    const [g0, g1] = [0.6 + 0.01 * w0, 0.8 + 0.01 * w1];
    [b0, b1] = [0.9 * b0 + g0, 0.9 * b1 + g1];
    [w0, w1] = [w0 - 0.1 * b0, w1 - 0.1 * b1];
  }
  const got = w.dataSync();
  assert.ok(Math.abs(got[0]! - w0) < 1e-6 && Math.abs(got[1]! - w1) < 1e-6, `${got} vs ${[w0, w1]}`);
  sgd.dispose();
  tf.dispose([w, g, scale]);
});

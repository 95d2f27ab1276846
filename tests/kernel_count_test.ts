// countKernels() (runtime/kernels/kernel_count.ts) and the kernel budget of a DARTS search step.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { countKernels } from "../runtime/kernels/kernel_count.ts";
import { SearchRun } from "../runtime/loops/search.ts";
import { syntheticDataset } from "../runtime/data/datasets.ts";
import { dartsSpace } from "./_ir_builders.ts";

Deno.test("countKernels() counts each dispatch under its kernel name and leaves the kernels as they were", async () => {
  await useBackend("wasm");
  const x = tf.tensor1d([1, -2, 3]);
  const { result, kernels, byName } = await countKernels(() =>
    tf.tidy(() => Array.from(tf.add(tf.relu(x), tf.relu(x)).dataSync()))
  );
  assert.deepEqual(result, [2, 0, 6]);
  assert.equal(byName["Relu"]?.calls, 2);
  assert.equal(byName["Add"]?.calls, 1);
  assert.equal(kernels, 3);
  // The wrappers are gone: a second count starts from zero, and nesting is refused.
  const again = await countKernels(() => tf.tidy(() => tf.relu(x).dataSync()));
  assert.equal(again.kernels, 1);
  await assert.rejects(() => countKernels(() => countKernels(() => 0)), /do not nest/);
  x.dispose();
});

Deno.test("one DARTS search step (w step and α step, recomputed) dispatches at most 60,000 kernels", async () => {
  await useBackend("wasm");
  // The count does not depend on the batch or the image size: batch 1 on 8×8 images keeps this quick.
  const ir = dartsSpace();
  const space = {
    ...ir,
    search: {
      ...ir.search,
      grace: { kind: "epochs" as const, epochs: 0 },
      threshold: { kind: "fixed" as const, c: 0 },
    },
  };
  const data = syntheticDataset({ n: 8, height: 8, width: 8, channels: 3, classes: 10, seed: 0 });
  const run = new SearchRun(space, { data, seed: 0, batchSize: 1, recompute: true });
  try {
    await run.runStep();
    const { kernels, byName } = await countKernels(() => run.runStep());
    const top = Object.entries(byName).slice(0, 5).map(([n, t]) => `${n} ${t.calls}`).join(", ");
    assert.ok(kernels <= 60_000, `${kernels} kernels per step (${top})`);
  } finally {
    run.dispose();
  }
});

// Backend selection: the usable backends, the clear errors of the unusable ones, and webgpu against cpu.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import {
  BackendError,
  type BackendName,
  BACKENDS,
  isBackendName,
  useBackend,
} from "../runtime/kernels/backend.ts";
import { buildOperation } from "../runtime/nets/ops.ts";
import { nativeMissing } from "./_native.ts";

Deno.test("isBackendName() accepts exactly the listed backends", () => {
  for (const name of BACKENDS) assert.ok(isBackendName(name));
  assert.ok(!isBackendName("gpu") && !isBackendName("WASM") && !isBackendName(""));
  assert.equal(BACKENDS[0], "auto");
});

Deno.test("useBackend('auto') picks native where libtorch is installed, else wasm with one line on how to get it", async () => {
  const lines: string[] = [];
  const chosen = await useBackend("auto", (line) => lines.push(line));
  assert.equal(tf.getBackend(), chosen);
  if (nativeMissing === undefined) {
    assert.equal(chosen, "native");
    assert.deepEqual(lines, []);
  } else {
    assert.equal(chosen, "wasm");
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /apt-get install libtorch-dev/);
  }
  await useBackend("cpu");
});

Deno.test("useBackend() switches between wasm, cpu and native (where libtorch is installed) and computes on each", async () => {
  for (
    const name of nativeMissing === undefined ? ["wasm", "cpu", "native"] as const : ["wasm", "cpu"] as const
  ) {
    await useBackend(name);
    assert.equal(tf.getBackend(), name);
    const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));
    assert.deepEqual(Array.from(await y.data()), [3, 3, 3, 3]);
    y.dispose();
  }
});

Deno.test("useBackend() rejects an unknown name with the list of valid names", async () => {
  const error = await useBackend("gpu" as BackendName).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof BackendError);
  assert.equal(error.exitCode, 2);
  assert.match(error.message, /unknown backend "gpu"/);
  for (const name of BACKENDS) assert.ok(error.message.includes(`"${name}"`), error.message);
});

/**
 * `useBackend(name)` in a child process run with `--no-lock`, its outcome as JSON: importing the native
 * TensorFlow binding resolves `@tensorflow/tfjs-node(-gpu)`, and in this process that would write those
 * packages, whose install scripts Deno ignores, into deno.lock, so that every later first run downloads
 * them and prints Deno's "Ignored build scripts" warning (tests/first_run_test.ts).
 */
async function useBackendUnlocked(
  name: BackendName,
): Promise<{ backend?: string; error?: string; exitCode?: number; isBackendError?: boolean }> {
  const module = new URL("../runtime/kernels/backend.ts", import.meta.url).href;
  const code = `import { BackendError, useBackend } from ${JSON.stringify(module)};
import { tf } from ${JSON.stringify(new URL("../runtime/deps.ts", import.meta.url).href)};
try {
  await useBackend(${JSON.stringify(name)});
  console.log(JSON.stringify({ backend: tf.getBackend() }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.message ?? e), exitCode: e?.exitCode, isBackendError: e instanceof BackendError }));
}`;
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-lock", "--quiet", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  try {
    return JSON.parse(lines.at(-1)!);
  } catch {
    throw new Error(`the child process printed no result: ${new TextDecoder().decode(stderr)}`);
  }
}

for (const name of ["tensorflow", "tensorflow-gpu"] as const) {
  Deno.test(`useBackend("${name}") without libtensorflow fails with a message naming the alternatives`, async () => {
    const result = await useBackendUnlocked(name);
    if (result.error === undefined) {
      // The native binding is installed here after all: it must then be the active backend.
      assert.equal(result.backend, "tensorflow");
      return;
    }
    assert.ok(result.isBackendError, result.error);
    assert.equal(result.exitCode, 1);
    assert.match(result.error, new RegExp(`backend "${name}" is not available`));
    assert.match(result.error, /"wasm"/);
    assert.match(result.error, /"cpu"/);
    assert.ok(!result.error.includes("\n    at "), "no stack trace in the message");
  });
}

/** Σ of 9 ops' outputs and the gradients of a sep_conv_3x3 on the current backend (async reads only). */
async function sepConvAndWideSum(): Promise<Float32Array[]> {
  let seed = 1;
  const op = buildOperation(
    [
      { kind: "relu", stride: 1 },
      { kind: "dw_conv", kernel: 3, dilation: 1, stride: 2 },
      { kind: "conv_1x1", stride: 1 },
      { kind: "batch_norm", stride: 1 },
    ],
    4,
    { name: `webgpu_check_${tf.getBackend()}`, affine: true, nextSeed: () => seed++ },
  );
  const x = tf.variable(tf.randomNormal([2, 6, 6, 4], 0, 1, "float32", 5) as tf.Tensor4D);
  const r = tf.randomNormal([2, 3, 3, 4], 0, 1, "float32", 6);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(op.apply(x, true), r)) as tf.Scalar, [
    x,
    ...op.weights,
  ]);
  // AddN of 9 inputs: wrong on webgpu unless maxStorageBuffersPerShaderStage was raised.
  const parts = Array.from({ length: 9 }, (_, i) => tf.fill([3, 5], i + 1));
  const wide = tf.addN(parts);
  const out = [
    (await value.data()) as Float32Array,
    (await wide.data()) as Float32Array,
    ...(await Promise.all(Object.values(grads).map((g) => g.data() as Promise<Float32Array>))),
  ];
  tf.dispose([x, r, value, wide, ...parts, ...Object.values(grads)]);
  op.dispose();
  return out;
}

Deno.test("useBackend('webgpu') agrees with cpu where an adapter exists, else names the alternatives", async () => {
  const adapter = await (globalThis.navigator as { gpu?: GPU }).gpu?.requestAdapter();
  if (!adapter) {
    const error = await useBackend("webgpu").then(() => null, (e: unknown) => e);
    assert.ok(error instanceof BackendError, String(error));
    assert.match(error.message, /no GPU adapter/);
    assert.match(error.message, /"wasm" or "cpu"/);
    return;
  }
  await useBackend("cpu");
  const reference = await sepConvAndWideSum();
  await useBackend("webgpu");
  try {
    assert.equal(tf.getBackend(), "webgpu");
    const gpu = await sepConvAndWideSum();
    assert.deepEqual(Array.from(gpu[1]!), Array(15).fill(45));
    reference.forEach((ref, i) => {
      let worst = 0;
      ref.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - gpu[i]![j]!) / (1 + Math.abs(v)))));
      assert.ok(worst < 1e-3, `tensor ${i} differs by ${worst}`);
    });
  } finally {
    await useBackend("cpu");
  }
});

// The native (ATen) backend itself: reads and writes, memory accounting, aliasing, errors, threads.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import type { NativeBackend } from "../runtime/kernels/native/backend.ts";
import { nativeThreads, setNativeThreads } from "../runtime/kernels/native/load.ts";
import { buildShim, NativeUnavailableError } from "../runtime/kernels/native/build.ts";
import { onBackend } from "./_native.ts";

function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test(onBackend(name, "native"), async () => {
    await useBackend("native");
    try {
      await fn();
    } finally {
      await useBackend("cpu");
    }
  });
}

/** The native handles alive in the shim. */
function shimHandles(): number {
  return (tf.backend() as NativeBackend).memory().numShimHandles;
}

test("the native backend reads back float32, int32 and bool tensors as written", async () => {
  const f = tf.tensor2d([[1.5, -2], [3, 1e-8]]);
  const i = tf.tensor1d([7, -3, 2147483647], "int32");
  const b = tf.tensor1d([true, false, true], "bool");
  assert.deepEqual(Array.from(await f.data()), [1.5, -2, 3, Math.fround(1e-8)]);
  assert.deepEqual(Array.from(i.dataSync()), [7, -3, 2147483647]);
  assert.ok(i.dataSync() instanceof Int32Array);
  assert.deepEqual(Array.from(b.dataSync()), [1, 0, 1]);
  assert.deepEqual(tf.scalar(4).arraySync(), 4);
  assert.deepEqual(tf.zeros([0, 3]).shape, [0, 3]);
  tf.dispose([f, i, b]);
});

test("a gradient computation on the native backend leaves no tensor and no native handle behind", async () => {
  // The shim is shared by the process (other test modules may hold tensors): compare differences.
  const start = shimHandles();
  const own = (tf.backend() as NativeBackend).memory().numNativeHandles;
  const initial = [
    tf.randomNormal([2, 6, 6, 4], 0, 1, "float32", 1),
    tf.randomNormal([3, 3, 4, 1], 0, 1, "float32", 2),
  ];
  const [x, w] = initial.map((t) => tf.variable(t)) as [tf.Variable, tf.Variable];
  const tensors = tf.memory().numTensors;
  const handles = shimHandles();
  for (let step = 0; step < 2; step++) {
    const { value, grads } = tf.variableGrads(() => {
      const y = tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same");
      const r = tf.relu(tf.reshape(y, [2, -1]));
      return tf.mean(tf.square(tf.sub(r, tf.max(r)))) as tf.Scalar;
    }, [x, w]);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  }
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(shimHandles(), handles);
  tf.dispose([x, w, ...initial]);
  assert.equal(shimHandles(), start);
  assert.equal((tf.backend() as NativeBackend).memory().numNativeHandles, own);
});

test("Reshape, ExpandDims, Identity and a same-dtype Cast share the data instead of copying it", () => {
  const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  const before = shimHandles();
  const views = [tf.reshape(x, [3, 2]), tf.expandDims(x, 1), tf.clone(x), tf.cast(x, "float32")];
  assert.equal(shimHandles(), before);
  assert.deepEqual(views[0]!.arraySync(), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(views[1]!.shape, [2, 1, 3]);
  x.dispose();
  // The shared data lives on until its last view is disposed.
  assert.deepEqual(Array.from(views[3]!.dataSync()), [1, 2, 3, 4, 5, 6]);
  tf.dispose(views);
  assert.equal(shimHandles(), before - 1);
});

test("an ATen error reaches JS as an Error carrying ATen's message", () => {
  const a = tf.ones([2, 3]);
  const b = tf.ones([4, 5]);
  assert.throws(
    () => tf.engine().runKernel("BatchMatMul", { a, b }, { transposeA: false, transposeB: false }),
    (error: unknown) =>
      error instanceof Error && /native kernel BatchMatMul failed: .*shape/s.test(error.message),
  );
  tf.dispose([a, b]);
});

test("a kernel the native backend lacks fails with tfjs' error naming it", () => {
  const x = tf.tensor1d([3, 1, 2]);
  assert.throws(() => tf.unique(x), /Kernel 'Unique' not registered for backend 'native'/);
  x.dispose();
});

test("setNativeThreads() sets ATen's thread count, and loading uses every core", () => {
  assert.equal(nativeThreads(), navigator.hardwareConcurrency);
  setNativeThreads(1);
  assert.equal(nativeThreads(), 1);
  setNativeThreads(navigator.hardwareConcurrency);
  assert.throws(() => setNativeThreads(0), /not a positive integer/);
});

test("the native backend agrees with cpu on convolutions, pools, matMul and reductions with asymmetric 'same' padding", async () => {
  const cases = () => {
    const x = tf.randomNormal([2, 6, 6, 3], 0, 1, "float32", 3) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 4) as tf.Tensor4D;
    const dw = tf.randomNormal([3, 3, 3, 2], 0, 1, "float32", 5) as tf.Tensor4D;
    const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.addN([
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same"))),
        tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, 2, "same"))),
        tf.sum(tf.square(tf.maxPool(a as tf.Tensor4D, 3, 2, "same"))),
        tf.sum(tf.square(tf.avgPool(a as tf.Tensor4D, 3, 2, "same"))),
        tf.sum(tf.softmax(tf.matMul(tf.reshape(a, [12, 18]), tf.reshape(a, [12, 18]), false, true))),
        tf.mean(
          tf.concat(
            [tf.slice(a, [0, 0, 1, 0], [2, 6, 3, 3]), tf.pad(a, [[0, 0], [0, 0], [1, 0], [0, 0]])],
            2,
          ),
        ),
      ]);
    const grads = tf.grads(loss)([x, f, dw]);
    return [loss(x, f, dw), ...grads].map((t) => t.dataSync() as Float32Array);
  };
  const native = tf.tidy(cases);
  await useBackend("cpu");
  const reference = tf.tidy(cases);
  reference.forEach((ref, i) => {
    let worst = 0;
    ref.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - native[i]![j]!) / (1 + Math.abs(v)))));
    assert.ok(worst < 1e-4, `output ${i} differs by ${worst}`);
  });
});

Deno.test("buildShim() against a broken libtorch fails with NativeUnavailableError and the compiler's error, leaving no library", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "asap-native-" });
  try {
    // Headers that stop the compiler at once (found before the system's).
    await Deno.mkdir(`${cacheDir}/include/ATen`, { recursive: true });
    await Deno.writeTextFile(`${cacheDir}/include/ATen/ATen.h`, "#error no libtorch here\n");
    const torch = {
      includeDirs: [`${cacheDir}/include`],
      libDir: `${cacheDir}/lib`,
      version: "0.0.0",
      cuda: false,
    };
    const error = await buildShim({ torch, cacheDir: `${cacheDir}/cache` }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof NativeUnavailableError, String(error));
    assert.match(error.message, /the shim did not compile: .*no libtorch here/);
    const built = [...Deno.readDirSync(`${cacheDir}/cache`)].flatMap((d) => [
      ...Deno.readDirSync(`${cacheDir}/cache/${d.name}`),
    ]);
    assert.deepEqual(built.filter((f) => f.name.includes(".so")), []);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import {
  DataError,
  loadCifar10,
  loadMnist,
  splitTrainVal,
  syntheticDataset,
} from "../runtime/data/datasets.ts";
import { Rng } from "../runtime/core/rng.ts";

/** A CIFAR-10 binary record: label, then R, G, B planes where pixel p of plane c is (p + 7c + label) % 256. */
function cifarRecords(labels: number[]): Uint8Array {
  const bytes = new Uint8Array(labels.length * 3073);
  labels.forEach((label, r) => {
    bytes[r * 3073] = label;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) bytes[r * 3073 + 1 + c * 1024 + p] = (p + 7 * c + label) % 256;
    }
  });
  return bytes;
}

Deno.test("loadCifar10() turns channel-planar records into NHWC values in [0, 1] with their labels", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/test_batch.bin`, cifarRecords([3, 9, 0]));
    const data = await loadCifar10(dir, "test", { recordsPerFile: 3 });
    assert.deepEqual([...data.labels], [3, 9, 0]);
    assert.equal(data.images.length, 3 * 32 * 32 * 3);
    assert.deepEqual([data.height, data.width, data.channels, data.classes], [32, 32, 3, 10]);
    // Image 1 (label 9), pixel (y 2, x 5) = p 69, channel G (c 1): (69 + 7 + 9) / 255.
    assert.ok(Math.abs((data.images[(1 * 1024 + 69) * 3 + 1] ?? NaN) - 85 / 255) < 1e-7);
    // Image 0, pixel 0, channel B: (0 + 14 + 3) / 255.
    assert.ok(Math.abs((data.images[2] ?? NaN) - 17 / 255) < 1e-7);
  });
});

Deno.test("loadCifar10() reads the five train batches in order", async () => {
  await withTempDir(async (dir) => {
    for (let i = 1; i <= 5; i++) await Deno.writeFile(`${dir}/data_batch_${i}.bin`, cifarRecords([i, i + 1]));
    const data = await loadCifar10(`${dir}/`, "train", { recordsPerFile: 2 });
    assert.deepEqual([...data.labels], [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  });
});

Deno.test("loadCifar10() accepts a full-size 30,730,000-byte file by default", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/test_batch.bin`, new Uint8Array(30_730_000));
    const data = await loadCifar10(dir, "test");
    assert.equal(data.labels.length, 10000);
    assert.equal(data.images.length, 10000 * 3072);
  });
});

Deno.test("loadCifar10() reports a file of the wrong size with expected and found sizes", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/test_batch.bin`, cifarRecords([1, 2, 3]).subarray(0, 3 * 3073 - 10));
    const error = await loadCifar10(dir, "test", { recordsPerFile: 3 }).then(() => null, (e) => e);
    assert.ok(error instanceof DataError);
    assert.equal(error.code, "wrong-size");
    assert.match(error.message, /test_batch\.bin" has 9209 bytes, expected 9219/);
    assert.match(error.message, /download and extract cifar-10-binary\.tar\.gz again/);
  });
});

Deno.test("loadCifar10() reports a missing batch file by name", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/data_batch_1.bin`, cifarRecords([0]));
    const error = await loadCifar10(dir, "train", { recordsPerFile: 1 }).then(() => null, (e) => e);
    assert.ok(error instanceof DataError);
    assert.equal(error.code, "missing-file");
    assert.match(error.message, /data_batch_2\.bin" is missing/);
  });
});

Deno.test("loadCifar10() rejects a label outside 0..9", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/test_batch.bin`, cifarRecords([4, 12]));
    const error = await loadCifar10(dir, "test", { recordsPerFile: 2 }).then(() => null, (e) => e);
    assert.ok(error instanceof DataError);
    assert.match(error.message, /label 12 in record 1/);
  });
});

Deno.test("loadMnist() gives padded 32×32 digits with balanced classes and disjoint splits", async () => {
  const train = await loadMnist({ limit: 30 });
  assert.deepEqual([train.height, train.width, train.channels, train.classes], [32, 32, 1, 10]);
  assert.equal(train.labels.length, 30);
  for (let d = 0; d < 10; d++) assert.equal(train.labels.filter((l) => l === d).length, 3);
  for (let k = 0; k < 30; k++) {
    const image = train.images.subarray(k * 1024, (k + 1) * 1024);
    let ink = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const v = image[y * 32 + x] ?? NaN;
        assert.ok(v >= 0 && v <= 1);
        if (y < 2 || y >= 30 || x < 2 || x >= 30) assert.equal(v, 0, "the 2-pixel border is padding");
        ink += v;
      }
    }
    assert.ok(ink > 10, "every digit has ink");
  }
  const test = await loadMnist({ split: "test", limit: 10 });
  const key = (images: Float32Array, k: number) => images.subarray(k * 1024, (k + 1) * 1024).join(",");
  const trainKeys = new Set(Array.from({ length: 30 }, (_, k) => key(train.images, k)));
  for (let k = 0; k < 10; k++) assert.ok(!trainKeys.has(key(test.images, k)), "test digits are not in train");
  const full = await loadMnist({ split: "test" });
  assert.ok(full.labels.length > 1500 && full.labels.length < 1800);
});

Deno.test("syntheticDataset() is deterministic, in [0, 1], with balanced labels", () => {
  const options = { n: 60, height: 8, width: 8, channels: 3, classes: 3, seed: 5 };
  const a = syntheticDataset(options);
  const b = syntheticDataset(options);
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.labels, b.labels);
  assert.notDeepEqual(syntheticDataset({ ...options, seed: 6 }).images, a.images);
  assert.equal(a.images.length, 60 * 8 * 8 * 3);
  for (const v of a.images) assert.ok(v >= 0 && v <= 1);
  for (let c = 0; c < 3; c++) assert.equal(a.labels.filter((l) => l === c).length, 20);
});

Deno.test("syntheticDataset() is learnable: nearest class mean classifies held-out images", () => {
  const data = syntheticDataset({ n: 200, height: 8, width: 8, channels: 1, classes: 4, seed: 9 });
  const size = 64;
  const means = Array.from({ length: 4 }, () => new Float64Array(size));
  const counts = new Array<number>(4).fill(0);
  for (let i = 0; i < 100; i++) {
    const label = data.labels[i] ?? 0;
    counts[label] = (counts[label] ?? 0) + 1;
    const mean = means[label] as Float64Array;
    for (let p = 0; p < size; p++) mean[p] = (mean[p] ?? 0) + (data.images[i * size + p] ?? 0);
  }
  let correct = 0;
  for (let i = 100; i < 200; i++) {
    let best = -1;
    let bestDistance = Infinity;
    for (let c = 0; c < 4; c++) {
      let distance = 0;
      for (let p = 0; p < size; p++) {
        distance += ((data.images[i * size + p] ?? 0) - (means[c]?.[p] ?? 0) / (counts[c] ?? 1)) ** 2;
      }
      if (distance < bestDistance) [best, bestDistance] = [c, distance];
    }
    if (best === data.labels[i]) correct++;
  }
  assert.ok(correct >= 90, `${correct}/100 correct`);
});

Deno.test("splitTrainVal() gives disjoint halves that cover every index, fixed by the rng", () => {
  const data = syntheticDataset({ n: 11, height: 2, width: 2, channels: 1, classes: 2, seed: 1 });
  const split = splitTrainVal(data, 0.5, new Rng(4));
  assert.equal(split.train.length, 6);
  assert.equal(split.val.length, 5);
  assert.deepEqual(
    [...split.train, ...split.val].sort((a, b) => a - b),
    Array.from({ length: 11 }, (_, i) => i),
  );
  assert.deepEqual(splitTrainVal(data, 0.5, new Rng(4)), split);
  assert.notDeepEqual(splitTrainVal(data, 0.5, new Rng(5)), split);
});

import { assert } from "./deps.ts";
import { applyCutout, channelStats, cropPadded, flipHorizontal, makeBatch } from "../runtime/data/augment.ts";
import { type Dataset, syntheticDataset } from "../runtime/data/datasets.ts";
import { Rng } from "../runtime/core/rng.ts";

/** A 5×6×2 image whose value at (y, x, k) is 100y + 10x + k + 1 (never 0). */
function ramp(): Float32Array {
  const image = new Float32Array(5 * 6 * 2);
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 6; x++) {
      for (let k = 0; k < 2; k++) image[(y * 6 + x) * 2 + k] = 100 * y + 10 * x + k + 1;
    }
  }
  return image;
}
const at = (image: Float32Array, y: number, x: number, k: number) => image[(y * 6 + x) * 2 + k];

Deno.test("cropPadded() at offset (pad, pad) keeps every value in place", () => {
  const out = new Float32Array(60);
  cropPadded(ramp(), out, [5, 6, 2], 4, 4, 4);
  assert.deepEqual(out, ramp());
});

Deno.test("cropPadded() shifts the image and fills the padding with zeros", () => {
  const out = new Float32Array(60);
  cropPadded(ramp(), out, [5, 6, 2], 4, 3, 6); // one row down, two columns left
  assert.equal(at(out, 0, 0, 0), 0, "row 0 comes from the padding");
  assert.equal(at(out, 1, 0, 1), 20 + 1 + 1);
  assert.equal(at(out, 4, 3, 0), 300 + 50 + 1);
  assert.equal(at(out, 2, 4, 0), 0, "columns 4 and 5 come from the padding");
});

Deno.test("flipHorizontal() mirrors every row and flipping twice is the identity", () => {
  const image = ramp();
  flipHorizontal(image, [5, 6, 2]);
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 6; x++) {
      for (let k = 0; k < 2; k++) assert.equal(at(image, y, x, k), at(ramp(), y, 5 - x, k));
    }
  }
  flipHorizontal(image, [5, 6, 2]);
  assert.deepEqual(image, ramp());
});

Deno.test("applyCutout() zeroes an L×L square in every channel and nothing else", () => {
  const image = new Float32Array(32 * 32 * 3).fill(1);
  applyCutout(image, [32, 32, 3], 10, 20, 16);
  let zeros = 0;
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      for (let k = 0; k < 3; k++) {
        const inside = y >= 2 && y < 18 && x >= 12 && x < 28;
        assert.equal(image[(y * 32 + x) * 3 + k], inside ? 0 : 1);
        if (!inside) continue;
        zeros++;
      }
    }
  }
  assert.equal(zeros, 16 * 16 * 3);
});

Deno.test("applyCutout() clips the square at the border", () => {
  const image = new Float32Array(8 * 8).fill(1);
  applyCutout(image, [8, 8, 1], 0, 7, 4); // rows -2..1 → 0..1, columns 5..8 → 5..7
  assert.equal(image.filter((v) => v === 0).length, 2 * 3);
  for (const [y, x] of [[0, 5], [1, 7], [0, 7]] as const) assert.equal(image[y * 8 + x], 0);
  for (const [y, x] of [[2, 7], [0, 4]] as const) assert.equal(image[y * 8 + x], 1);
});

Deno.test("makeBatch() with standardization gives per-channel mean ≈ 0 and std ≈ 1", () => {
  const data = syntheticDataset({ n: 64, height: 8, width: 8, channels: 3, classes: 4, seed: 2 });
  const indices = Array.from({ length: 64 }, (_, i) => i);
  const stats = channelStats(data, indices);
  const batch = makeBatch(data, indices, { standardize: stats }, new Rng(0));
  for (let k = 0; k < 3; k++) {
    const values = batch.x.filter((_, p) => p % 3 === k);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    assert.ok(Math.abs(mean) < 1e-4, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 1e-3, `std ${std}`);
  }
});

Deno.test("makeBatch() without options copies the images and labels in the order asked", () => {
  const data = syntheticDataset({ n: 10, height: 4, width: 4, channels: 1, classes: 5, seed: 1 });
  const batch = makeBatch(data, [7, 2], {}, new Rng(0));
  assert.deepEqual(batch.shape, [2, 4, 4, 1]);
  assert.deepEqual([...batch.y], [data.labels[7], data.labels[2]]);
  assert.deepEqual(batch.x.subarray(0, 16), data.images.subarray(7 * 16, 8 * 16));
  assert.deepEqual(batch.x.subarray(16), data.images.subarray(2 * 16, 3 * 16));
});

Deno.test("makeBatch() augments reproducibly with the same rng state and differently with another", () => {
  const data: Dataset = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 2, seed: 3 });
  const indices = Array.from({ length: 16 }, (_, i) => i);
  const options = { pad: 4, flip: true, cutout: 4, standardize: channelStats(data) };
  const a = makeBatch(data, indices, options, new Rng(11));
  assert.deepEqual(makeBatch(data, indices, options, new Rng(11)).x, a.x);
  assert.notDeepEqual(makeBatch(data, indices, options, new Rng(12)).x, a.x);
  assert.notDeepEqual(makeBatch(data, indices, {}, new Rng(11)).x, a.x);
});

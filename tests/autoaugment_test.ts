import { assert } from "./deps.ts";
import { applyOp, autoAugment, CIFAR10_POLICY, magnitude } from "../runtime/data/autoaugment.ts";
import { Rng } from "../runtime/core/rng.ts";

const near = (actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-6) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
};
/** A 1-channel image from rows of 8-bit levels. */
const img = (rows: number[][]) => Float32Array.from(rows.flat(), (v) => v / 255);
const levels = (image: Float32Array) => Array.from(image, (v) => Math.round(v * 255));

Deno.test("CIFAR10_POLICY holds Cubuk et al.'s 25 sub-policies of two steps, levels 0-9", () => {
  assert.equal(CIFAR10_POLICY.length, 25);
  for (const sub of CIFAR10_POLICY) {
    for (const step of sub) assert.ok(step.p >= 0 && step.p <= 1 && step.level >= 0 && step.level <= 9);
  }
  assert.deepEqual(CIFAR10_POLICY[0], [{ op: "invert", p: 0.1, level: 7 }, {
    op: "contrast",
    p: 0.2,
    level: 6,
  }]);
  assert.deepEqual(CIFAR10_POLICY[24], [
    { op: "translateY", p: 0.7, level: 9 },
    { op: "autocontrast", p: 0.9, level: 1 },
  ]);
});

Deno.test("magnitude() spreads ten levels over each op's range", () => {
  assert.equal(magnitude("rotate", 9), 30);
  assert.equal(magnitude("shearX", 0), 0);
  near([magnitude("translateY", 9)], [150 / 331]);
  near([magnitude("brightness", 3)], [0.3]);
  assert.equal(magnitude("posterize", 0), 8);
  assert.equal(magnitude("posterize", 9), 4);
  assert.equal(magnitude("solarize", 9), 0);
  assert.equal(magnitude("invert", 5), 0);
});

Deno.test("applyOp() invert maps v to 1 - v", () => {
  near(applyOp("invert", Float32Array.of(0, 0.25, 1), [1, 3, 1], 0), [1, 0.75, 0]);
});

Deno.test("applyOp() brightness scales toward black, clipped at 1", () => {
  near(applyOp("brightness", Float32Array.of(0.2, 0.8), [1, 2, 1], -0.5), [0.1, 0.4]);
  near(applyOp("brightness", Float32Array.of(0.2, 0.8), [1, 2, 1], 0.5), [0.3, 1]);
});

Deno.test("applyOp() color blends with the pixel's luma and leaves a grey image unchanged", () => {
  const rgb = Float32Array.of(1, 0, 0);
  const luma = 0.299;
  near(applyOp("color", rgb, [1, 1, 3], -1), [luma, luma, luma]);
  near(
    applyOp("color", rgb, [1, 1, 3], 0.5),
    [1, 0, 0].map((v) => luma + 1.5 * (v - luma)).map((v) => Math.min(1, Math.max(0, v))),
  );
  near(applyOp("color", Float32Array.of(0.4, 0.4, 0.4), [1, 1, 3], 0.9), [0.4, 0.4, 0.4]);
});

Deno.test("applyOp() contrast blends with the image's mean grey level", () => {
  const image = img([[0, 100, 200, 100]]);
  near(levels(applyOp("contrast", image, [1, 4, 1], -1)), [100, 100, 100, 100]);
  near(applyOp("contrast", image, [1, 4, 1], -0.5), [50, 100, 150, 100].map((v) => v / 255), 1e-6);
});

Deno.test("applyOp() sharpness blends with PIL's 3x3 smoothing and keeps the border", () => {
  const rows = [[0, 0, 0], [0, 130, 0], [0, 0, 0]];
  const smoothed = applyOp("sharpness", img(rows), [3, 3, 1], -1);
  near(levels(smoothed), [0, 0, 0, 0, 50, 0, 0, 0, 0]); // (5 · 130) / 13 = 50
  near(applyOp("sharpness", img(rows), [3, 3, 1], 0), Array.from(img(rows)));
});

Deno.test("applyOp() posterize keeps the top bits of each 8-bit level", () => {
  assert.deepEqual(levels(applyOp("posterize", img([[128, 200, 255, 15]]), [1, 4, 1], 4)), [
    128,
    192,
    240,
    0,
  ]);
});

Deno.test("applyOp() solarize inverts the levels at or above the threshold", () => {
  assert.deepEqual(levels(applyOp("solarize", img([[100, 128, 200]]), [1, 3, 1], 128)), [100, 127, 55]);
  assert.deepEqual(levels(applyOp("solarize", img([[100, 200]]), [1, 2, 1], 256)), [100, 200]);
});

Deno.test("applyOp() autocontrast stretches each channel to the full range", () => {
  assert.deepEqual(levels(applyOp("autocontrast", img([[51, 102, 153]]), [1, 3, 1], 0)), [0, 128, 255]);
  assert.deepEqual(levels(applyOp("autocontrast", img([[7, 7]]), [1, 2, 1], 0)), [7, 7]);
});

Deno.test("applyOp() equalize matches PIL's cumulative-histogram lookup", () => {
  // Histogram: 2 at level 10, 1 at 20, 1 at 30; step = (4 - 1) // 255 = 0 -> unchanged (PIL).
  assert.deepEqual(levels(applyOp("equalize", img([[10, 10, 20, 30]]), [1, 4, 1], 0)), [10, 10, 20, 30]);
  // 256 pixels at level 0, 256 at 50, 1 at 100: step = (513 - 1) // 255 = 2, n0 = 1;
  // lut[0] = 1 // 2 = 0, lut[50] = (1 + 256) // 2 = 128, lut[100] = (1 + 512) // 2 = 256 -> 255.
  const image = img([[...new Array(256).fill(0), ...new Array(256).fill(50), 100]]);
  const out = levels(applyOp("equalize", image, [1, 513, 1], 0));
  assert.deepEqual([out[0], out[256], out[512]], [0, 128, 255]);
});

Deno.test("applyOp() translate shifts by a fraction of the side and fills with grey", () => {
  const image = img([[10, 20, 30, 40]]);
  assert.deepEqual(levels(applyOp("translateX", image, [1, 4, 1], 0.25)), [20, 30, 40, 128]);
  assert.deepEqual(levels(applyOp("translateX", image, [1, 4, 1], -0.25)), [128, 10, 20, 30]);
  const column = img([[10], [20], [30], [40]]);
  assert.deepEqual(levels(applyOp("translateY", column, [4, 1, 1], 0.5)), [30, 40, 128, 128]);
});

Deno.test("applyOp() shear shifts each row by its height times the magnitude", () => {
  const image = img([[1, 2, 3, 4], [5, 6, 7, 8]]);
  // Row centres y + 0.5: row 0 shifts by 1 (= 2 · 0.5), row 1 by 3 (= 2 · 1.5).
  assert.deepEqual(levels(applyOp("shearX", image, [2, 4, 1], 2)), [2, 3, 4, 128, 8, 128, 128, 128]);
  assert.deepEqual(levels(applyOp("shearY", img([[1, 2], [3, 4]]), [2, 2, 1], 0)), [1, 2, 3, 4]);
});

Deno.test("applyOp() rotate by 90 degrees turns the image counter-clockwise about its centre", () => {
  const image = img([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
  assert.deepEqual(levels(applyOp("rotate", image, [3, 3, 1], 90)), [3, 6, 9, 2, 5, 8, 1, 4, 7]);
  assert.deepEqual(levels(applyOp("rotate", image, [3, 3, 1], 0)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("autoAugment() is reproducible from the seed, keeps values in [0, 1] and changes images", () => {
  const base = Float32Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37 % 101) / 100);
  let changed = 0;
  for (let seed = 0; seed < 40; seed++) {
    const a = base.slice();
    const b = base.slice();
    autoAugment(a, [8, 8, 3], new Rng(seed));
    autoAugment(b, [8, 8, 3], new Rng(seed));
    assert.deepEqual(a, b);
    assert.ok(a.every((v) => v >= 0 && v <= 1));
    if (a.some((v, i) => v !== base[i])) changed += 1;
  }
  assert.ok(changed > 20 && changed < 40, `${changed} of 40 images changed`);
});

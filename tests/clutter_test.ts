import { assert } from "./deps.ts";
import { clutter, loadClutteredDigits } from "../runtime/data/clutter.ts";
import { loadMnist } from "../runtime/data/datasets.ts";
import { dataSourceOf, loadSource } from "../runtime/data/sources.ts";

/** n single-channel 16×16 images; image i is the constant (i + 1) / 100 everywhere. */
function flatImages(n: number) {
  const side = 16;
  const images = new Float32Array(n * side * side);
  for (let i = 0; i < n; i++) images.fill((i + 1) / 100, i * side * side, (i + 1) * side * side);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 3);
  return { name: "flat-train", images, labels, height: side, width: side, channels: 1, classes: 3 };
}

Deno.test("clutter() pastes fragments of other images only, brighter ones over the image, and keeps the labels", () => {
  const plain = flatImages(9);
  const options = { fragments: 3, size: 4, shift: 0, seed: 5 };
  const out = clutter(plain, options);
  assert.equal(out.name, "cluttered-flat-train");
  assert.deepEqual(out.labels, plain.labels);
  assert.deepEqual(out.images, clutter(plain, options).images, "the same seed gives the same images");
  assert.notDeepEqual(out.images, clutter(plain, { ...options, seed: 6 }).images);
  for (let i = 0; i < 9; i++) {
    const own = (i + 1) / 100;
    const pixels = Array.from(out.images.subarray(i * 256, (i + 1) * 256));
    for (const v of pixels) {
      // Each pixel is the image's own value or the value of a brighter other image (max compositing).
      assert.ok(
        Math.abs(v - own) < 1e-7 || (v > own && Math.abs(v * 100 - Math.round(v * 100)) < 1e-4),
        `${v}`,
      );
    }
    // Image 0 is the dimmest, so each of its fragments shows: 3 of 4×4 pixels cover at least 16.
    if (i === 0) assert.ok(pixels.filter((v) => v > own + 1e-7).length >= 16, "image 0 shows no fragment");
  }
});

Deno.test("clutter() shifts each image by at most `shift` pixels, filling with zeros", () => {
  const plain = flatImages(40);
  const dot = new Float32Array(plain.images.length);
  for (let i = 0; i < 40; i++) dot[i * 256 + 8 * 16 + 8] = 1; // one bright pixel at (8, 8)
  const out = clutter({ ...plain, images: dot }, { fragments: 0, size: 4, shift: 2, seed: 1 });
  const moves = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const at = out.images.subarray(i * 256, (i + 1) * 256).indexOf(1);
    const [y, x] = [Math.floor(at / 16), at % 16];
    assert.ok(Math.abs(y - 8) <= 2 && Math.abs(x - 8) <= 2, `moved to (${y}, ${x})`);
    moves.add(`${y - 8},${x - 8}`);
    assert.equal(out.images.subarray(i * 256, (i + 1) * 256).reduce((a, b) => a + b), 1);
  }
  assert.ok(moves.size > 5, `only ${moves.size} distinct shifts in 40 images`);
});

Deno.test("clutter() refuses colour images, images no larger than a fragment, and a single image", () => {
  const plain = flatImages(2);
  assert.throws(
    () => clutter({ ...plain, channels: 3 }, { fragments: 1, size: 4, shift: 0, seed: 0 }),
    /channel/,
  );
  assert.throws(() => clutter(plain, { fragments: 1, size: 16, shift: 0, seed: 0 }), /larger than a 16×16/);
  assert.throws(
    () =>
      clutter({ ...plain, labels: plain.labels.subarray(0, 1) }, {
        fragments: 1,
        size: 4,
        shift: 0,
        seed: 0,
      }),
    /at least two images/,
  );
});

Deno.test("--data cluttered-digits is the embedded digits' split with fixed clutter over each digit", async () => {
  assert.deepEqual(dataSourceOf("cluttered-digits", undefined), { kind: "cluttered-digits" });
  assert.deepEqual(dataSourceOf("digits", undefined), { kind: "mnist" });
  assert.deepEqual(dataSourceOf(undefined, undefined), { kind: "mnist" });
  assert.deepEqual(dataSourceOf("./cluttered-digits", undefined), {
    kind: "cifar10",
    dir: "./cluttered-digits",
  });
  const plain = await loadMnist({ split: "test" });
  const test = await loadSource({ kind: "cluttered-digits" }, "test");
  assert.equal(test.name, "cluttered-mnist-test");
  assert.deepEqual(test.labels, plain.labels);
  assert.deepEqual(
    test.images,
    (await loadClutteredDigits("test")).images,
    "the clutter is the same every time",
  );
  // Clutter adds ink: on average a third more than the digit alone, and in every image.
  let plainInk = 0, clutteredInk = 0;
  for (let k = 0; k < test.labels.length; k++) {
    const sum = (images: Float32Array) => images.subarray(k * 1024, (k + 1) * 1024).reduce((a, b) => a + b);
    const [p, c] = [sum(plain.images), sum(test.images)];
    assert.ok(c > p - 1e-3, `image ${k} lost ink`);
    plainInk += p;
    clutteredInk += c;
  }
  assert.ok(clutteredInk > 1.3 * plainInk, `ink ratio ${clutteredInk / plainInk}`);
  const train = await loadSource({ kind: "cluttered-digits" }, "train");
  assert.equal(train.labels.length, 8337);
});

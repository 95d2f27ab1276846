// decodeImage(): every PNG colour type and JPEG into grey or RGB bytes, and one named line for each
// file that does not decode. The test images are made here with the same packages' encoders.
import { assert } from "./deps.ts";
import { DataError } from "../runtime/data/datasets.ts";
import { decodeImage, imageToInput } from "../runtime/data/image_decode.ts";
import { encodePng, jpegJs } from "../runtime/deps_images.ts";

function badImage(run: () => unknown, expected: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof DataError, String(error));
    assert.equal(error.code, "bad-image");
    assert.match(error.message, expected);
    assert.ok(!error.message.includes("\n"), `not one line: ${error.message}`);
    return true;
  });
}

Deno.test("decodeImage() reads RGB and RGBA PNGs as RGB, dropping alpha", () => {
  const rgba = new Uint8Array([10, 20, 30, 255, 40, 50, 60, 0, 70, 80, 90, 128, 1, 2, 3, 4]);
  const image = decodeImage(encodePng({ width: 2, height: 2, channels: 4, data: rgba }), "a.png");
  assert.deepEqual([image.width, image.height, image.channels], [2, 2, 3]);
  assert.deepEqual([...image.data], [10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3]);
  const rgb = decodeImage(encodePng({ width: 1, height: 2, channels: 3, data: rgba.slice(0, 6) }), "b.png");
  assert.deepEqual([...rgb.data], [10, 20, 30, 255, 40, 50]);
});

Deno.test("decodeImage() reads grey PNGs of 1, 8 and 16 bits as 8-bit grey", () => {
  // 1 bit: 3 pixels in a row, 1 0 1, padded to a byte.
  const bits = decodeImage(
    encodePng({ width: 3, height: 1, channels: 1, depth: 1, data: new Uint8Array([0b10100000]) }),
    "bits.png",
  );
  assert.deepEqual([bits.channels, ...bits.data], [1, 255, 0, 255]);
  const grey = decodeImage(
    encodePng({ width: 2, height: 1, channels: 2, data: new Uint8Array([7, 255, 9, 0]) }),
    "grey-alpha.png",
  );
  assert.deepEqual([grey.channels, ...grey.data], [1, 7, 9]);
  const deep = decodeImage(
    encodePng({ width: 2, height: 1, channels: 1, depth: 16, data: new Uint16Array([0xffff, 0x1234]) }),
    "deep.png",
  );
  assert.deepEqual([...deep.data], [0xff, 0x12]);
});

Deno.test("decodeImage() expands a palette PNG to RGB", () => {
  const png = encodePng({
    width: 3,
    height: 1,
    channels: 1,
    depth: 8,
    data: new Uint8Array([1, 0, 1]),
    palette: [[200, 100, 0], [0, 50, 250]],
  });
  const image = decodeImage(png, "palette.png");
  assert.equal(image.channels, 3);
  assert.deepEqual([...image.data], [0, 50, 250, 200, 100, 0, 0, 50, 250]);
});

Deno.test("decodeImage() reads a JPEG as RGB close to what was encoded, by signature not name", () => {
  const width = 8, height = 8;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([200, 40, 90, 255], 4 * i);
  const jpeg = jpegJs.encode({ width, height, data: rgba }, 95).data;
  const image = decodeImage(new Uint8Array(jpeg), "misnamed.png");
  assert.deepEqual([image.width, image.height, image.channels], [8, 8, 3]);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = image.data.subarray(3 * i, 3 * i + 3);
    assert.ok(Math.abs(r! - 200) <= 3 && Math.abs(g! - 40) <= 3 && Math.abs(b! - 90) <= 3, `${r},${g},${b}`);
  }
});

Deno.test("decodeImage() names a corrupt, truncated, empty or foreign file in one line", () => {
  const png = encodePng({ width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(9) });
  badImage(
    () => decodeImage(png.slice(0, png.length - 30), "cats/3.png"),
    /^"cats\/3\.png" is a corrupt PNG: /,
  );
  const flipped = png.slice();
  flipped[40] = flipped[40]! ^ 0xff; // inside the image data: its checksum no longer matches
  badImage(() => decodeImage(flipped, "flip.png"), /^"flip\.png" is a corrupt PNG/);
  const jpeg = new Uint8Array(jpegJs.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 90).data);
  badImage(() => decodeImage(jpeg.slice(0, 30), "cut.jpg"), /^"cut\.jpg" is a corrupt JPEG: /);
  badImage(() => decodeImage(new Uint8Array(), "empty.png"), /^"empty\.png" is empty/);
  badImage(
    () => decodeImage(new TextEncoder().encode("GIF89a…"), "anim.gif"),
    /is a GIF image; only PNG and JPEG/,
  );
  badImage(() => decodeImage(new TextEncoder().encode("hello"), "notes.jpg"), /is not a PNG or JPEG image/);
});

Deno.test("decodeImage() refuses a PNG whose header claims more pixels than it may decode", () => {
  const png = encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array([0]) });
  const view = new DataView(png.buffer, png.byteOffset);
  view.setUint32(16, 20_000);
  view.setUint32(20, 20_000);
  badImage(() => decodeImage(png, "huge.png"), /^"huge\.png" is too large to decode \(20000×20000/);
});

Deno.test("imageToInput() shrinks with antialiasing, enlarges bilinearly and converts channels", () => {
  // Vertical stripes one pixel wide, black and white: shrunk 8 → 2 they average to grey (no aliasing).
  const stripes = new Uint8Array(8 * 8).map((_, i) => (i % 2 === 0 ? 0 : 255));
  const small = imageToInput({ width: 8, height: 8, channels: 1, data: stripes }, 2, 1);
  for (const value of small) assert.ok(Math.abs(value - 0.5) < 0.05, String(value));
  // A 2×1 grey ramp 0 → 255 enlarged to 4 wide: the ends stay, the middle is interpolated.
  const ramp = imageToInput({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) }, 4, 1);
  assert.deepEqual([...ramp.slice(0, 4)].map((v) => Math.round(v * 100) / 100), [0, 0.25, 0.75, 1]);
  // Pure red to grey is its luma; grey to RGB repeats.
  const red = imageToInput({ width: 1, height: 1, channels: 3, data: new Uint8Array([255, 0, 0]) }, 1, 1);
  assert.ok(Math.abs(red[0]! - 0.299) < 1e-6, String(red[0]));
  const grey = imageToInput({ width: 1, height: 1, channels: 1, data: new Uint8Array([51]) }, 1, 3);
  assert.deepEqual([...grey].map((v) => Math.round(v * 100) / 100), [0.2, 0.2, 0.2]);
});

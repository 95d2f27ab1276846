/**
 * PNG and JPEG files decoded into plain pixels: {@linkcode decodeImage} reads a file's bytes (the format
 * from its signature, not its name) into 8-bit grey or RGB rows, the form that `--data DIR` image
 * folders (image_folder.ts) and `deno task predict` resize into a network's input. Decoding is done by
 * maintained pure-JavaScript packages (runtime/deps_images.ts); every failure is one {@linkcode DataError}
 * line that names the file.
 *
 * @module
 */

import { decodePng, jpegJs } from "../deps_images.ts";
import { DataError } from "./datasets.ts";

/** A decoded image: 8-bit samples, rows top to bottom, channels interleaved (HWC). */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /**
   * 1 (grey) or 3 (RGB). Alpha is dropped, not blended, as PIL's `convert("RGB")` (and so torchvision's
   * ImageFolder) does; a palette is expanded to RGB; 16-bit samples keep their high byte.
   */
  readonly channels: 1 | 3;
  /** height·width·channels samples, 0..255. */
  readonly data: Uint8Array;
}

/** The most pixels an image may have (jpeg-js's own default limit, 100 megapixels, for PNG too). */
export const MAX_IMAGE_PIXELS = 100_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/** Formats told apart by their first bytes, to name what a file is when it is not PNG or JPEG. */
const OTHER_SIGNATURES: readonly [string, readonly number[]][] = [
  ["GIF", [0x47, 0x49, 0x46, 0x38]],
  ["BMP", [0x42, 0x4d]],
  ["TIFF", [0x49, 0x49, 0x2a, 0x00]],
  ["TIFF", [0x4d, 0x4d, 0x00, 0x2a]],
  ["WebP", [0x52, 0x49, 0x46, 0x46]],
];

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
  return bytes.length >= signature.length && signature.every((byte, i) => bytes[i] === byte);
}

/** The first line of a decoder's message, without a trailing colon or period. */
function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split("\n").map((part) => part.trim()).find((part) => part !== "") ?? "no reason given";
  return line.replace(/[:.]$/, "");
}

function bad(name: string, message: string): DataError {
  return new DataError("bad-image", `"${name}" ${message}`);
}

function checkSize(name: string, width: number, height: number): void {
  if (!(width > 0 && height > 0)) throw bad(name, `has no pixels (${width}×${height})`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw bad(name, `is too large to decode (${width}×${height}, over ${MAX_IMAGE_PIXELS / 1e6} megapixels)`);
  }
}

/**
 * Decodes a PNG or JPEG file's bytes. The format is read from the bytes' signature, so a misnamed
 * file still decodes; `name` is used only in messages.
 *
 * @param bytes The file's bytes.
 * @param name The file's name or path, as messages should show it.
 * @returns The pixels: grey or RGB, 8 bits, HWC (see {@linkcode DecodedImage}).
 * @throws {DataError} `bad-image`, one line naming the file, when the bytes are empty, not PNG or
 *   JPEG, corrupt or truncated, or over {@linkcode MAX_IMAGE_PIXELS}.
 * @example
 * ```ts
 * import { decodeImage } from "./image_decode.ts";
 * import { encodePng } from "../deps_images.ts";
 * const png = encodePng({ width: 2, height: 1, channels: 4, data: new Uint8Array([255, 0, 0, 255, 0, 0, 255, 128]) });
 * const image = decodeImage(png, "two.png");
 * if (image.channels !== 3 || image.data.join() !== "255,0,0,0,0,255") throw new Error(image.data.join());
 * try {
 *   decodeImage(png.slice(0, 40), "cut.png");
 *   throw new Error("a truncated PNG should not decode");
 * } catch (error) {
 *   if (!(error instanceof Error) || !error.message.startsWith('"cut.png" is a corrupt PNG')) throw error;
 * }
 * ```
 */
export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  if (bytes.length === 0) throw bad(name, "is empty (0 bytes), not an image");
  if (startsWith(bytes, PNG_SIGNATURE)) return decodePngFile(bytes, name);
  if (startsWith(bytes, JPEG_SIGNATURE)) return decodeJpegFile(bytes, name);
  const other = OTHER_SIGNATURES.find(([, signature]) => startsWith(bytes, signature))?.[0];
  throw bad(
    name,
    other === undefined
      ? "is not a PNG or JPEG image (its first bytes match neither)"
      : `is a ${other} image; only PNG and JPEG are read`,
  );
}

function decodePngFile(bytes: Uint8Array, name: string): DecodedImage {
  // IHDR's width and height (big-endian, bytes 16..23) are checked before anything is inflated.
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkSize(name, view.getUint32(16), view.getUint32(20));
  }
  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(bytes);
  } catch (error) {
    throw bad(name, `is a corrupt PNG: ${reason(error)}`);
  }
  const { width, height, depth } = png;
  checkSize(name, width, height);
  const pixels = width * height;
  if (png.palette !== undefined) {
    const colours = png.palette.map((entry) => entry.slice(0, 3));
    const indices = unpackSamples(png.data, width, height, 1, depth);
    const data = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      const colour = colours[indices[i]!];
      if (colour === undefined) throw bad(name, `is a corrupt PNG: palette index ${indices[i]} out of range`);
      data.set(colour, 3 * i);
    }
    return { width, height, channels: 3, data };
  }
  // Colour types: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
  const source = png.channels;
  const channels = source <= 2 ? 1 : 3;
  const samples = depth === 16
    ? Uint8Array.from(png.data as Uint16Array, (value) => value >> 8)
    : unpackSamples(png.data, width, height, source, depth, true);
  if (source === channels) return { width, height, channels, data: samples };
  const data = new Uint8Array(pixels * channels);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < channels; c++) data[i * channels + c] = samples[i * source + c]!;
  }
  return { width, height, channels, data };
}

/**
 * Samples of 1, 2 or 4 bits (rows padded to a byte) spread to one byte each: grey levels scaled to
 * 0..255 (`scale`), palette indices kept. 8-bit data are returned as they are.
 */
function unpackSamples(
  data: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  depth: number,
  scale = false,
): Uint8Array {
  if (depth === 8) return data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(width * height * channels);
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  const mask = (1 << depth) - 1;
  const factor = scale ? 255 / mask : 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width * channels; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      out[y * width * channels + x] = ((byte >> (8 - depth - (bit & 7))) & mask) * factor;
    }
  }
  return out;
}

function decodeJpegFile(bytes: Uint8Array, name: string): DecodedImage {
  let jpeg: { width: number; height: number; data: Uint8Array };
  try {
    jpeg = jpegJs.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    });
  } catch (error) {
    throw bad(name, `is a corrupt JPEG: ${reason(error)}`);
  }
  checkSize(name, jpeg.width, jpeg.height);
  if (jpeg.data.length !== jpeg.width * jpeg.height * 3) {
    throw bad(name, `is a corrupt JPEG: ${jpeg.data.length} samples for ${jpeg.width}×${jpeg.height} pixels`);
  }
  return { width: jpeg.width, height: jpeg.height, channels: 3, data: jpeg.data };
}

/**
 * The weights of a triangle (bilinear) filter mapping `from` samples onto `to`, widened by the scale
 * when shrinking so that every source sample counts (PIL's antialiased bilinear resize, which
 * torchvision's `Resize` uses on images): for each output index, its first source index and weights.
 */
function triangleWeights(from: number, to: number): { first: Int32Array; weights: Float32Array[] } {
  const scale = from / to;
  const support = Math.max(1, scale);
  const first = new Int32Array(to);
  const weights: Float32Array[] = [];
  for (let i = 0; i < to; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(from, Math.ceil(centre + support));
    const w = new Float32Array(hi - lo);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const value = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      w[j - lo] = value;
      total += value;
    }
    for (let k = 0; k < w.length; k++) w[k] = total > 0 ? w[k]! / total : 1 / w.length;
    first[i] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/**
 * An image as a network's input: resized to `size`×`size` (the aspect ratio is not kept, as
 * torchvision's `Resize((size, size))` does not keep it), converted to `channels` (grey by ITU-R 601
 * luma, as PIL's `convert("L")`; grey to RGB by repetition) and scaled to [0, 1], HWC. Shrinking is
 * antialiased (a triangle filter as wide as the scale), enlarging is bilinear.
 *
 * @param image A decoded image.
 * @param size The side of the network's square input.
 * @param channels The network's input channels, 1 or 3.
 * @returns size·size·channels values in [0, 1].
 * @example
 * ```ts
 * import { imageToInput } from "./image_decode.ts";
 * // A 4×2 RGB image of one colour becomes a 2×2 grey input of its luma.
 * const image = { width: 4, height: 2, channels: 3 as const, data: new Uint8Array(24).fill(255) };
 * const input = imageToInput(image, 2, 1);
 * if (input.length !== 4 || input.some((v) => Math.abs(v - 1) > 1e-6)) throw new Error(String(input));
 * ```
 */
export function imageToInput(image: DecodedImage, size: number, channels: 1 | 3): Float32Array {
  const { width, height } = image;
  // Channel conversion first, at the source size, in [0, 1].
  const pixels = width * height;
  const converted = new Float32Array(pixels * channels);
  for (let i = 0; i < pixels; i++) {
    if (image.channels === channels) {
      for (let c = 0; c < channels; c++) converted[i * channels + c] = image.data[i * channels + c]! / 255;
    } else if (channels === 1) {
      const [r, g, b] = [image.data[3 * i]!, image.data[3 * i + 1]!, image.data[3 * i + 2]!];
      converted[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    } else {
      converted.fill(image.data[i]! / 255, 3 * i, 3 * i + 3);
    }
  }
  // Separable resize: rows (width → size), then columns (height → size).
  const across = triangleWeights(width, size);
  const wide = new Float32Array(height * size * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < size; x++) {
      const w = across.weights[x]!;
      const lo = across.first[x]!;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = 0; k < w.length; k++) sum += w[k]! * converted[(y * width + lo + k) * channels + c]!;
        wide[(y * size + x) * channels + c] = sum;
      }
    }
  }
  const down = triangleWeights(height, size);
  const out = new Float32Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    const w = down.weights[y]!;
    const lo = down.first[y]!;
    for (let x = 0; x < size * channels; x++) {
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += w[k]! * wide[(lo + k) * size * channels + x]!;
      out[y * size * channels + x] = Math.min(1, Math.max(0, sum));
    }
  }
  return out;
}

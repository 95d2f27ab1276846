/**
 * Trained weights on disk in tfjs's own weights format: a `weights.json` holding a
 * `weightsManifest` (the same entry as a tfjs `model.json`) and the raw little-endian tensor data
 * in `weights.bin`, encoded and decoded with `tf.io.encodeWeights` / `tf.io.decodeWeights`, so
 * tfjs tools (and `tf.io.loadWeights`) read them back. Both files are written atomically.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { writeFileAtomic } from "../core/atomic.ts";

/** The file name of the manifest inside a weights folder. */
export const WEIGHTS_MANIFEST = "weights.json";
/** The file name of the tensor data inside a weights folder. */
export const WEIGHTS_DATA = "weights.bin";

/** What `weights.json` holds. */
export interface WeightsFile {
  readonly format: "asap-weights";
  readonly version: 1;
  /** tfjs's manifest: one group whose `paths` is `["weights.bin"]`. */
  readonly weightsManifest: tf.io.WeightsManifestConfig;
}

/** A weights folder that cannot be read: a missing file, or data that does not match its manifest. */
export class WeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WeightsError";
  }
}

/**
 * Saves named tensors to `dir` (created when missing) as `weights.bin` + `weights.json`. The data
 * file is written first, then the manifest, each atomically (temporary file + rename).
 *
 * @param dir The folder.
 * @param named The tensors by name (e.g. an evaluation network's `namedVariables()`); not disposed.
 * @returns When both files are in place.
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { loadWeights, saveWeights } from "./weights_io.ts";
 * await tf.ready();
 * const dir = await Deno.makeTempDir();
 * await saveWeights(dir, { "dense/kernel": tf.ones([2, 3]) });
 * const back = await loadWeights(dir);
 * console.log(back["dense/kernel"]!.shape); // [2, 3]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveWeights(dir: string, named: Readonly<Record<string, tf.Tensor>>): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(concatBuffers(data));
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, WEIGHTS_DATA), bytes);
  const file: WeightsFile = {
    format: "asap-weights",
    version: 1,
    weightsManifest: [{ paths: [WEIGHTS_DATA], weights: specs }],
  };
  await writeFileAtomic(join(dir, WEIGHTS_MANIFEST), `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * Loads the tensors saved by {@linkcode saveWeights} (or any folder with a tfjs `weightsManifest`
 * in `weights.json` whose paths are files beside it).
 *
 * @param dir The folder.
 * @returns The tensors by name; the caller owns (and disposes) them.
 * @throws {WeightsError} When a file is missing or the data's size does not match the manifest.
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { loadWeights, saveWeights, WeightsError } from "./weights_io.ts";
 * await tf.setBackend("cpu");
 * const dir = await Deno.makeTempDir();
 * try {
 *   const kernel = tf.tensor2d([[1, 2], [3, 4]]);
 *   await saveWeights(dir, { "classifier/kernel": kernel });
 *   kernel.dispose();
 *   const loaded = await loadWeights(dir);
 *   const values = await loaded["classifier/kernel"]!.data();
 *   tf.dispose(Object.values(loaded));
 *   if (values.join() !== "1,2,3,4") throw new Error(values.join());
 *   // A folder without weights: a WeightsError that names the missing file.
 *   await loadWeights(`${dir}/nothing-here`).then(
 *     () => Promise.reject(new Error("loadWeights() should fail on a missing folder")),
 *     (error) => {
 *       if (!(error instanceof WeightsError)) throw error;
 *     },
 *   );
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function loadWeights(dir: string): Promise<Record<string, tf.Tensor>> {
  const manifestPath = join(dir, WEIGHTS_MANIFEST);
  const text = await readOrExplain(manifestPath, (p) => Deno.readTextFile(p));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new WeightsError(`"${manifestPath}" is not JSON: ${(error as Error).message}`);
  }
  const manifest = (parsed as { weightsManifest?: unknown }).weightsManifest;
  if (!Array.isArray(manifest)) throw new WeightsError(`"${manifestPath}" has no "weightsManifest" array`);
  const out: Record<string, tf.Tensor> = {};
  for (const group of manifest as tf.io.WeightsManifestConfig) {
    const parts: Uint8Array[] = [];
    for (const path of group.paths) parts.push(await readOrExplain(join(dir, path), (p) => Deno.readFile(p)));
    const bytes = concatBytes(parts);
    const expected = group.weights.reduce((sum, spec) => sum + specBytes(spec), 0);
    if (bytes.byteLength !== expected) {
      throw new WeightsError(
        `the data of "${manifestPath}" (${group.paths.join(", ")}) has ${bytes.byteLength} bytes, ` +
          `its manifest describes ${expected}: the folder holds files of two different saves`,
      );
    }
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    Object.assign(out, tf.io.decodeWeights(buffer, group.weights));
  }
  return out;
}

async function readOrExplain<T>(path: string, read: (path: string) => Promise<T>): Promise<T> {
  try {
    return await read(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new WeightsError(
        `weights file "${path}" is missing (a weights folder holds ${WEIGHTS_MANIFEST} and ${WEIGHTS_DATA})`,
      );
    }
    throw error;
  }
}

const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };

/** Bytes of one manifest entry (no quantization or strings are written by {@linkcode saveWeights}). */
function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = DTYPE_BYTES[dtype];
  if (bytes === undefined) {
    throw new WeightsError(`weight "${spec.name}" has dtype "${dtype}", which cannot be loaded here`);
  }
  return size * bytes;
}

function concatBuffers(data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  if (!Array.isArray(data)) return data;
  return concatBytes(data.map((b) => new Uint8Array(b))).buffer as ArrayBuffer;
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function join(dir: string, name: string): string {
  return `${dir.replace(/[\\/]+$/, "")}/${name}`;
}

/**
 * A search (or training) checkpoint on disk, crash-safe: `<run>/checkpoint/` holds one binary file
 * of float32 values (every tensor and optimizer slot, little-endian, back to back) and
 * `latest.json`, the manifest: the rest of the state as JSON, each tensor referenced by offset and
 * shape, the data file's name, size and SHA-256. Any top-level field of the checkpoint that holds
 * named tensors (`SlotValues`: `tensors`, `sgd`, `adam`) goes to the binary file.
 *
 * A new checkpoint writes its data file under a fresh name, then replaces `latest.json` (temporary
 * file + fsync + rename), then removes the old data file. Whenever the process dies, `latest.json`
 * names a complete data file: the previous checkpoint or the new one.
 *
 * @module
 */
import { writeFileAtomic } from "../core/atomic.ts";
import type { SearchCheckpoint } from "../loops/search.ts";
import type { TrainCheckpoint } from "../loops/train.ts";
import type { SlotValues } from "../loops/optim.ts";

/** The folder of a run that holds its checkpoint. */
export const CHECKPOINT_DIR = "checkpoint";
/** The manifest: the one file whose rename makes a checkpoint current. */
export const MANIFEST = "latest.json";
const FORMAT = "asap-checkpoint";
const FORMAT_VERSION = 1;
const DATA_FILE = /^e\d+-s\d+-[0-9a-z]+\.bin$/;
/** Leftovers of an atomic write that was killed (see atomic.ts): `.<name>.<pid>.<n>.<time>.tmp`. */
const TEMP_FILE = /^\.(latest\.json|e\d+-s\d+-[0-9a-z]+\.bin)\..*\.tmp$/;

/** A checkpoint that is missing or cannot be read; the message says which file and what to do. */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
}

/** Where one tensor lies in the data file. */
interface TensorRef {
  readonly shape: readonly number[];
  /** Offset in float32 values from the start of the data file. */
  readonly offset: number;
}

/** Per top-level field of named tensors, where each tensor lies. */
type Groups = Record<string, Record<string, TensorRef>>;

/** The plain-data state every checkpoint has (search and training alike). */
export interface CheckpointState {
  readonly version: number;
  readonly seed: number;
  readonly epoch: number;
  readonly step: number;
  readonly telemetry: readonly unknown[];
}

/** `latest.json`: the checkpoint without its tensor values. */
interface Manifest {
  readonly format: typeof FORMAT;
  readonly formatVersion: typeof FORMAT_VERSION;
  readonly data: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly groups: Groups;
  readonly state: CheckpointState & Record<string, unknown>;
}

/** Whether a field holds named tensors (`SlotValues`); an empty object counts (no slots yet). */
function isSlotValues(value: unknown): value is SlotValues {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((t) =>
    typeof t === "object" && t !== null && (t as { values?: unknown }).values instanceof Float32Array &&
    Array.isArray((t as { shape?: unknown }).shape)
  );
}

/**
 * The SHA-256 of bytes or text (UTF-8), as lowercase hex.
 *
 * @param data The bytes or text.
 * @returns 64 hex digits.
 * @example
 * ```ts
 * import { sha256Hex } from "./checkpoint_io.ts";
 * const hex = await sha256Hex("abc");
 * if (!(hex.startsWith("ba7816bf"))) throw new Error("the example's claim does not hold");
 * ```
 */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** JSON keeps NaN and ±Infinity (telemetry has NaN val losses during grace) as `{"$float": "NaN"}`. */
function encodeFloat(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? { $float: String(value) } : value;
}

function decodeFloat(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const f = (value as { $float?: unknown }).$float;
    if (keys.length === 1 && (f === "NaN" || f === "Infinity" || f === "-Infinity")) return Number(f);
  }
  return value;
}

/**
 * Writes a search checkpoint into `<runDir>/checkpoint/`, atomically: a process killed at any
 * moment leaves either the previous checkpoint or this one readable by {@linkcode readCheckpoint}.
 *
 * @param runDir The run folder (it must exist; `checkpoint/` is created).
 * @param checkpoint The state from `SearchRun.checkpoint()`.
 * @returns The path of the manifest written.
 * @example
 * ```ts ignore
 * await writeCheckpoint("runs/demo", await run.checkpoint());
 * ```
 */
export async function writeCheckpoint(
  runDir: string,
  checkpoint: SearchCheckpoint | TrainCheckpoint,
): Promise<string> {
  const dir = `${runDir}/${CHECKPOINT_DIR}`;
  await Deno.mkdir(dir, { recursive: true });
  const all: Record<string, SlotValues> = {};
  const state: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(checkpoint)) {
    if (isSlotValues(value)) all[key] = value;
    else state[key] = value;
  }
  let total = 0;
  for (const group of Object.values(all)) for (const t of Object.values(group)) total += t.values.length;
  const values = new Float32Array(total);
  const groups: Groups = {};
  let offset = 0;
  for (const [group, tensors] of Object.entries(all)) {
    groups[group] = {};
    for (const [name, t] of Object.entries(tensors)) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (size !== t.values.length) {
        throw new CheckpointError(`tensor "${name}" has ${t.values.length} values but shape [${t.shape}]`);
      }
      values.set(t.values, offset);
      groups[group]![name] = { shape: [...t.shape], offset };
      offset += size;
    }
  }
  const bytes = new Uint8Array(values.buffer);
  // e0003-s0000: after epoch 3 (epochs count from 1; checkpoint.epoch is the number finished), no step of
  // the next; e0003-s0012: 12 steps into epoch 4.
  const data = `e${pad(checkpoint.epoch)}-s${pad(checkpoint.step)}-${uniqueSuffix()}.bin`;
  await writeFileAtomic(`${dir}/${data}`, bytes);
  const manifest: Manifest = {
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    data,
    bytes: bytes.length,
    sha256: await sha256Hex(bytes),
    groups,
    state: state as Manifest["state"],
  };
  const path = `${dir}/${MANIFEST}`;
  await writeFileAtomic(path, `${JSON.stringify(manifest, encodeFloat)}\n`);
  await removeStale(dir, data);
  return path;
}

function pad(n: number): string {
  return String(n).padStart(4, "0");
}

let written = 0;
function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${(written++).toString(36)}${Deno.pid.toString(36)}`;
}

/** Removes older data files and temporary files of killed writes; never the current data file. */
async function removeStale(dir: string, keep: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || entry.name === keep) continue;
    if (DATA_FILE.test(entry.name) || TEMP_FILE.test(entry.name)) {
      await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
    }
  }
}

/**
 * Whether a run folder has a checkpoint manifest (it may still be unreadable).
 *
 * @param runDir The run folder.
 * @returns True when `<runDir>/checkpoint/latest.json` exists.
 */
export async function hasCheckpoint(runDir: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${runDir}/${CHECKPOINT_DIR}/${MANIFEST}`)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Reads and validates the checkpoint of a run folder.
 *
 * @param runDir The run folder.
 * @returns The state to pass to `SearchRun.restore` (or `TrainRun.restore`, with the type argument
 * `TrainCheckpoint`).
 * @throws {CheckpointError} When the manifest or its data file is missing, truncated, or does not
 * match its checksum; the message names the file.
 * @example
 * ```ts ignore
 * run.restore(await readCheckpoint("runs/demo"));
 * ```
 */
export async function readCheckpoint<T extends CheckpointState = SearchCheckpoint>(
  runDir: string,
): Promise<T> {
  const dir = `${runDir}/${CHECKPOINT_DIR}`;
  const path = `${dir}/${MANIFEST}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new CheckpointError(
      `"${path}" is missing: "${runDir}" has no checkpoint (a search writes one at the end of each epoch)`,
    );
  }
  const corrupt = (what: string) =>
    new CheckpointError(`checkpoint "${path}" is corrupt: ${what}; start the search again`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text, decodeFloat) as Manifest;
  } catch {
    throw corrupt("it is not valid JSON");
  }
  if (typeof manifest !== "object" || manifest === null || manifest.format !== FORMAT) {
    throw corrupt(`it is not an asap checkpoint (no "format": "${FORMAT}")`);
  }
  if (manifest.formatVersion !== FORMAT_VERSION) {
    throw new CheckpointError(
      `checkpoint "${path}" has format version ${manifest.formatVersion}, this asap reads ${FORMAT_VERSION}`,
    );
  }
  const state = manifest.state;
  if (
    typeof manifest.data !== "string" || !DATA_FILE.test(manifest.data) ||
    typeof manifest.bytes !== "number" || typeof manifest.sha256 !== "string" ||
    typeof manifest.groups !== "object" || manifest.groups === null ||
    typeof state !== "object" || state === null ||
    typeof state.epoch !== "number" || typeof state.step !== "number" || typeof state.seed !== "number" ||
    !Array.isArray(state.telemetry)
  ) {
    throw corrupt("a field is missing or has the wrong type");
  }
  const dataPath = `${dir}/${manifest.data}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(dataPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw corrupt(`its data file "${dataPath}" is missing`);
  }
  if (bytes.length !== manifest.bytes || bytes.length % 4 !== 0) {
    throw corrupt(`its data file "${dataPath}" has ${bytes.length} bytes, expected ${manifest.bytes}`);
  }
  if (await sha256Hex(bytes) !== manifest.sha256) {
    throw corrupt(`its data file "${dataPath}" does not match the SHA-256 in the manifest`);
  }
  const values = new Float32Array(bytes.slice().buffer);
  const out: Record<string, unknown> = { ...state };
  for (const [group, refs] of Object.entries(manifest.groups)) {
    if (typeof refs !== "object" || refs === null) throw corrupt(`the "${group}" group is malformed`);
    const tensors: SlotValues = {};
    for (const [name, ref] of Object.entries(refs)) {
      const size = Array.isArray(ref.shape) ? ref.shape.reduce((a, b) => a * b, 1) : NaN;
      if (
        !Number.isInteger(ref.offset) || !(size >= 0) || ref.offset < 0 || ref.offset + size > values.length
      ) {
        throw corrupt(`tensor "${name}" lies outside the data file`);
      }
      tensors[name] = { shape: ref.shape, values: values.slice(ref.offset, ref.offset + size) };
    }
    out[group] = tensors;
  }
  return out as unknown as T;
}

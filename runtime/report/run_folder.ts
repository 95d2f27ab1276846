/**
 * The folder a search writes: what it was started with (`space.space`, `run.json`), what it found
 * (`genotype.json`, `found.space`, `cell-<type>.svg` / `.dot`), how it went (`telemetry.jsonl`,
 * `curves.svg`, `supernet-<type>.svg` redrawn each epoch) and `checkpoint/` (see checkpoint_io.ts).
 * Every file is written atomically, so a killed run never leaves a half-written one.
 *
 * @module
 */
import type { Genotype, SpaceIR } from "../../dsl/ir.ts";
import { cellTypeOf } from "../../dsl/ir.ts";
import { printFoundSpace } from "../../dsl/print.ts";
import { formatDartsGenotype } from "../../dsl/darts_genotype.ts";
import { DATA_KINDS, type DataSource } from "../data/sources.ts";
import { exists, writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { sha256Hex } from "../io/checkpoint_io.ts";
import { cellToDot, cellToSvg, curvesToSvg, supernetToSvg } from "./render.ts";
import type { EpochTelemetry, SearchRun } from "../loops/search.ts";

/** The copy of the searched `.space` text. */
export const SPACE_FILE = "space.space";
/** The options the run was started with. */
export const RUN_FILE = "run.json";

/** `run.json`: everything needed to resume the run exactly. */
export interface RunConfig {
  readonly version: 1;
  /** The `.space` file the run was started from (for the record; resuming reads `space.space`). */
  readonly spaceFile: string;
  /** SHA-256 of the `.space` text, hex. */
  readonly spaceHash: string;
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly stepsPerEpoch: number | null;
  readonly backend: string;
  /** Where it computes, in words (kernels/backend.ts' backendDevice(); absent in older run folders). */
  readonly device?: string;
  readonly data: DataSource;
  /** The class names in label order (sources.ts: classNamesOf); absent in runs started before it. */
  readonly classNames?: readonly string[];
  /** When the run was started, ISO 8601. */
  readonly started: string;
}

/** A run folder that cannot be created or read; the message says what to do. */
export class RunFolderError extends Error {
  override readonly name = "RunFolderError";
}

/**
 * The hash that ties a genotype and a run folder to the exact `.space` text searched.
 *
 * @param text The `.space` text.
 * @returns SHA-256 of its UTF-8 bytes, hex.
 * @example
 * ```ts
 * import { spaceHash } from "./run_folder.ts";
 * if (!((await spaceHash("space a {}")).length === 64)) throw new Error("the example's claim does not hold");
 * ```
 */
export function spaceHash(text: string): Promise<string> {
  return sha256Hex(text);
}

/**
 * Creates a run folder and writes `space.space` and `run.json` into it.
 *
 * @param dir The folder (created with its parents).
 * @param spaceText The `.space` text searched.
 * @param config The options of the run.
 * @throws {RunFolderError} When the folder already holds a run.
 */
export async function createRunFolder(dir: string, spaceText: string, config: RunConfig): Promise<void> {
  if (await exists(`${dir}/${RUN_FILE}`)) {
    throw new RunFolderError(
      `"${dir}" already holds a run: continue it with --resume ${dir}, or choose another --out`,
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(`${dir}/${SPACE_FILE}`, spaceText);
  await writeJsonAtomic(`${dir}/${RUN_FILE}`, config);
}

/**
 * Reads what a run was started with, to resume it.
 *
 * @param dir The run folder.
 * @returns Its `run.json` and the text of its `space.space`.
 * @throws {RunFolderError} When either file is missing or `run.json` is malformed.
 */
export async function readRunFolder(dir: string): Promise<{ config: RunConfig; spaceText: string }> {
  const read = async (name: string): Promise<string> => {
    try {
      return await Deno.readTextFile(`${dir}/${name}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new RunFolderError(
        (await exists(dir))
          ? `"${dir}" is not a run folder: it has no ${name} (a search writes it when it starts)`
          : `run folder "${dir}" does not exist`,
      );
    }
  };
  const text = await read(RUN_FILE);
  const spaceText = await read(SPACE_FILE);
  let config: RunConfig;
  try {
    config = JSON.parse(text) as RunConfig;
  } catch {
    throw new RunFolderError(`"${dir}/${RUN_FILE}" is not valid JSON`);
  }
  const ok = typeof config === "object" && config !== null && config.version === 1 &&
    typeof config.seed === "number" && typeof config.epochs === "number" &&
    typeof config.batchSize === "number" && typeof config.backend === "string" &&
    typeof config.spaceHash === "string" && typeof config.data === "object" && config.data !== null &&
    DATA_KINDS.includes(config.data.kind);
  if (!ok) {
    throw new RunFolderError(`"${dir}/${RUN_FILE}" is malformed: a field is missing or has the wrong type`);
  }
  return { config, spaceText };
}

/**
 * Writes `telemetry.jsonl` (one JSON object per finished epoch; the whole file, atomically).
 *
 * @param dir The run folder.
 * @param telemetry Every finished epoch so far.
 */
export async function writeTelemetry(dir: string, telemetry: readonly EpochTelemetry[]): Promise<void> {
  await writeFileAtomic(`${dir}/telemetry.jsonl`, telemetry.map((t) => `${JSON.stringify(t)}\n`).join(""));
}

/**
 * What a run folder shows after each epoch: `telemetry.jsonl`, `curves.svg` and one
 * `supernet-<type>.svg` per cell type (each edge's remaining candidates with widths ∝ Φ).
 *
 * @param dir The run folder.
 * @param run The search, at an epoch boundary.
 * @param temperature The T to draw Φ at (the finished epoch's).
 */
export async function writeEpochOutputs(dir: string, run: SearchRun, temperature: number): Promise<void> {
  await writeTelemetry(dir, run.telemetry);
  await writeFileAtomic(`${dir}/curves.svg`, curvesToSvg(run.telemetry));
  for (const [type, alphas] of run.net.alpha) {
    const cell = cellTypeOf(run.ir, type);
    const alive = run.net.alive.get(type) ?? [];
    const alpha: number[][] = [];
    const names: string[][] = [];
    for (let e = 0; e < alphas.length; e++) {
      const values = await alphas[e]!.data();
      const live = alive[e] ?? [];
      alpha.push(live.map((o) => values[o] ?? 0));
      names.push(live.map((o) => cell.edges[e]!.candidates[o]!));
    }
    await writeFileAtomic(`${dir}/supernet-${type}.svg`, supernetToSvg(cell, alpha, names, temperature));
  }
}

/**
 * What a run folder holds once the search is over: `genotype.json`, `found.space` (the space with
 * the found cells: it compiles), `genotype.txt` (the cells in DARTS' `Genotype(…)` form, when they fit
 * it; also `genotype.json`'s `darts`), and `cell-<type>.svg` and `cell-<type>.dot` per cell type.
 *
 * @param dir The run folder.
 * @param genotype The found architecture.
 * @returns The names of the files written.
 */
export async function writeFinalOutputs(dir: string, genotype: Genotype): Promise<string[]> {
  const ir: SpaceIR = genotype.space;
  const written = ["genotype.json", "found.space"];
  const darts = formatDartsGenotype(ir, genotype.cells);
  await writeJsonAtomic(
    `${dir}/genotype.json`,
    "text" in darts ? { ...genotype, darts: darts.text } : genotype,
  );
  if ("text" in darts) {
    await writeFileAtomic(`${dir}/genotype.txt`, `${darts.text}\n`);
    written.push("genotype.txt");
  }
  await writeFileAtomic(
    `${dir}/found.space`,
    printFoundSpace(ir, genotype.cells, {
      header: `the cells found in space "${ir.name}" (seed ${genotype.seed}, space sha256 ${
        genotype.spaceHash.slice(0, 12)
      }): one op per kept edge`,
    }),
  );
  for (const cell of genotype.cells) {
    const type = cellTypeOf(ir, cell.cellType);
    await writeFileAtomic(`${dir}/cell-${cell.cellType}.svg`, cellToSvg(type, cell));
    await writeFileAtomic(`${dir}/cell-${cell.cellType}.dot`, cellToDot(type, cell));
    written.push(`cell-${cell.cellType}.svg`, `cell-${cell.cellType}.dot`);
  }
  return written;
}

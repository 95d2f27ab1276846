/**
 * A tolerant reader of run folders, for the dashboard: whatever a folder holds (a run in progress,
 * a finished one, one killed mid-write, or garbage), it returns what can be shown and a list of
 * the problems found, and never throws for the folder's content. Telemetry records are checked
 * field by field: a number that is not a number is dropped, not passed on.
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import type { CellType, GenotypeCell, SpaceIR } from "../../dsl/ir.ts";
import { type RunState, STATUS_FILE } from "./run_status.ts";

/** How a run is shown: the process's word (`status.json`), or "broken" when the folder has problems. */
export type RunStatus = RunState | "broken";

/** One epoch of telemetry, every field checked; absent or malformed fields are null or empty. */
export interface TelemetryPoint {
  readonly epoch: number;
  readonly temperature: number | null;
  readonly threshold: number | null;
  readonly sparsity: number | null;
  readonly epochMs: number | null;
  readonly steps: number | null;
  readonly trainLoss: number | null;
  readonly trainAccuracy: number | null;
  readonly valLoss: number | null;
  readonly valAccuracy: number | null;
  readonly grace: boolean | null;
  readonly entropy: Readonly<Record<string, number>>;
  readonly opsLeft: Readonly<Record<string, readonly number[]>>;
  /** Φ per cell type, edge and candidate (null: pruned); absent in runs written before it existed. */
  readonly phi: Readonly<Record<string, readonly (readonly (number | null)[])[]>> | null;
  readonly pruned: readonly {
    cellType: string;
    edge: number;
    op: string;
    epoch: number;
    phi: number | null;
  }[];
}

/** A cell type as the page draws it: names, edges and their candidates. */
export interface CellShape {
  readonly name: string;
  readonly reduction: boolean;
  readonly inputs: readonly string[];
  readonly nodes: readonly string[];
  readonly edges: readonly {
    readonly from: string;
    readonly to: string;
    readonly candidates: readonly string[];
  }[];
}

/** What the run list shows of a run. */
export interface RunSummary {
  /** The folder's path relative to the dashboard's root, `/`-separated: the run's id in URLs. */
  readonly id: string;
  readonly space: string | null;
  readonly algorithm: string | null;
  readonly status: RunStatus;
  /** Epochs finished (telemetry records read). */
  readonly epochs: number;
  /** The run's epoch budget (run.json), when known. */
  readonly maxEpochs: number | null;
  readonly started: string | null;
  /** Newest modification time of the run's files (ms since the epoch); changes when the run moves. */
  readonly updated: number;
  /** Why a failed run failed, or why a running one is believed stopped. */
  readonly message: string | null;
  /** What is wrong with the folder; non-empty exactly when the status is "broken". */
  readonly problems: readonly string[];
  /** The last telemetry record without Φ, or null. */
  readonly last: Omit<TelemetryPoint, "phi"> | null;
}

/** Everything the page shows of one run. */
export interface RunDetail extends RunSummary {
  readonly telemetry: readonly TelemetryPoint[];
  readonly cellTypes: readonly CellShape[];
  /** The found cells (genotype.json), once the search is done. */
  readonly found:
    | readonly { cellType: string; edges: readonly { from: string; to: string; op: string }[] }[]
    | null;
  readonly seed: number | null;
  readonly backend: string | null;
}

/** The files a run folder may hold that the reader looks at. */
const RUN_FILES = ["run.json", "space.space", "telemetry.jsonl", "genotype.json", STATUS_FILE] as const;

/** A running run with no sign of life for this long is shown as interrupted (the process is gone). */
export const STALE_MS = 10 * 60_000;

/** How deep below the root run folders are looked for (`runs/sweep/seed-3` is depth 2). */
const MAX_DEPTH = 3;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;

function numberRecord(v: unknown): Record<string, number> {
  if (!isObject(v)) return {};
  return Object.fromEntries(Object.entries(v).filter(([, x]) => num(x) !== null)) as Record<string, number>;
}

function arrayRecord<T>(v: unknown, item: (x: unknown) => T | undefined): Record<string, T[]> {
  if (!isObject(v)) return {};
  const out: Record<string, T[]> = {};
  for (const [key, list] of Object.entries(v)) {
    if (!Array.isArray(list)) continue;
    const items = list.map(item);
    if (items.every((x) => x !== undefined)) out[key] = items as T[];
  }
  return out;
}

/**
 * One telemetry record, checked; null when it is not an object with a whole, non-negative epoch.
 *
 * @param value A parsed line of `telemetry.jsonl`.
 * @returns The record with every field checked.
 * @example
 * ```ts
 * import { telemetryPoint } from "./telemetry_read.ts";
 * const p = telemetryPoint({ epoch: 2, temperature: 1.4, trainLoss: "oops" });
 * if (!(p?.temperature === 1.4 && p.trainLoss === null)) throw new Error("the example's claim does not hold");
 * ```
 */
export function telemetryPoint(value: unknown): TelemetryPoint | null {
  if (!isObject(value)) return null;
  const epoch = num(value.epoch);
  if (epoch === null || !Number.isInteger(epoch) || epoch < 0) return null;
  const phiRow = (row: unknown) =>
    Array.isArray(row) && row.every((x) => x === null || num(x) !== null)
      ? row as (number | null)[]
      : undefined;
  const phi = arrayRecord(value.phi, phiRow);
  const pruned = Array.isArray(value.pruned)
    ? value.pruned.filter(isObject).flatMap((p) => {
      const edge = num(p.edge), at = num(p.epoch);
      return typeof p.cellType === "string" && typeof p.op === "string" && edge !== null && at !== null
        ? [{ cellType: p.cellType, edge, op: p.op, epoch: at, phi: num(p.phi) }]
        : [];
    })
    : [];
  return {
    epoch,
    temperature: num(value.temperature),
    threshold: num(value.threshold),
    sparsity: num(value.sparsity),
    epochMs: num(value.epochMs),
    steps: num(value.steps),
    trainLoss: num(value.trainLoss),
    trainAccuracy: num(value.trainAccuracy),
    valLoss: num(value.valLoss),
    valAccuracy: num(value.valAccuracy),
    grace: typeof value.grace === "boolean" ? value.grace : null,
    entropy: numberRecord(value.entropy),
    opsLeft: arrayRecord(value.opsLeft, (x) => num(x) ?? undefined),
    phi: isObject(value.phi) ? phi : null,
    pruned,
  };
}

/**
 * Epochs counted from 1: a run folder written before 2026-12-05 counted from 0 (its first record is epoch
 * 0), and its epochs, pruning events' and Φ points' included, move up by one.
 */
function fromOne(points: TelemetryPoint[]): TelemetryPoint[] {
  if (points[0]?.epoch !== 0) return points;
  return points.map((p) => ({
    ...p,
    epoch: p.epoch + 1,
    pruned: p.pruned.map((e) => ({ ...e, epoch: e.epoch + 1 })),
  }));
}

/**
 * Parses `telemetry.jsonl`: one record per line; a line that is not JSON (a truncated last line),
 * not a record, or out of epoch order becomes a problem naming the line. Epochs count from 1 (an old
 * file's, from 0, are moved up).
 *
 * @param text The file's content.
 * @returns The records that parse, and the problems.
 * @example
 * ```ts
 * import { parseTelemetry } from "./telemetry_read.ts";
 * const { points, problems } = parseTelemetry('{"epoch":1}\n{"epoch":2,"tempe');
 * if (!(points.length === 1 && problems.length === 1)) throw new Error("the example's claim does not hold");
 * ```
 */
export function parseTelemetry(text: string): { points: TelemetryPoint[]; problems: string[] } {
  const points: TelemetryPoint[] = [];
  const problems: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      const last = lines.slice(i + 1).every((l) => l.trim() === "");
      problems.push(
        `telemetry.jsonl line ${i + 1} is not valid JSON${last ? " (a truncated last line?)" : ""}`,
      );
      return;
    }
    const point = telemetryPoint(value);
    if (!point) {
      problems.push(`telemetry.jsonl line ${i + 1} is not an epoch record (no whole "epoch" number)`);
    } else if (points.length > 0 && point.epoch <= points[points.length - 1]!.epoch) {
      problems.push(`telemetry.jsonl line ${i + 1} repeats or goes back to epoch ${point.epoch}`);
    } else {
      points.push(point);
    }
  });
  return { points: fromOne(points), problems };
}

/** A cell type of the IR as names only. */
export function cellShape(cell: CellType): CellShape {
  const ref = (r: { kind: "input" | "node"; index: number }) =>
    (r.kind === "input" ? cell.inputs[r.index]?.name : cell.nodes[r.index]?.name) ?? `${r.kind}${r.index}`;
  return {
    name: cell.name,
    reduction: cell.reduction,
    inputs: cell.inputs.map((i) => i.name),
    nodes: cell.nodes.map((n) => n.name),
    edges: cell.edges.map((e) => ({
      from: ref(e.from),
      to: cell.nodes[e.to]?.name ?? `node${e.to}`,
      candidates: [...e.candidates],
    })),
  };
}

/** A file's text and modification time, or null when it does not exist (or is not a plain file). */
async function readFileIn(dir: string, name: string): Promise<{ text: string; mtime: number } | null> {
  const path = `${dir}/${name}`;
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) return null;
    return { text: await Deno.readTextFile(path), mtime: info.mtime?.getTime() ?? 0 };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The whole of what a run folder says; the summary is this without the big fields. */
export interface Reading {
  readonly detail: RunDetail;
  /** The space as compiled or as genotype.json holds it (for server-side pictures). */
  readonly ir: SpaceIR | null;
  /** genotype.json's cells, as written, once they are known to fit `ir`. */
  readonly cells: readonly GenotypeCell[] | null;
}

/**
 * Reads one run folder. Never throws for what the folder holds: missing files, a truncated
 * telemetry line, malformed JSON or a space that no longer compiles become `problems`.
 *
 * @param dir The run folder.
 * @param id Its id (path relative to the dashboard's root).
 * @param now The current time (ms), for the staleness of a "running" run.
 * @returns The run as the page shows it, and its compiled space.
 */
export async function readRun(dir: string, id: string, now: number = Date.now()): Promise<Reading> {
  const problems: string[] = [];
  const files: Partial<Record<(typeof RUN_FILES)[number], { text: string; mtime: number } | null>> = {};
  for (const name of RUN_FILES) {
    try {
      files[name] = await readFileIn(dir, name);
    } catch (error) {
      files[name] = null;
      problems.push(`${name} cannot be read (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  const updated = Math.max(0, ...Object.values(files).map((f) => f?.mtime ?? 0));

  // run.json: what the run was started with.
  let maxEpochs: number | null = null, seed: number | null = null;
  let backend: string | null = null, started: string | null = null;
  if (!files["run.json"]) problems.push("run.json is missing (a search writes it when it starts)");
  else {
    const config = parseJson(files["run.json"].text);
    if (!isObject(config)) problems.push("run.json is not a JSON object");
    else {
      maxEpochs = num(config.epochs);
      seed = num(config.seed);
      backend = typeof config.backend === "string" ? config.backend : null;
      started = typeof config.started === "string" ? config.started : null;
    }
  }

  // The space: genotype.json carries its IR; before that, space.space is compiled.
  let ir: SpaceIR | null = null;
  let found: RunDetail["found"] = null;
  let cells: GenotypeCell[] | null = null;
  let shapes: CellShape[] = [];
  if (files["genotype.json"]) {
    const genotype = parseJson(files["genotype.json"].text);
    if (!isObject(genotype) || !isObject(genotype.space) || !Array.isArray(genotype.cells)) {
      problems.push("genotype.json is not a genotype (malformed JSON or missing fields)");
    } else {
      ir = genotype.space as unknown as SpaceIR;
      found = foundCells(ir, genotype.cells, problems);
      shapes = found ? shapesOf(ir) ?? [] : [];
      if (found && shapes.length > 0) cells = genotype.cells as GenotypeCell[];
      else ir = null;
    }
  }
  if (!ir) {
    if (!files["space.space"]) problems.push("space.space is missing (a search writes it when it starts)");
    else {
      const compiled = compileSpace(files["space.space"].text, "space.space");
      if (compiled.ir) [ir, shapes] = [compiled.ir, compiled.ir.cellTypes.map(cellShape)];
      else {problems.push(
          `space.space does not compile (${compiled.diagnostics[0]?.message ?? "unknown error"})`,
        );}
    }
  }

  const { points, problems: telemetryProblems } = files["telemetry.jsonl"]
    ? parseTelemetry(files["telemetry.jsonl"].text)
    : { points: [], problems: [] };
  problems.push(...telemetryProblems);

  // The state: status.json when the process wrote one; otherwise guessed from the files.
  let state: RunState;
  let message: string | null = null;
  const record = files[STATUS_FILE] ? parseJson(files[STATUS_FILE].text) : null;
  const states: readonly string[] = ["running", "done", "failed", "interrupted"];
  if (
    files[STATUS_FILE] &&
    !(isObject(record) && typeof record.state === "string" && states.includes(record.state))
  ) {
    problems.push(
      `${STATUS_FILE} is malformed (expected {"state": "running" | "done" | "failed" | "interrupted"})`,
    );
  }
  if (isObject(record) && typeof record.state === "string" && states.includes(record.state)) {
    state = record.state as RunState;
    if (typeof record.message === "string") message = record.message;
  } else {
    state = files["genotype.json"] ? "done" : "running";
  }
  if (state === "running") {
    const slowest = Math.max(0, ...points.map((p) => (p.epochMs ?? 0) / Math.max(1, p.steps ?? 1)));
    if (now - updated > Math.max(STALE_MS, 3 * slowest)) {
      state = "interrupted";
      message = `no sign of life since ${new Date(updated).toISOString()}: its process seems to have stopped`;
    }
  }
  if (state === "done" && !files["genotype.json"]) {
    problems.push("the run is done but genotype.json is missing");
  }

  const detail: RunDetail = {
    id,
    space: ir?.name ?? null,
    algorithm: ir?.search?.algorithm ?? null,
    status: problems.length > 0 ? "broken" : state,
    epochs: points.length,
    maxEpochs,
    started,
    updated,
    message,
    problems,
    last: lastWithoutPhi(points),
    telemetry: points,
    cellTypes: shapes,
    found,
    seed,
    backend,
  };
  return { detail, ir, cells };
}

/** The cell shapes of an IR read from a file, or null when it is malformed. */
function shapesOf(ir: SpaceIR): CellShape[] | null {
  try {
    return ir.cellTypes.map(cellShape);
  } catch {
    return null;
  }
}

function lastWithoutPhi(points: readonly TelemetryPoint[]): RunSummary["last"] {
  const last = points[points.length - 1];
  if (!last) return null;
  const { phi: _phi, ...rest } = last;
  return rest;
}

/** genotype.json's cells with names, or null (and a problem) when they do not fit its space. */
function foundCells(ir: SpaceIR, cells: unknown[], problems: string[]): RunDetail["found"] {
  try {
    return cells.map((c) => {
      const cell = c as {
        cellType: string;
        edges: { from: { kind: "input" | "node"; index: number }; to: number; op: string }[];
      };
      const type = ir.cellTypes.find((t) => t.name === cell.cellType);
      if (!type || !Array.isArray(cell.edges)) throw new Error(`cell type "${String(cell.cellType)}"`);
      const shape = cellShape(type);
      const ref = (r: { kind: string; index: number }) =>
        (r.kind === "input" ? shape.inputs[r.index] : shape.nodes[r.index]) ?? "?";
      return {
        cellType: cell.cellType,
        edges: cell.edges.map((e) => ({ from: ref(e.from), to: shape.nodes[e.to] ?? "?", op: String(e.op) })),
      };
    });
  } catch {
    problems.push("genotype.json's cells do not fit its space");
    return null;
  }
}

/** Strips a detail to its summary. */
export function summaryOf(detail: RunDetail): RunSummary {
  const { telemetry: _t, cellTypes: _c, found: _f, seed: _s, backend: _b, ...summary } = detail;
  return summary;
}

/**
 * Finds the run folders under `root`: every folder (not a symbolic link) holding one of a run's
 * files, up to three levels down; `root` itself when it is a run folder. Folders that cannot be
 * read are skipped.
 *
 * @param root The dashboard's root folder.
 * @returns Run ids (paths relative to `root`, `/`-separated; "." for the root itself) → paths.
 */
export async function findRuns(root: string): Promise<Map<string, string>> {
  const runs = new Map<string, string>();
  const isRun = async (dir: string) => {
    for (const name of RUN_FILES) {
      try {
        if ((await Deno.lstat(`${dir}/${name}`)).isFile) return true;
      } catch {
        // Absent or unreadable: look at the next.
      }
    }
    return false;
  };
  if (await isRun(root)) {
    runs.set(".", root);
    return runs;
  }
  const walk = async (dir: string, prefix: string, depth: number) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (!entry.isDirectory || entry.isSymlink || entry.name.startsWith(".")) continue;
      const path = `${dir}/${entry.name}`, id = `${prefix}${entry.name}`;
      if (await isRun(path)) runs.set(id, path);
      else if (depth < MAX_DEPTH && entry.name !== "checkpoint") await walk(path, `${id}/`, depth + 1);
    }
  };
  await walk(root, "", 1);
  return runs;
}

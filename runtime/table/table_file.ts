/**
 * The ground-truth table as plain data (NAS-Bench-201's method: every architecture of a small space
 * trained under one recipe with several seeds, so that a search is scored by lookup): its recipe,
 * the architectures of the space in a fixed order, and per architecture and seed the accuracies at
 * the full and at a reduced budget, the parameters and the training time.
 *
 * @module
 */

import type { GenotypeCell, SpaceIR } from "../../dsl/ir.ts";

/** How every architecture of the table was trained: the data and the budgets. */
export interface TableRecipe {
  /** The task (`--data` name) and how it was made smaller. */
  readonly data: {
    readonly task: string;
    /** Side of the images after the block mean (the task's 32 / `downsample`). */
    readonly resolution: number;
    readonly downsample: number;
    /** Class-balanced selections of the task's training split (disjoint) and of its test split. */
    readonly trainImages: number;
    readonly validationImages: number;
    readonly testImages: number;
    /**
     * What searches scored on this table are given: the first this many of the training part
     * (tables without it: the whole part).
     */
    readonly searchImages?: number;
    /** The seed of the selections' order. */
    readonly selectionSeed: number;
  };
  /** Epochs at the full budget, and the epoch after which the reduced budget's accuracies are read. */
  readonly epochs: number;
  readonly reducedEpochs: number;
  readonly batchSize: number;
  readonly channels: number;
  readonly cells: number;
  readonly lr: number;
  /** ATen threads per training (the table is built with one training per core). */
  readonly threads: number;
}

/** One training of one architecture with one seed. */
export interface TableRun {
  readonly seed: number;
  /** Accuracies in [0, 1] after `epochs` (full) and after `reducedEpochs` (reduced). */
  readonly valAccuracy: number;
  readonly testAccuracy: number;
  readonly reducedValAccuracy: number;
  readonly reducedTestAccuracy: number;
  /**
   * Seconds of training to the full and to the reduced budget (the epochs with their validation
   * passes; the test passes excluded): what random search is charged.
   */
  readonly trainSeconds: number;
  readonly reducedTrainSeconds: number;
}

/** An architecture of the space and its runs. */
export interface TableArchitecture {
  /** Its place in {@linkcode enumerateArchitectures}' order. */
  readonly index: number;
  /** E.g. `normal: none, conv_3x3, skip_connect` (see {@linkcode architectureKey}). */
  readonly key: string;
  /** Trainable parameters of the evaluation network. */
  readonly parameters: number;
  readonly runs: readonly TableRun[];
}

/** The table file. */
export interface GroundTruthTable {
  readonly version: 1;
  readonly space: string;
  /** SHA-256 of the `.space` text the table was built from. */
  readonly spaceHash: string;
  readonly recipe: TableRecipe;
  /** The searched cell types and the number of architectures of the space. */
  readonly searched: readonly string[];
  readonly size: number;
  readonly versions: Readonly<Record<string, string>>;
  /** The command that builds or extends it. */
  readonly command: string;
  readonly architectures: readonly TableArchitecture[];
}

/** One line of a worker's part file: a run, with the architecture it belongs to. */
export interface TableRecord extends TableRun {
  readonly index: number;
  readonly key: string;
  readonly parameters: number;
}

/** The cell types with at least one edge of several candidates: the searched ones. */
export function searchedCellTypes(ir: SpaceIR): string[] {
  return ir.cellTypes.filter((cell) => cell.edges.some((e) => e.candidates.length > 1)).map((c) => c.name);
}

/**
 * The number of architectures of a space: the product of every searched edge's candidate count.
 *
 * @param ir The space.
 * @returns E.g. 125 for three edges of five candidates.
 */
export function spaceSize(ir: SpaceIR): number {
  return ir.cellTypes.flatMap((cell) => cell.edges).reduce((n, e) => n * e.candidates.length, 1);
}

/**
 * The key of an architecture: per searched cell type, its ops in the IR's edge order.
 *
 * @param ir The space.
 * @param cells The architecture (a genotype's cells, one op per edge).
 * @returns E.g. `normal: none, conv_3x3, skip_connect`.
 * @throws When a cell type of the space is missing or an edge has no op.
 * @example
 * ```ts
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { architectureKey, enumerateArchitectures } from "./table_file.ts";
 * const { ir } = compileSpace(`space s {
 *   operation a = identity
 *   operation b = avg_pool(kernel: 3)
 *   cell normal { inputs: prev nodes: 1 candidates: a, b output: n0 }
 *   cell reduction extends normal { reduction: true candidates: a }
 *   supernet { cells: 3 reductions: [1] }
 * }`);
 * const all = enumerateArchitectures(ir!);
 * if (all.length !== 2 || architectureKey(ir!, all[1]!) !== "normal: b") throw new Error("order");
 * ```
 */
export function architectureKey(ir: SpaceIR, cells: readonly GenotypeCell[]): string {
  return searchedCellTypes(ir).map((name) => {
    const cellType = ir.cellTypes.find((c) => c.name === name)!;
    const cell = cells.find((c) => c.cellType === name);
    if (!cell) throw new Error(`the architecture has no "${name}" cell`);
    const ops = cellType.edges.map((edge) => {
      const found = cell.edges.find((e) =>
        e.to === edge.to && e.from.kind === edge.from.kind && e.from.index === edge.from.index
      );
      if (!found) throw new Error(`the "${name}" cell has no op on an edge into node ${edge.to}`);
      return found.op;
    });
    return `${name}: ${ops.join(", ")}`;
  }).join("; ");
}

/**
 * Every architecture of a space, in a fixed order: the searched edges' candidates counted like the
 * digits of a number (the last edge fastest), fixed edges as they are.
 *
 * @param ir The space.
 * @returns The architectures as genotype cells, one per cell type.
 */
export function enumerateArchitectures(ir: SpaceIR): GenotypeCell[][] {
  const edges = ir.cellTypes.flatMap((cell) => cell.edges.map((edge) => ({ cell: cell.name, edge })));
  const total = spaceSize(ir);
  const out: GenotypeCell[][] = [];
  for (let index = 0; index < total; index++) {
    const choice = new Array<number>(edges.length);
    let rest = index;
    for (let k = edges.length - 1; k >= 0; k--) {
      const n = edges[k]!.edge.candidates.length;
      choice[k] = rest % n;
      rest = Math.floor(rest / n);
    }
    out.push(ir.cellTypes.map((cell) => ({
      cellType: cell.name,
      edges: cell.edges.map((edge) => {
        const k = edges.findIndex((e) => e.edge === edge);
        return { from: edge.from, to: edge.to, op: edge.candidates[choice[k]!]! };
      }),
    })));
  }
  return out;
}

/**
 * Reads a table file and checks its shape, with a one-line error naming the file and what is wrong.
 *
 * @param text The file's text.
 * @param path The file's path, for messages.
 * @returns The table.
 * @throws {Error} When the text is not a version-1 table.
 */
export function parseTable(text: string, path: string): GroundTruthTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not JSON (${(error as Error).message})`);
  }
  const table = value as Partial<GroundTruthTable>;
  if (typeof table !== "object" || table === null || table.version !== 1) {
    throw new Error(`${path}: not a ground-truth table of version 1`);
  }
  for (const field of ["space", "spaceHash", "recipe", "architectures", "size"] as const) {
    if (table[field] === undefined) throw new Error(`${path}: the table has no "${field}"`);
  }
  for (const arch of table.architectures!) {
    if (typeof arch.key !== "string" || !Array.isArray(arch.runs)) {
      throw new Error(`${path}: architecture ${arch.index} is malformed`);
    }
    for (const run of arch.runs) {
      if (!(run.testAccuracy >= 0 && run.testAccuracy <= 1) || !(run.trainSeconds >= 0)) {
        throw new Error(
          `${path}: architecture ${arch.index}, seed ${run.seed}: accuracy or time out of range`,
        );
      }
    }
  }
  return table as GroundTruthTable;
}

/** What a table is built from, besides its runs. */
export type TableHeader = Omit<GroundTruthTable, "architectures">;

/**
 * The table with these records added (a record for an architecture and seed already there
 * replaces nothing: the first one kept wins), architectures and runs in order.
 *
 * @param header The space, recipe and versions.
 * @param before The table so far, if any.
 * @param records New runs.
 * @returns The merged table.
 */
export function mergeRecords(
  header: TableHeader,
  before: GroundTruthTable | undefined,
  records: readonly TableRecord[],
): GroundTruthTable {
  const byIndex = new Map<number, { key: string; parameters: number; runs: TableRun[] }>();
  for (const arch of before?.architectures ?? []) {
    byIndex.set(arch.index, { key: arch.key, parameters: arch.parameters, runs: [...arch.runs] });
  }
  for (const { index, key, parameters, ...run } of records) {
    const arch = byIndex.get(index) ?? { key, parameters, runs: [] };
    if (arch.key !== key) {
      throw new Error(`architecture ${index} is "${arch.key}" in the table, "${key}" in a part`);
    }
    if (!arch.runs.some((r) => r.seed === run.seed)) arch.runs.push(run);
    byIndex.set(index, arch);
  }
  const architectures = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([index, arch]) => ({
    index,
    key: arch.key,
    parameters: arch.parameters,
    runs: arch.runs.sort((a, b) => a.seed - b.seed),
  }));
  return { ...header, architectures };
}

/**
 * Reads a part file (JSON lines, one record each); a truncated last line (a worker stopped while
 * writing) is skipped, any other bad line is an error naming the file and line.
 *
 * @param text The part file's text.
 * @param path Its path, for messages.
 * @returns The records.
 */
export function parsePart(text: string, path: string): TableRecord[] {
  const lines = text.split("\n");
  const out: TableRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push(JSON.parse(line) as TableRecord);
    } catch {
      if (i === lines.length - 1) return; // no newline yet: the write was cut off
      throw new Error(`${path}:${i + 1}: not a JSON record`);
    }
  });
  return out;
}

/**
 * The cell-stack wiring, in one place for the shape inference (infer.ts) and both networks of the
 * runtime: which earlier output each cell input reads, how many halvings its preprocessing must
 * make up, the channels of every cell output, where the reductions sit, and where the auxiliary
 * head goes. Plain data in, plain data out; no tfjs.
 *
 * States are numbered as the networks keep them: state 0 is the stem's output, state i + 1 the
 * output of cell i. Cell i's input j of k reads the state i + 1 − (k − j) (the previous cells'
 * outputs, DARTS' s0 and s1), or the stem when the stack is not that deep yet.
 *
 * @module
 */
import type { CellType, SpaceIR } from "./ir.ts";
import { cellTypeOf } from "./ir.ts";

/** A position of the stack before wiring: its cell type and its C. */
export interface StackPosition {
  readonly cellType: CellType;
  /** C of the cell's nodes. */
  readonly channels: number;
}

/** One input of a wired cell. */
export interface WiredInput {
  /** The state it reads: 0 the stem, i + 1 cell i's output. */
  readonly state: number;
  /** Channels of that state. */
  readonly channelsIn: number;
  /**
   * How many halvings preprocessing makes up (0: relu → 1×1 conv → batch norm; n ≥ 1: n
   * FactorizedReduces, the first to C, any further one C → C).
   */
  readonly halvings: number;
}

/** One wired cell. */
export interface WiredCell {
  readonly cellType: CellType;
  readonly channels: number;
  readonly inputs: readonly WiredInput[];
  /** Halvings of the image before this cell's inputs are combined (its nodes run at this scale). */
  readonly scale: number;
  /** Channels of the cell's output: C with `project`, else (output nodes)·C. */
  readonly outputChannels: number;
}

/** A wired stack: the cells and, per state, its channels and scale. */
export interface WiredStack {
  readonly cells: readonly WiredCell[];
  /** Per state (0 the stem): channels. */
  readonly channels: readonly number[];
  /** Per state (0 the stem): halvings of the image so far. */
  readonly scales: readonly number[];
}

/**
 * Wires a stack of cells on top of a stem.
 *
 * @param positions The cells, in order, with their C.
 * @param stemChannels Channels of the stem's output.
 * @returns The wiring of every cell and the channels and scale of every state.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { supernetPositions, wireStack } from "./stack.ts";
 * const { ir } = compileSpace(await Deno.readTextFile("spaces/darts.space"), "darts.space");
 * const stack = wireStack(supernetPositions(ir!), 48);
 * // Cell 3 follows the reduction cell 2: its first input (cell 1's output) is halved once.
 * console.log(stack.cells[3]!.inputs.map((i) => i.halvings)); // [1, 0]
 * ```
 */
export function wireStack(positions: readonly StackPosition[], stemChannels: number): WiredStack {
  const channels = [stemChannels];
  const scales = [0];
  const cells = positions.map((position, i): WiredCell => {
    const { cellType, channels: c } = position;
    const k = cellType.inputs.length;
    const states = cellType.inputs.map((_, j) => Math.max(0, i + 1 - (k - j)));
    const scale = scales[states[k - 1] ?? 0]!;
    const inputs = states.map((state) => ({
      state,
      channelsIn: channels[state]!,
      halvings: scale - scales[state]!,
    }));
    const outputChannels = cellType.output.project ? c : cellType.output.nodes.length * c;
    channels.push(outputChannels);
    scales.push(scale + (cellType.reduction ? 1 : 0));
    return { cellType, channels: c, inputs, scale, outputChannels };
  });
  return { cells, channels, scales };
}

/**
 * The supernet's positions: the space's placements with their C.
 *
 * @param ir The compiled space.
 * @returns One position per placed cell.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { supernetPositions } from "./stack.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const positions = supernetPositions(ir!).map((p) => `${p.cellType.name}@${p.channels}`);
 * // C doubles at the reduction and stays doubled.
 * if (positions.join(" ") !== "normal@4 reduction@8 normal@8") throw new Error(positions.join(" "));
 * ```
 */
export function supernetPositions(ir: SpaceIR): StackPosition[] {
  return ir.supernet.cells.map((p) => ({ cellType: cellTypeOf(ir, p.cellType), channels: p.channels }));
}

/**
 * DARTS' reduction indices for a stack of `cells`: `cells // 3` and `2 * cells // 3`, each once.
 *
 * @param cells Cells in the stack.
 * @returns The sorted indices.
 * @example
 * ```ts
 * import { defaultReductions } from "./stack.ts";
 * console.log(defaultReductions(20)); // [6, 13]
 * ```
 */
export function defaultReductions(cells: number): number[] {
  return [...new Set([Math.floor(cells / 3), Math.floor((2 * cells) / 3)])].sort((a, b) => a - b);
}

/** Overrides of the evaluation stack (the space's `evaluate` settings otherwise). */
export interface EvaluationStackOptions {
  /** Initial channels C; default `evaluate.channels`. */
  readonly channels?: number;
  /**
   * Cells in the stack; default `evaluate.cells`. When it differs from `evaluate.cells` and no
   * `reductions` are given, the reductions sit at DARTS' `cells // 3` and `2 * cells // 3`.
   */
  readonly cells?: number;
  /** Indices of the reduction cells; default `evaluate.reductions`. */
  readonly reductions?: readonly number[];
}

/** The evaluation stack before wiring. */
export interface EvaluationStack {
  /** Initial channels C. */
  readonly channels: number;
  readonly reductions: readonly number[];
  readonly positions: readonly StackPosition[];
  /** Index of the cell whose output feeds the auxiliary head. */
  readonly auxiliaryAfter: number;
}

/**
 * The evaluation network's positions (DARTS `cnn/model.py` NetworkCIFAR): the cell type of each
 * position (see {@linkcode evaluationCellTypes}), C doubled at each reduction when the supernet
 * doubles it, and the auxiliary head after the last reduction.
 *
 * @param ir The compiled space.
 * @param options Overrides of the `evaluate` settings.
 * @returns The positions, C, the reductions and the auxiliary head's position.
 * @throws {RangeError} When the cell count is not a positive integer.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { evaluationStack } from "./stack.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const stack = evaluationStack(ir!, { channels: 4, cells: 5 });
 * // 5 cells: the reductions move to 5 // 3 and 2 · 5 // 3, the auxiliary head follows the last one.
 * if (stack.reductions.join() !== "1,3" || stack.auxiliaryAfter !== 3) throw new Error(JSON.stringify(stack));
 * if (stack.positions.at(-1)?.channels !== 16) throw new Error("C doubles twice: 16 expected");
 * ```
 */
export function evaluationStack(ir: SpaceIR, options: EvaluationStackOptions = {}): EvaluationStack {
  const channels = options.channels ?? ir.evaluate.channels;
  const count = options.cells ?? ir.evaluate.cells;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`cells must be a positive integer, got ${count}`);
  }
  const reductions = [
    ...(options.reductions ??
      (count === ir.evaluate.cells ? ir.evaluate.reductions : defaultReductions(count))),
  ];
  let c = channels;
  const positions = evaluationCellTypes(ir, count, reductions).map((name, i) => {
    if (ir.supernet.channelDoubling && reductions.includes(i)) c *= 2;
    return { cellType: cellTypeOf(ir, name), channels: c };
  });
  // DARTS puts the head after cell 2·layers//3, the last reduction; the paper: "after the last reduction cell".
  const auxiliaryAfter = reductions.length > 0 ? Math.max(...reductions) : Math.floor((2 * count) / 3);
  return { channels, reductions, positions, auxiliaryAfter };
}

/**
 * The cell types of the evaluation stack: at reduction positions the type the supernet places at
 * its reductions (else the first type with `reduction: true`), elsewhere the type the supernet
 * places at its first normal position (else the first type without it).
 *
 * @param ir The compiled space.
 * @param cells Cells in the evaluation stack.
 * @param reductions Indices of the reduction cells.
 * @returns One cell-type name per position.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { evaluationCellTypes } from "./stack.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const types = evaluationCellTypes(ir!, 4, [1, 2]);
 * if (types.join() !== "normal,reduction,reduction,normal") throw new Error(types.join());
 * ```
 */
export function evaluationCellTypes(ir: SpaceIR, cells: number, reductions: readonly number[]): string[] {
  const { supernet } = ir;
  const pick = (reduction: boolean): string | undefined =>
    supernet.cells.find((_, i) => supernet.reductions.includes(i) === reduction)?.cellType ??
      ir.cellTypes.find((t) => t.reduction === reduction)?.name;
  return Array.from({ length: cells }, (_, i) => {
    const reduction = reductions.includes(i);
    const name = pick(reduction);
    if (name === undefined) {
      throw new Error(
        `space "${ir.name}" has no ${reduction ? "reduction" : "normal"} cell type for evaluation cell ${i}`,
      );
    }
    return name;
  });
}

/**
 * DARTS' AuxiliaryHeadCIFAR: relu, 5×5 average pool at stride 3, 1×1 conv C → 128, batch norm,
 * relu, 2×2 conv 128 → 768, batch norm, relu, linear 768 → classes.
 */
export const AUXILIARY_HEAD = { hidden: 128, features: 768, pool: 5, poolStride: 3 } as const;

/**
 * Why the auxiliary head cannot sit on this stack for images of this size, or null when it can: the
 * head's 5×5/3 pool and 2×2 conv reduce an 8×8 map (DARTS' CIFAR network after its last reduction;
 * 8–10 px per side work) to the single position its linear layer reads.
 *
 * @param stack The network's positions ({@linkcode evaluationStack}).
 * @param inputSize The images' side in pixels (the stem keeps it).
 * @returns A message for the user, or null.
 * @example
 * ```ts
 * import { auxiliaryHeadMismatch } from "./stack.ts";
 * const stack = { reductions: [1, 3], auxiliaryAfter: 3 };
 * if (auxiliaryHeadMismatch(stack, 32) !== null) throw new Error("32×32 → 8×8 after two reductions fits");
 * if (auxiliaryHeadMismatch(stack, 16) === null) throw new Error("16×16 → 4×4 does not");
 * ```
 */
export function auxiliaryHeadMismatch(
  stack: Pick<EvaluationStack, "reductions" | "auxiliaryAfter">,
  inputSize: number,
): string | null {
  const halvings = stack.reductions.filter((r) => r <= stack.auxiliaryAfter).length;
  const size = Math.ceil(inputSize / 2 ** halvings);
  const pooled = Math.floor((size - AUXILIARY_HEAD.pool) / AUXILIARY_HEAD.poolStride) + 1;
  if (pooled === 2) return null;
  return `the auxiliary head (DARTS' AuxiliaryHeadCIFAR) needs an 8×8 map after cell ${stack.auxiliaryAfter}, ` +
    `but ${inputSize}×${inputSize} images give ${size}×${size} there; set auxiliary_weight: 0 in the ` +
    `evaluate block, or use 32×32 images with two reductions`;
}

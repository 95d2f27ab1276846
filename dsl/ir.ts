/**
 * The typed graph IR of a search space: plain, readonly, JSON data. It is the only thing the
 * runtime sees of a `.space` file. Every element keeps the span of the source it came from, so a
 * runtime error can point back at the `.space` text.
 *
 * @module
 */

/** Bumped on every change of the IR's shape; `parseIr` refuses other versions. */
export const IR_VERSION = 1;

/** Where a piece of the IR came from in the `.space` text (1-based line and column). */
export interface Span {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** 0-based offset of the first character. */
  readonly offset: number;
  readonly length: number;
}

/**
 * One runtime primitive: a step of an operation. Every step maps C channels to C channels.
 * The stride of the place the operation sits at is applied by the first spatial step
 * (see {@linkcode stepsAt}); `identity` at stride 2 becomes `factorized_reduce`, as in DARTS.
 */
export type Step =
  | { readonly kind: "relu" }
  /** Full k×k convolution, no bias; `groups` divides C. */
  | { readonly kind: "conv"; readonly kernel: number; readonly dilation: number; readonly groups: number }
  /** Depthwise k×k convolution, no bias. */
  | { readonly kind: "dw_conv"; readonly kernel: number; readonly dilation: number }
  /** Pointwise convolution, no bias. */
  | { readonly kind: "conv_1x1" }
  /** Batch norm; `affine` absent: decided by the context (not affine in the supernet, affine when evaluating). */
  | { readonly kind: "batch_norm"; readonly affine?: boolean }
  | { readonly kind: "max_pool"; readonly kernel: number }
  /** Average pool that excludes the padding from the count, as DARTS. */
  | { readonly kind: "avg_pool"; readonly kernel: number }
  | { readonly kind: "identity" }
  /** Output of zeros (DARTS' `none`); at stride 2 the zeros have the reduced size. */
  | { readonly kind: "zero" }
  /**
   * DARTS' FactorizedReduce: relu, two 1×1 stride-2 convs to C/2 (the second on the input shifted
   * by one pixel), concat, batch norm. At stride 1 it is relu → conv_1x1 → batch_norm.
   */
  | { readonly kind: "factorized_reduce" };

/** The kind of a step. */
export type StepKind = Step["kind"];

/** A named candidate operation, e.g. `sep_conv_3x3`, lowered to its primitive steps. */
export interface Operation {
  readonly name: string;
  readonly steps: readonly Step[];
  readonly span: Span;
}

/** A step together with the stride it runs at. */
export type StridedStep = Step & { readonly stride: 1 | 2 };

/**
 * A reference to a value inside a cell: one of the cell's inputs (`inputs[index]`) or one of its
 * intermediate nodes (`nodes[index]`).
 */
export interface NodeRef {
  readonly kind: "input" | "node";
  readonly index: number;
}

/** An input of a cell. With k inputs, input i is the output of the cell k - i places back. */
export interface CellInput {
  readonly name: string;
  readonly span: Span;
}

/** An intermediate node: the sum of its incoming edges. */
export interface CellNode {
  readonly name: string;
  readonly span: Span;
}

/** A mixed operation (the ō^(i,j) of eq. 2): one edge and its candidate operations. */
export interface Edge {
  readonly from: NodeRef;
  /** Index into the cell's `nodes`; always later than `from`. */
  readonly to: number;
  /** Names of operations in `SpaceIR.operations`, in declaration order; never empty. */
  readonly candidates: readonly string[];
  /** 1 or 2: edges leaving a reduction cell's inputs run at stride 2. */
  readonly stride: 1 | 2;
  readonly span: Span;
}

/** How a cell's output is formed. */
export interface CellOutput {
  /** The nodes concatenated along channels (one node: its value itself). */
  readonly nodes: readonly number[];
  /** A relu → 1×1 conv → batch norm back to C channels after the concat (ASAP's supplement). */
  readonly project: boolean;
  readonly span: Span;
}

/** The rule that turns the searched mixed ops into the final cell. */
export type Derivation =
  /** Keep every edge with its strongest op (ASAP, Algorithm 1 line 14). */
  | { readonly kind: "one_op_per_edge"; readonly span: Span }
  /**
   * Per node keep the k incoming edges whose strongest op (excluding `exclude`, e.g. `none`) has
   * the largest weight, each with that op (DARTS).
   */
  | { readonly kind: "top_k"; readonly k: number; readonly exclude: readonly string[]; readonly span: Span };

/** A cell type (normal, reduction or any named type). */
export interface CellType {
  readonly name: string;
  readonly inputs: readonly CellInput[];
  readonly nodes: readonly CellNode[];
  readonly edges: readonly Edge[];
  readonly output: CellOutput;
  readonly derive: Derivation;
  /** True when edges leaving the inputs run at stride 2 (the cell halves the spatial size). */
  readonly reduction: boolean;
  readonly span: Span;
}

/** One cell of the stacked network. */
export interface CellPlacement {
  /** Name of a cell type in `SpaceIR.cellTypes`. */
  readonly cellType: string;
  /** Channels C of this cell's nodes (doubled after each reduction when `channelDoubling`). */
  readonly channels: number;
}

/** The macro structure of the search network (the supernet). */
export interface Supernet {
  /** Initial channels C. */
  readonly channels: number;
  /** Stem: 3×3 conv from the image to `stemMultiplier`·C channels, then batch norm (DARTS). */
  readonly stemMultiplier: number;
  /** The resolved stack, first cell first. */
  readonly cells: readonly CellPlacement[];
  /** Indices into `cells` of the reduction cells. */
  readonly reductions: readonly number[];
  readonly channelDoubling: boolean;
  readonly span: Span;
}

/** Φ's temperature T as a function of the epoch (or step). */
export type TemperatureSchedule =
  /** T = t0 · beta^t (eq. 9). */
  | { readonly kind: "exponential"; readonly t0: number; readonly beta: number }
  /** Fixed T (DARTS is T = 1). */
  | { readonly kind: "constant"; readonly value: number }
  /**
   * Theorem 2 (eq. 7–8): T_t = η·L·ρ_t·sqrt(8/t · log(π² N t² / 3δ)), ρ_t = t / (t + log(1/(N ν))),
   * with a constant ν (the threshold policy's).
   */
  | {
    readonly kind: "pac";
    readonly eta: number;
    readonly lipschitz: number;
    readonly delta: number;
    readonly nu: number;
  };

/** Grace: α is not updated (nor pruned) during grace. */
export type Grace =
  /** While T ≥ tau (Algorithm 1 line 5). */
  | { readonly kind: "temperature"; readonly tau: number }
  /** For the first `epochs` epochs. */
  | { readonly kind: "epochs"; readonly epochs: number };

/** The pruning threshold θ. */
export type ThresholdPolicy =
  /** θ = c / N, N the number of candidates of the mixed op (section 4.1: c = 0.4). */
  | { readonly kind: "fixed"; readonly c: number }
  /** θ_t = ν · e^-t (eq. 5). */
  | { readonly kind: "pac"; readonly nu: number };

/** The s_t sparsity schedule of eq. 13 used by the pruning baselines of section 4.4. */
export interface SparsitySchedule {
  /** s_i: the initial fraction of pruned ops. */
  readonly initial: number;
  /** s_f: the final fraction of pruned ops. */
  readonly final: number;
  /** t_0: the epoch pruning starts at. */
  readonly start: number;
  /** Δt: epochs between prunes. */
  readonly interval: number;
  /** n: the number of prunes. */
  readonly steps: number;
  /** p ∈ {1, 3}. */
  readonly power: number;
}

export type Algorithm = "asap" | "darts" | "magnitude" | "accumulated_gradient";

/** SGD with momentum for the network weights w (DARTS' settings). */
export interface WeightOptimizer {
  readonly lr: number;
  /** The cosine schedule's floor. */
  readonly lrMin: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  /** Gradient-norm clip. */
  readonly gradClip: number;
}

/** Adam for the architecture weights α. */
export interface ArchOptimizer {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly weightDecay: number;
}

/** How the search runs. */
export interface SearchSettings {
  readonly algorithm: Algorithm;
  readonly temperature: TemperatureSchedule;
  readonly grace: Grace;
  readonly threshold: ThresholdPolicy;
  /** Only for `magnitude` and `accumulated_gradient`. */
  readonly sparsity: SparsitySchedule | null;
  /** Whether T and θ advance per epoch or per step. */
  readonly scheduleUnit: "epoch" | "step";
  readonly maxEpochs: number;
  readonly batchSize: number;
  /** Fraction of the training data used for w; the rest trains α. */
  readonly trainFraction: number;
  readonly weightOptimizer: WeightOptimizer;
  readonly archOptimizer: ArchOptimizer;
  readonly span: Span;
}

/** The learning-rate schedule of the evaluation training. */
export type LrSchedule =
  | { readonly kind: "cosine" }
  /** k power-cosine cycles whose amplitude decays by `decay` each cycle (the paper's training). */
  | { readonly kind: "cyclic"; readonly cycles: number; readonly decay: number };

/** How the found cell is stacked and trained (section 4.2, supplement 6.2.2). */
export interface EvaluateSettings {
  readonly cells: number;
  readonly channels: number;
  /** Fractions of the stack where the reduction cells sit are resolved into `reductions`. */
  readonly reductions: readonly number[];
  readonly auxiliaryWeight: number;
  readonly dropPath: number;
  /** Cutout length; 0 disables it. */
  readonly cutout: number;
  readonly labelSmoothing: number;
  /** AutoAugment's CIFAR-10 policy on the training images (runtime/data/autoaugment.ts). */
  readonly autoAugment: boolean;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lrSchedule: LrSchedule;
  readonly weightOptimizer: WeightOptimizer;
  readonly span: Span;
}

/** A compiled search space. */
export interface SpaceIR {
  readonly version: typeof IR_VERSION;
  readonly name: string;
  /** The file the space was compiled from. */
  readonly source: string;
  readonly operations: readonly Operation[];
  readonly cellTypes: readonly CellType[];
  readonly supernet: Supernet;
  readonly search: SearchSettings;
  readonly evaluate: EvaluateSettings;
  readonly span: Span;
}

/**
 * The steps of `op` at `stride`: the first spatial step takes the stride; identity at stride 2 is a factorized reduce.
 *
 * @param op An operation of the IR.
 * @param stride The stride of the edge it sits on.
 * @returns Its steps, each with the stride it runs at.
 * @example
 * ```ts
 * import { stepsAt } from "./ir.ts";
 * const span = { file: "x.space", line: 1, column: 1, offset: 0, length: 0 };
 * const skip = { name: "skip", steps: [{ kind: "identity" as const }], span };
 * const [step] = stepsAt(skip, 2);
 * if (step?.kind !== "factorized_reduce" || step.stride !== 2) throw new Error(JSON.stringify(step));
 * if (stepsAt(skip, 1)[0]?.kind !== "identity") throw new Error("identity stays at stride 1");
 * ```
 */
export function stepsAt(op: Operation, stride: 1 | 2): readonly StridedStep[] {
  let pending: 1 | 2 = stride;
  return op.steps.map((step): StridedStep => {
    if (step.kind === "relu" || step.kind === "batch_norm" || pending === 1) return { ...step, stride: 1 };
    pending = 1;
    if (step.kind === "identity") return { kind: "factorized_reduce", stride: 2 };
    return { ...step, stride: 2 };
  });
}

/**
 * The operation named `name`; throws when the IR is inconsistent (the checks rule that out).
 *
 * @param ir The compiled space.
 * @param name An operation's name.
 * @returns The operation with its lowered steps.
 * @throws Error When the space has no operation of that name.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { operationOf } from "./ir.ts";
 * const { ir } = compileSpace(`space tiny {
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: pool }
 *   cell reduction extends normal { reduction: true }
 * }`);
 * const pool = operationOf(ir!, "pool");
 * if (pool.steps[0]?.kind !== "max_pool") throw new Error(JSON.stringify(pool.steps));
 * ```
 */
export function operationOf(ir: SpaceIR, name: string): Operation {
  const op = ir.operations.find((o) => o.name === name);
  if (!op) throw new Error(`operation "${name}" is not in the IR of space "${ir.name}"`);
  return op;
}

/**
 * The cell type named `name`; throws when the IR is inconsistent (the checks rule that out).
 *
 * @param ir The compiled space.
 * @param name A cell type's name.
 * @returns The cell type with its inputs, nodes and edges.
 * @throws Error When the space has no cell type of that name.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { cellTypeOf } from "./ir.ts";
 * const { ir } = compileSpace(`space tiny {
 *   operation skip = identity
 *   cell normal { nodes: 2 candidates: skip }
 *   cell reduction extends normal { reduction: true }
 * }`);
 * const reduction = cellTypeOf(ir!, "reduction");
 * // Edges from the two inputs are the ones with stride 2.
 * if (!reduction.reduction || reduction.edges.filter((e) => e.stride === 2).length !== 4) {
 *   throw new Error(JSON.stringify(reduction.edges.map((e) => e.stride)));
 * }
 * ```
 */
export function cellTypeOf(ir: SpaceIR, name: string): CellType {
  const cell = ir.cellTypes.find((c) => c.name === name);
  if (!cell) throw new Error(`cell type "${name}" is not in the IR of space "${ir.name}"`);
  return cell;
}

/**
 * The cells of a found space (one candidate per edge, as `found.space` is written), or the first edge
 * that still has a choice.
 *
 * @param ir The compiled space.
 * @returns The cells as a genotype's, or the cell type and candidate count of the first open edge.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { fixedCells } from "./ir.ts";
 * const cells = (text: string) => `space s {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: ${text} }
 *   cell reduction extends normal { reduction: true }
 * }`;
 * const open = fixedCells(compileSpace(cells("skip, pool")).ir!);
 * if (!("open" in open) || open.open.candidates !== 2) throw new Error(JSON.stringify(open));
 * const fixed = fixedCells(compileSpace(cells("pool")).ir!);
 * if (!("cells" in fixed) || fixed.cells[0]?.edges[0]?.op !== "pool") throw new Error(JSON.stringify(fixed));
 * ```
 */
export function fixedCells(
  ir: SpaceIR,
): { readonly cells: GenotypeCell[] } | {
  readonly open: { readonly cellType: string; readonly candidates: number };
} {
  for (const cell of ir.cellTypes) {
    const edge = cell.edges.find((e) => e.candidates.length !== 1);
    if (edge) return { open: { cellType: cell.name, candidates: edge.candidates.length } };
  }
  return {
    cells: ir.cellTypes.map((cell) => ({
      cellType: cell.name,
      edges: cell.edges.map((e) => ({ from: e.from, to: e.to, op: e.candidates[0]! })),
    })),
  };
}

/**
 * The IR as JSON text (stable key order, as built).
 *
 * @param ir The compiled space.
 * @returns Indented JSON that {@linkcode parseIr} reads back.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { irToJson, parseIr } from "./ir.ts";
 * const { ir } = compileSpace(`space tiny {
 *   operation skip = identity
 *   cell normal { nodes: 2 candidates: skip }
 *   cell reduction extends normal { reduction: true }
 * }`);
 * const json = irToJson(ir!);
 * if (irToJson(parseIr(json)) !== json) throw new Error("the JSON does not round-trip");
 * ```
 */
export function irToJson(ir: SpaceIR): string {
  return JSON.stringify(ir, null, 2);
}

/**
 * Parses IR JSON; throws a plain Error naming the problem when the text is not IR of this version.
 *
 * @param text JSON as {@linkcode irToJson} writes it.
 * @returns The IR.
 * @throws Error When the text is not JSON, or not IR of {@linkcode IR_VERSION}.
 * @example
 * ```ts
 * import { parseIr } from "./ir.ts";
 * try {
 *   parseIr('{"name": "tiny"}');
 *   throw new Error("parseIr() should refuse JSON without a version");
 * } catch (error) {
 *   if (!(error as Error).message.includes('no "version" field')) throw error;
 * }
 * ```
 */
export function parseIr(text: string): SpaceIR {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || !("version" in value)) {
    throw new Error('not a space IR: no "version" field');
  }
  if (value.version !== IR_VERSION) {
    throw new Error(`space IR version ${String(value.version)} is not supported (expected ${IR_VERSION})`);
  }
  return value as SpaceIR;
}

/** The op chosen on one edge of a derived cell. */
export interface GenotypeEdge {
  readonly from: NodeRef;
  readonly to: number;
  readonly op: string;
}

/** A derived cell: the searched cell with one op per kept edge. */
export interface GenotypeCell {
  readonly cellType: string;
  readonly edges: readonly GenotypeEdge[];
}

/**
 * The found architecture as plain data (DARTS' `Genotype`), with what is needed to reproduce and
 * to expand it: the space's IR (its operations, cell inputs, outputs and evaluate settings).
 */
export interface Genotype {
  readonly version: 1;
  readonly space: SpaceIR;
  /** SHA-256 of the `.space` text, hex. */
  readonly spaceHash: string;
  readonly seed: number;
  readonly algorithm: Algorithm;
  readonly cells: readonly GenotypeCell[];
  /** Final α per cell type per edge (for the record and for the pictures). */
  readonly alpha: Readonly<Record<string, readonly (readonly number[])[]>>;
  readonly versions: Readonly<Record<string, string>>;
  /**
   * The cells as DARTS' codebases read them, `Genotype(normal=[…], normal_concat=[…], reduce=[…],
   * reduce_concat=[…])`, when they fit that form (darts_genotype.ts: formatDartsGenotype).
   */
  readonly darts?: string;
}

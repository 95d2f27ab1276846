/**
 * Shape and parameter inference on the IR, without tfjs: the channels and spatial size of every
 * cell input, node and output, and the parameter count of every op, of the supernet (DARTS
 * `cnn/model_search.py` Network) and of the evaluation network (DARTS `cnn/model.py`
 * NetworkCIFAR). The runtime builds the same networks; these counts are the reference its tests
 * compare with.
 *
 * @module
 */

import type { CellType, Edge, GenotypeCell, NodeRef, SpaceIR, Step } from "./ir.ts";
import { cellTypeOf, operationOf, stepsAt } from "./ir.ts";
import { AUXILIARY_HEAD, evaluationStack, type EvaluationStackOptions, wireStack } from "./stack.ts";

/** The input the networks are inferred for; defaults: a 32×32 RGB image, 10 classes (CIFAR-10). */
export interface InferOptions {
  /** Height and width of the (square) input image; default 32. */
  readonly inputSize?: number;
  /** Channels of the input image; default 3. */
  readonly inputChannels?: number;
  /** Classes of the classifier; default 10. */
  readonly classes?: number;
}

/**
 * How a cell input is brought to the cell's C channels and spatial size (DARTS' preprocess0/1).
 * `relu_conv_bn`: relu → 1×1 conv → batch norm; `factorized_reduce`: one FactorizedReduce per
 * halving of the spatial size (the first maps to C, any further one C → C).
 */
export type PreprocessKind = "relu_conv_bn" | "factorized_reduce";

/** One input of a placed cell. */
export interface InputShape {
  readonly name: string;
  /** Index of the cell whose output this is; -1 for the stem. */
  readonly source: number;
  readonly channelsIn: number;
  readonly sizeIn: number;
  readonly preprocess: PreprocessKind;
  /** Number of FactorizedReduce halvings (0 for `relu_conv_bn`). */
  readonly halvings: number;
  /** Channels and spatial size after preprocessing. */
  readonly channels: number;
  readonly size: number;
  readonly params: number;
}

/** One candidate op on one edge, at the edge's stride. */
export interface CandidateShape {
  readonly op: string;
  readonly params: number;
}

/** One edge of a placed cell. */
export interface EdgeShape {
  readonly from: NodeRef;
  readonly to: number;
  readonly stride: 1 | 2;
  readonly candidates: readonly CandidateShape[];
  /** Sum over the candidates. */
  readonly params: number;
}

/** An intermediate node of a placed cell. */
export interface NodeShape {
  readonly name: string;
  readonly channels: number;
  readonly size: number;
}

/** One placed cell: its inputs, nodes, edges and output. */
export interface CellShape {
  readonly index: number;
  readonly cellType: string;
  readonly reduction: boolean;
  /** C of this cell's nodes. */
  readonly channels: number;
  readonly inputs: readonly InputShape[];
  readonly nodes: readonly NodeShape[];
  readonly edges: readonly EdgeShape[];
  /** Channels and spatial size of the cell's output. */
  readonly outputChannels: number;
  readonly outputSize: number;
  /** Parameters of the relu → 1×1 conv → batch norm projection (0 without `project`). */
  readonly projectParams: number;
  /** Every parameter of the cell: preprocessing, edges, projection. */
  readonly params: number;
}

/** Per cell type: the mixed ops α is kept for. */
export interface CellTypeSummary {
  readonly name: string;
  /** How many cells of the stack have this type. */
  readonly placed: number;
  readonly edges: number;
  readonly candidatesPerEdge: readonly number[];
  /** Σ over edges of the number of candidates: the length of this type's α. */
  readonly archParams: number;
}

/** What {@linkcode summarize} infers about a space's supernet. */
export interface SpaceSummary {
  readonly space: string;
  readonly inputSize: number;
  readonly inputChannels: number;
  readonly classes: number;
  /** The cell types that are placed in the supernet, in declaration order. */
  readonly cellTypes: readonly string[];
  /** Edges (mixed ops) per cell, by cell type. */
  readonly edgesPerCell: Readonly<Record<string, number>>;
  /** Candidates of each edge, by cell type, in edge order. */
  readonly candidatesPerEdge: Readonly<Record<string, readonly number[]>>;
  /** Every weight of the supernet (stem, cells, classifier); α excluded. */
  readonly weightParams: number;
  /** Σ over cell types of Σ over edges of the candidates (α is shared by the cells of a type). */
  readonly archParams: number;
  readonly stemParams: number;
  readonly classifierParams: number;
  readonly cellTypeDetails: readonly CellTypeSummary[];
  readonly cells: readonly CellShape[];
}

/** Options of {@linkcode inferEvaluation}: overrides of the space's `evaluate` settings and the input. */
export interface EvaluationOptions extends InferOptions, EvaluationStackOptions {
  /** Whether the network has the auxiliary head; default `evaluate.auxiliaryWeight > 0`. */
  readonly auxiliary?: boolean;
}

/** DARTS' AuxiliaryHeadCIFAR, placed after a cell. */
export interface AuxiliaryShape {
  /** Index of the cell whose output feeds the head. */
  readonly after: number;
  readonly channelsIn: number;
  readonly sizeIn: number;
  /** Spatial size reaching the linear layer (DARTS assumes 8×8 in, hence 1×1 here). */
  readonly sizeOut: number;
  readonly params: number;
}

/** What {@linkcode inferEvaluation} infers about the evaluation network of a genotype. */
export interface EvaluationSummary {
  readonly space: string;
  readonly channels: number;
  readonly inputSize: number;
  readonly classes: number;
  readonly reductions: readonly number[];
  /** Parameters without the auxiliary head (what DARTS' `count_parameters_in_MB` counts). */
  readonly params: number;
  /** Parameters of the auxiliary head; 0 when there is none. */
  readonly auxiliaryParams: number;
  readonly paramsWithAuxiliary: number;
  readonly stemParams: number;
  readonly classifierParams: number;
  readonly auxiliary: AuxiliaryShape | null;
  readonly cells: readonly CellShape[];
}

/** Spatial size after n stride-2 steps (each a 3×3 conv with padding 1, or a 1×1 stride-2 conv). */
function halvings(size: number, n: number): number {
  for (let i = 0; i < n; i++) size = Math.ceil(size / 2);
  return size;
}

function batchNormParams(channels: number, affine: boolean): number {
  return affine ? 2 * channels : 0;
}

/** DARTS' FactorizedReduce(cIn → cOut): two 1×1 convs to cOut/2 each, then batch norm. */
function factorizedReduceParams(channelsIn: number, channelsOut: number, affine: boolean): number {
  return 2 * channelsIn * Math.floor(channelsOut / 2) + batchNormParams(channelsOut, affine);
}

/** DARTS' ReLUConvBN with a 1×1 conv (cIn → cOut). */
function reluConvBnParams(channelsIn: number, channelsOut: number, affine: boolean): number {
  return channelsIn * channelsOut + batchNormParams(channelsOut, affine);
}

/**
 * Parameters of one step at C channels.
 *
 * @param step A step, with its stride (only `factorized_reduce` depends on it).
 * @param channels C.
 * @param affineDefault Whether a batch norm whose `affine` is unset is affine (false in the supernet).
 * @returns The number of weights.
 * @example
 * ```ts
 * import { stepParams } from "./infer.ts";
 * // A 3×3 convolution in 4 groups at C = 16: 16·16·3·3 / 4 weights.
 * const n = stepParams({ kind: "conv", kernel: 3, dilation: 1, groups: 4 }, 16, false);
 * if (n !== 576) throw new Error(String(n));
 * ```
 */
export function stepParams(
  step: Step & { readonly stride?: 1 | 2 },
  channels: number,
  affineDefault: boolean,
): number {
  const c = channels;
  switch (step.kind) {
    case "conv":
      return (c * c * step.kernel * step.kernel) / step.groups;
    case "dw_conv":
      return c * step.kernel * step.kernel;
    case "conv_1x1":
      return c * c;
    case "batch_norm":
      return batchNormParams(c, step.affine ?? affineDefault);
    case "factorized_reduce":
      return step.stride === 2
        ? factorizedReduceParams(c, c, affineDefault)
        : reluConvBnParams(c, c, affineDefault);
    case "relu":
    case "max_pool":
    case "avg_pool":
    case "identity":
    case "zero":
      return 0;
  }
}

/**
 * Parameters of the operation `name` at C channels and `stride` (see {@linkcode stepsAt}).
 *
 * @param ir The space.
 * @param name An operation of the space.
 * @param channels C.
 * @param stride The stride of the edge it sits on.
 * @param affineDefault Whether batch norms without an explicit `affine` are affine.
 * @returns The number of weights.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { operationParams } from "./infer.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * // sep_conv is two (relu, 3×3 depthwise, 1×1, BN) blocks: 2 · (16·3·3 + 16·16) weights at C = 16.
 * const n = operationParams(ir!, "conv", 16, 1, false);
 * if (n !== 800) throw new Error(String(n));
 * // identity at stride 2 is a FactorizedReduce: two 1×1 convs 16 → 8.
 * if (operationParams(ir!, "skip", 16, 2, false) !== 256) throw new Error("256 expected");
 * ```
 */
export function operationParams(
  ir: SpaceIR,
  name: string,
  channels: number,
  stride: 1 | 2,
  affineDefault: boolean,
): number {
  return stepsAt(operationOf(ir, name), stride).reduce(
    (sum, s) => sum + stepParams(s, channels, affineDefault),
    0,
  );
}

/** Output of the stem or of a placed cell, as the next cells see it. */
interface Produced {
  readonly channels: number;
  readonly size: number;
}

/** One placed cell to infer, with the op (or ops) on each of its edges. */
interface Placed {
  readonly cellType: CellType;
  readonly channels: number;
  readonly edges: readonly {
    readonly from: NodeRef;
    readonly to: number;
    readonly stride: 1 | 2;
    readonly ops: readonly string[];
  }[];
}

interface Stack {
  readonly stemParams: number;
  readonly cells: CellShape[];
  readonly outputs: Produced[];
}

/** Infers a stack of cells on top of a DARTS stem (3×3 conv to stemMultiplier·C, affine batch norm). */
function inferStack(
  ir: SpaceIR,
  placed: readonly Placed[],
  channels: number,
  affine: boolean,
  inputSize: number,
  inputChannels: number,
): Stack {
  const stemChannels = ir.supernet.stemMultiplier * channels;
  // DARTS: nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr) (always affine).
  const stemParams = inputChannels * stemChannels * 9 + batchNormParams(stemChannels, true);
  const wired = wireStack(placed, stemChannels);
  const sizeAt = (state: number) => halvings(inputSize, wired.scales[state]!);
  const outputs: Produced[] = [];
  const cells: CellShape[] = [];
  placed.forEach((p, index) => {
    const c = p.channels;
    const cell = wired.cells[index]!;
    const target = halvings(inputSize, cell.scale);
    const inputs = p.cellType.inputs.map((input, i): InputShape => {
      const { state, channelsIn, halvings: h } = cell.inputs[i]!;
      const params = h === 0
        ? reluConvBnParams(channelsIn, c, affine)
        : factorizedReduceParams(channelsIn, c, affine) + (h - 1) * factorizedReduceParams(c, c, affine);
      return {
        name: input.name,
        source: state - 1,
        channelsIn,
        sizeIn: sizeAt(state),
        preprocess: h === 0 ? "relu_conv_bn" : "factorized_reduce",
        halvings: h,
        channels: c,
        size: target,
        params,
      };
    });
    const nodeSize = halvings(target, p.cellType.reduction ? 1 : 0);
    const nodes = p.cellType.nodes.map((n): NodeShape => ({ name: n.name, channels: c, size: nodeSize }));
    const edges = p.edges.map((e): EdgeShape => {
      const candidates = e.ops.map((op) => ({ op, params: operationParams(ir, op, c, e.stride, affine) }));
      return {
        from: e.from,
        to: e.to,
        stride: e.stride,
        candidates,
        params: candidates.reduce((sum, cand) => sum + cand.params, 0),
      };
    });
    const projectParams = p.cellType.output.project
      ? reluConvBnParams(p.cellType.output.nodes.length * c, c, affine)
      : 0;
    const { outputChannels } = cell;
    const params = inputs.reduce((s, i) => s + i.params, 0) + edges.reduce((s, e) => s + e.params, 0) +
      projectParams;
    cells.push({
      index,
      cellType: p.cellType.name,
      reduction: p.cellType.reduction,
      channels: c,
      inputs,
      nodes,
      edges,
      outputChannels,
      outputSize: nodeSize,
      projectParams,
      params,
    });
    outputs.push({ channels: outputChannels, size: nodeSize });
  });
  return { stemParams, cells, outputs };
}

function classifierParams(channels: number, classes: number): number {
  return channels * classes + classes;
}

/**
 * Infers the supernet of a space: every placed cell's shapes and parameters, the weight count
 * and the number of architecture parameters α.
 *
 * @param ir The compiled space.
 * @param options The input image and classes (default 32×32×3, 10 classes).
 * @returns The summary; for the DARTS space (C = 16, 8 cells) `weightParams` is 1,930,618 and
 *   `archParams` 224, as DARTS' reference search network.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { summarize } from "./infer.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const summary = summarize(ir!, { inputSize: 8, inputChannels: 3, classes: 10 });
 * // α: 2 cell types × 5 edges × 2 candidates.
 * if (summary.archParams !== 20 || summary.edgesPerCell.normal !== 5) throw new Error(JSON.stringify(summary));
 * if (!(summary.weightParams > summary.stemParams + summary.classifierParams)) throw new Error("cells have weights");
 * ```
 */
export function summarize(ir: SpaceIR, options: InferOptions = {}): SpaceSummary {
  const inputSize = options.inputSize ?? 32;
  const inputChannels = options.inputChannels ?? 3;
  const classes = options.classes ?? 10;
  const placed = ir.supernet.cells.map((placement): Placed => {
    const cellType = cellTypeOf(ir, placement.cellType);
    return {
      cellType,
      channels: placement.channels,
      edges: cellType.edges.map((e) => ({ from: e.from, to: e.to, stride: e.stride, ops: e.candidates })),
    };
  });
  // DARTS' search network: batch norms inside the cells are not affine.
  const stack = inferStack(ir, placed, ir.supernet.channels, false, inputSize, inputChannels);
  const last = stack.outputs.at(-1) ??
    { channels: ir.supernet.stemMultiplier * ir.supernet.channels, size: 0 };
  const classifier = classifierParams(last.channels, classes);
  const used = new Set(ir.supernet.cells.map((p) => p.cellType));
  const cellTypeDetails = ir.cellTypes.filter((t) => used.has(t.name)).map((t): CellTypeSummary => {
    const candidatesPerEdge = t.edges.map((e: Edge) => e.candidates.length);
    return {
      name: t.name,
      placed: ir.supernet.cells.filter((p) => p.cellType === t.name).length,
      edges: t.edges.length,
      candidatesPerEdge,
      archParams: candidatesPerEdge.reduce((a, b) => a + b, 0),
    };
  });
  return {
    space: ir.name,
    inputSize,
    inputChannels,
    classes,
    cellTypes: cellTypeDetails.map((t) => t.name),
    edgesPerCell: Object.fromEntries(cellTypeDetails.map((t) => [t.name, t.edges])),
    candidatesPerEdge: Object.fromEntries(cellTypeDetails.map((t) => [t.name, t.candidatesPerEdge])),
    weightParams: stack.stemParams + stack.cells.reduce((s, c) => s + c.params, 0) + classifier,
    archParams: cellTypeDetails.reduce((s, t) => s + t.archParams, 0),
    stemParams: stack.stemParams,
    classifierParams: classifier,
    cellTypeDetails,
    cells: stack.cells,
  };
}

function sameRef(a: NodeRef, b: NodeRef): boolean {
  return a.kind === b.kind && a.index === b.index;
}

/**
 * DARTS' AuxiliaryHeadCIFAR: relu, 5×5 avg pool stride 3, 1×1 conv C → 128, BN, relu,
 * 2×2 conv 128 → 768, BN, relu, linear 768 → classes.
 */
function auxiliaryHead(after: number, input: Produced, classes: number): AuxiliaryShape {
  const pooled = Math.floor((input.size - AUXILIARY_HEAD.pool) / AUXILIARY_HEAD.poolStride) + 1;
  const { hidden, features } = AUXILIARY_HEAD;
  const params = input.channels * hidden + batchNormParams(hidden, true) + hidden * features * 4 +
    batchNormParams(features, true) + classifierParams(features, classes);
  return { after, channelsIn: input.channels, sizeIn: input.size, sizeOut: Math.max(0, pooled - 1), params };
}

/**
 * Infers the evaluation network of a genotype (DARTS `cnn/model.py` NetworkCIFAR): stem, the
 * stacked cells with each kept edge's op, affine batch norms, channel doubling, the auxiliary head
 * after the last reduction and the classifier.
 *
 * @param ir The compiled space the genotype was found in.
 * @param cells The derived cells, one per cell type used in the evaluation stack.
 * @param options Overrides of `evaluate` (channels, cells, reductions, auxiliary) and the input.
 * @returns Per-cell shapes and the parameter counts with and without the auxiliary head; DARTS_V2
 *   at C = 36, 20 cells has 3,349,342 parameters without the head, as DARTS reports.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { inferEvaluation } from "./infer.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * // Every node keeps its edge from the input "prev" with a sep_conv.
 * const prev = { kind: "input" as const, index: 1 };
 * const edges = [{ from: prev, to: 0, op: "conv" }, { from: prev, to: 1, op: "conv" }];
 * const cells = [{ cellType: "normal", edges }, { cellType: "reduction", edges }];
 * const small = inferEvaluation(ir!, cells, { channels: 4, cells: 3, inputSize: 8 });
 * const wide = inferEvaluation(ir!, cells, { channels: 8, cells: 3, inputSize: 8 });
 * if (small.cells.length !== 3 || !(wide.params > small.params)) throw new Error(JSON.stringify(small));
 * if (small.paramsWithAuxiliary !== small.params + small.auxiliaryParams) throw new Error("head count");
 * ```
 */
export function inferEvaluation(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
  options: EvaluationOptions = {},
): EvaluationSummary {
  const inputSize = options.inputSize ?? 32;
  const inputChannels = options.inputChannels ?? 3;
  const classes = options.classes ?? 10;
  const withAuxiliary = options.auxiliary ?? ir.evaluate.auxiliaryWeight > 0;
  const { channels, reductions, positions, auxiliaryAfter: after } = evaluationStack(ir, options);
  const placed = positions.map(({ cellType, channels: c }, i): Placed => {
    const name = cellType.name;
    const genotype = cells.find((g) => g.cellType === name);
    if (!genotype) throw new Error(`the genotype has no cell of type "${name}" (evaluation cell ${i})`);
    const edges = genotype.edges.map((g) => {
      // A kept edge runs at the stride of the searched edge it came from.
      const searched = cellType.edges.find((e) => sameRef(e.from, g.from) && e.to === g.to);
      const stride: 1 | 2 = searched?.stride ?? (cellType.reduction && g.from.kind === "input" ? 2 : 1);
      return { from: g.from, to: g.to, stride, ops: [g.op] };
    });
    return { cellType, channels: c, edges };
  });
  // DARTS' evaluation network: every batch norm is affine.
  const stack = inferStack(ir, placed, channels, true, inputSize, inputChannels);
  const last = stack.outputs.at(-1) ?? { channels: ir.supernet.stemMultiplier * channels, size: inputSize };
  const classifier = classifierParams(last.channels, classes);
  const params = stack.stemParams + stack.cells.reduce((s, cell) => s + cell.params, 0) + classifier;
  const auxInput = stack.outputs[after];
  const auxiliary = withAuxiliary && auxInput ? auxiliaryHead(after, auxInput, classes) : null;
  const auxiliaryParams = auxiliary?.params ?? 0;
  return {
    space: ir.name,
    channels,
    inputSize,
    classes,
    reductions,
    params,
    auxiliaryParams,
    paramsWithAuxiliary: params + auxiliaryParams,
    stemParams: stack.stemParams,
    classifierParams: classifier,
    auxiliary,
    cells: stack.cells,
  };
}

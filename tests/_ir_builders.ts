/**
 * Hand-built `SpaceIR` values for tests that must not depend on the `.space` parser: the DARTS
 * search space exactly as the DARTS reference search network builds it (quark0/darts
 * `cnn/model_search.py`), the same without `none`, the paper's ASAP space, and tiny spaces.
 * Also the DARTS_V1 / DARTS_V2 genotypes (quark0/darts `cnn/genotypes.py`) as `GenotypeCell`s.
 *
 * @module
 */

import type {
  CellOutput,
  CellType,
  Derivation,
  Edge,
  EvaluateSettings,
  GenotypeCell,
  GenotypeEdge,
  NodeRef,
  Operation,
  SearchSettings,
  SpaceIR,
  Span,
  Step,
} from "../dsl/ir.ts";
import { IR_VERSION } from "../dsl/ir.ts";

/** The span every builder element carries (the builders have no source text). */
export const BUILDER_SPAN: Span = { file: "builder", line: 1, column: 1, offset: 0, length: 0 };
const span = BUILDER_SPAN;

const sepConv = (kernel: number): Step[] => [
  { kind: "relu" },
  { kind: "dw_conv", kernel, dilation: 1 },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
  { kind: "relu" },
  { kind: "dw_conv", kernel, dilation: 1 },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
];
const dilConv = (kernel: number, dilation: number): Step[] => [
  { kind: "relu" },
  { kind: "dw_conv", kernel, dilation },
  { kind: "conv_1x1" },
  { kind: "batch_norm" },
];

/** DARTS' PRIMITIVES, in DARTS' order, lowered to steps. */
function dartsOperations(withNone: boolean): Operation[] {
  const ops: Operation[] = [
    { name: "none", steps: [{ kind: "zero" }], span },
    { name: "max_pool_3x3", steps: [{ kind: "max_pool", kernel: 3 }], span },
    { name: "avg_pool_3x3", steps: [{ kind: "avg_pool", kernel: 3 }], span },
    { name: "skip_connect", steps: [{ kind: "identity" }], span },
    { name: "sep_conv_3x3", steps: sepConv(3), span },
    { name: "sep_conv_5x5", steps: sepConv(5), span },
    { name: "dil_conv_3x3", steps: dilConv(3, 2), span },
    { name: "dil_conv_5x5", steps: dilConv(5, 2), span },
  ];
  return withNone ? ops : ops.filter((op) => op.name !== "none");
}

/** The edges `all_previous` builds: for node j, every input then every earlier node. */
export function allPreviousEdges(
  inputs: number,
  nodes: number,
  candidates: readonly string[],
  reduction: boolean,
): Edge[] {
  const edges: Edge[] = [];
  for (let to = 0; to < nodes; to++) {
    for (let i = 0; i < inputs; i++) {
      edges.push({ from: { kind: "input", index: i }, to, candidates, stride: reduction ? 2 : 1, span });
    }
    for (let j = 0; j < to; j++) {
      edges.push({ from: { kind: "node", index: j }, to, candidates, stride: 1, span });
    }
  }
  return edges;
}

interface CellSpec {
  readonly name: string;
  readonly inputs?: readonly string[];
  readonly nodes: number | readonly string[];
  readonly candidates: readonly string[];
  readonly reduction: boolean;
  readonly derive: Derivation;
  readonly output?: Omit<CellOutput, "span">;
  readonly edges?: readonly Edge[];
}

function cell(spec: CellSpec): CellType {
  const inputs = spec.inputs ?? ["prev_prev", "prev"];
  const nodeNames = typeof spec.nodes === "number"
    ? Array.from({ length: spec.nodes }, (_, i) => `n${i}`)
    : [...spec.nodes];
  return {
    name: spec.name,
    inputs: inputs.map((name) => ({ name, span })),
    nodes: nodeNames.map((name) => ({ name, span })),
    edges: spec.edges ?? allPreviousEdges(inputs.length, nodeNames.length, spec.candidates, spec.reduction),
    output: { ...(spec.output ?? { nodes: nodeNames.map((_, i) => i), project: false }), span },
    derive: spec.derive,
    reduction: spec.reduction,
    span,
  };
}

/** DARTS' reductions: `layers // 3` and `2 * layers // 3`, deduplicated. */
function dartsReductions(cells: number): number[] {
  return [...new Set([Math.floor(cells / 3), Math.floor((2 * cells) / 3)])];
}

function placements(cells: number, reductions: readonly number[], channels: number, doubling = true) {
  let c = channels;
  return Array.from({ length: cells }, (_, i) => {
    const reduction = reductions.includes(i);
    if (reduction && doubling) c *= 2;
    return { cellType: reduction ? "reduction" : "normal", channels: c };
  });
}

const sgd = { lr: 0.025, lrMin: 0.001, momentum: 0.9, nesterov: false, weightDecay: 3e-4, gradClip: 5 };
const adam = { lr: 1e-3, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3 };

/** Search settings with the grammar's defaults for `algorithm`. */
export function searchSettings(algorithm: SearchSettings["algorithm"]): SearchSettings {
  const asap = algorithm === "asap";
  const baseline = algorithm === "magnitude" || algorithm === "accumulated_gradient";
  return {
    algorithm,
    temperature: asap ? { kind: "exponential", t0: 1.6, beta: 0.95 } : { kind: "constant", value: 1 },
    grace: asap ? { kind: "temperature", tau: 1 } : { kind: "epochs", epochs: 0 },
    threshold: { kind: "fixed", c: 0.4 },
    sparsity: baseline ? { initial: 0, final: 0.8, start: 20, interval: 1, steps: 30, power: 3 } : null,
    scheduleUnit: "epoch",
    maxEpochs: 50,
    batchSize: 64,
    trainFraction: 0.5,
    weightOptimizer: sgd,
    archOptimizer: adam,
    span,
  };
}

/**
 * The grammar's evaluate defaults (supplement 6.2.2): 20 cells, C = 36, reductions at 6 and 13;
 * label smoothing and AutoAugment off (the grammar's 0.1 and true), so training tests stay small.
 */
export const EVALUATE_DEFAULTS: EvaluateSettings = {
  cells: 20,
  channels: 36,
  reductions: dartsReductions(20),
  auxiliaryWeight: 0.4,
  dropPath: 0.2,
  cutout: 16,
  labelSmoothing: 0,
  autoAugment: false,
  epochs: 1500,
  batchSize: 128,
  lrSchedule: { kind: "cyclic", cycles: 5, decay: 0.5 },
  weightOptimizer: { ...sgd, lrMin: 0, nesterov: true },
  span,
};

function dartsLike(name: string, withNone: boolean, algorithm: SearchSettings["algorithm"]): SpaceIR {
  const operations = dartsOperations(withNone);
  const candidates = operations.map((op) => op.name);
  const derive: Derivation = withNone
    ? { kind: "top_k", k: 2, exclude: ["none"], span }
    : { kind: "top_k", k: 2, exclude: [], span };
  const reductions = dartsReductions(8);
  return {
    version: IR_VERSION,
    name,
    source: `${name}.space`,
    operations,
    cellTypes: [
      cell({ name: "normal", nodes: 4, candidates, reduction: false, derive }),
      cell({ name: "reduction", nodes: 4, candidates, reduction: true, derive }),
    ],
    supernet: {
      channels: 16,
      stemMultiplier: 3,
      cells: placements(8, reductions, 16),
      reductions,
      channelDoubling: true,
      span,
    },
    search: searchSettings(algorithm),
    evaluate: EVALUATE_DEFAULTS,
    span,
  };
}

/** The DARTS search space: 8 ops incl. `none`, C = 16, 8 cells, reductions at 2 and 5, 4 nodes, top-2. */
export function dartsSpace(): SpaceIR {
  return dartsLike("darts", true, "darts");
}

/** The DARTS search space without `none` (7 ops), top-2 with nothing excluded. */
export function dartsSpaceWithoutNone(): SpaceIR {
  return dartsLike("darts_no_none", false, "darts");
}

/** The paper's ASAP space: the 7 ops of section 4.1, concat projected back to C (supplement 6.2.1). */
export function asapSpace(): SpaceIR {
  const base = dartsLike("asap_cifar", false, "asap");
  const derive: Derivation = { kind: "one_op_per_edge", span };
  const output = { nodes: [0, 1, 2, 3], project: true };
  const candidates = base.operations.map((op) => op.name);
  return {
    ...base,
    cellTypes: [
      cell({ name: "normal", nodes: 4, candidates, reduction: false, derive, output }),
      cell({ name: "reduction", nodes: 4, candidates, reduction: true, derive, output }),
    ],
  };
}

/** A tiny space: 3 ops, 2 nodes, 3 cells (C = 4) with one reduction at index 1. */
export function tinySpace(): SpaceIR {
  const operations: Operation[] = [
    { name: "skip", steps: [{ kind: "identity" }], span },
    { name: "pool", steps: [{ kind: "avg_pool", kernel: 3 }], span },
    {
      name: "conv",
      steps: [{ kind: "relu" }, { kind: "conv", kernel: 3, dilation: 1, groups: 1 }, { kind: "batch_norm" }],
      span,
    },
  ];
  const candidates = operations.map((op) => op.name);
  const derive: Derivation = { kind: "one_op_per_edge", span };
  return {
    version: IR_VERSION,
    name: "tiny",
    source: "tiny.space",
    operations,
    cellTypes: [
      cell({ name: "normal", nodes: 2, candidates, reduction: false, derive }),
      cell({ name: "reduction", nodes: 2, candidates, reduction: true, derive }),
    ],
    supernet: {
      channels: 4,
      stemMultiplier: 3,
      cells: placements(3, [1], 4),
      reductions: [1],
      channelDoubling: true,
      span,
    },
    search: searchSettings("asap"),
    evaluate: { ...EVALUATE_DEFAULTS, cells: 3, channels: 4, reductions: [1] },
    span,
  };
}

const input = (index: number): NodeRef => ({ kind: "input", index });
const node = (index: number): NodeRef => ({ kind: "node", index });

/**
 * A space unlike DARTS: one input per cell, named nodes, explicit edges with their own candidate
 * lists, the last node as the output, a grouped convolution with an affine batch norm, a custom
 * cell-type name, magnitude pruning, no reductions, no channel doubling.
 */
export function chainSpace(): SpaceIR {
  const operations: Operation[] = [
    { name: "skip", steps: [{ kind: "identity" }], span },
    { name: "sep3", steps: sepConv(3), span },
    {
      name: "grouped",
      steps: [
        { kind: "relu" },
        { kind: "conv", kernel: 3, dilation: 1, groups: 4 },
        { kind: "batch_norm", affine: true },
      ],
      span,
    },
    { name: "dil", steps: dilConv(3, 4), span },
    {
      name: "rcb",
      steps: [{ kind: "relu" }, { kind: "conv", kernel: 5, dilation: 1, groups: 1 }, { kind: "batch_norm" }],
      span,
    },
    {
      name: "mixed",
      steps: [{ kind: "conv_1x1" }, { kind: "max_pool", kernel: 5 }, { kind: "batch_norm", affine: false }],
      span,
    },
    { name: "fr", steps: [{ kind: "factorized_reduce" }], span },
  ];
  const edges: Edge[] = [
    { from: input(0), to: 0, candidates: ["skip", "sep3", "grouped"], stride: 1, span },
    { from: node(0), to: 1, candidates: ["dil", "rcb"], stride: 1, span },
    { from: input(0), to: 2, candidates: ["mixed"], stride: 1, span },
    { from: node(1), to: 2, candidates: ["skip", "fr"], stride: 1, span },
  ];
  const block = cell({
    name: "block",
    inputs: ["x"],
    nodes: ["a", "b", "c"],
    candidates: [],
    reduction: false,
    derive: { kind: "top_k", k: 1, exclude: ["skip", "dil"], span },
    output: { nodes: [2], project: false },
    edges,
  });
  return {
    version: IR_VERSION,
    name: "chain",
    source: "chain.space",
    operations,
    cellTypes: [block],
    supernet: {
      channels: 8,
      stemMultiplier: 1,
      cells: Array.from({ length: 3 }, () => ({ cellType: "block", channels: 8 })),
      reductions: [],
      channelDoubling: false,
      span,
    },
    search: {
      ...searchSettings("magnitude"),
      temperature: { kind: "pac", eta: 0.5, lipschitz: 2, delta: 0.1, nu: 0.2 },
      threshold: { kind: "pac", nu: 0.2 },
      scheduleUnit: "step",
    },
    evaluate: { ...EVALUATE_DEFAULTS, cells: 4, channels: 8, reductions: [], lrSchedule: { kind: "cosine" } },
    span,
  };
}

/** Turns DARTS genotype pairs (two `(op, index)` per node; 0, 1 are inputs, 2.. nodes) into edges. */
export function fromDartsPairs(pairs: readonly (readonly [string, number])[]): GenotypeEdge[] {
  return pairs.map(([op, index], i) => ({
    from: index < 2 ? input(index) : node(index - 2),
    to: Math.floor(i / 2),
    op,
  }));
}

/** DARTS_V1 (first order) from quark0/darts `cnn/genotypes.py`. */
export const DARTS_V1: readonly GenotypeCell[] = [
  {
    cellType: "normal",
    edges: fromDartsPairs([
      ["sep_conv_3x3", 1],
      ["sep_conv_3x3", 0],
      ["skip_connect", 0],
      ["sep_conv_3x3", 1],
      ["skip_connect", 0],
      ["sep_conv_3x3", 1],
      ["sep_conv_3x3", 0],
      ["skip_connect", 2],
    ]),
  },
  {
    cellType: "reduction",
    edges: fromDartsPairs([
      ["max_pool_3x3", 0],
      ["max_pool_3x3", 1],
      ["skip_connect", 2],
      ["max_pool_3x3", 0],
      ["max_pool_3x3", 0],
      ["skip_connect", 2],
      ["skip_connect", 2],
      ["avg_pool_3x3", 0],
    ]),
  },
];

/** DARTS_V2 (second order), the genotype behind DARTS' 3.3M-parameter CIFAR-10 result. */
export const DARTS_V2: readonly GenotypeCell[] = [
  {
    cellType: "normal",
    edges: fromDartsPairs([
      ["sep_conv_3x3", 0],
      ["sep_conv_3x3", 1],
      ["sep_conv_3x3", 0],
      ["sep_conv_3x3", 1],
      ["sep_conv_3x3", 1],
      ["skip_connect", 0],
      ["skip_connect", 0],
      ["dil_conv_3x3", 2],
    ]),
  },
  {
    cellType: "reduction",
    edges: fromDartsPairs([
      ["max_pool_3x3", 0],
      ["max_pool_3x3", 1],
      ["skip_connect", 2],
      ["max_pool_3x3", 1],
      ["max_pool_3x3", 0],
      ["skip_connect", 2],
      ["skip_connect", 2],
      ["max_pool_3x3", 1],
    ]),
  },
];

/** A tiny genotype of tinySpace (ops skip, pool, conv; 2 nodes). */
export const TINY_GENOTYPE: readonly GenotypeCell[] = [
  {
    cellType: "normal",
    edges: [
      { from: input(0), to: 0, op: "conv" },
      { from: input(1), to: 1, op: "skip" },
      { from: node(0), to: 1, op: "pool" },
    ],
  },
  {
    cellType: "reduction",
    edges: [
      { from: input(0), to: 0, op: "skip" },
      { from: input(1), to: 0, op: "pool" },
      { from: node(0), to: 1, op: "conv" },
    ],
  },
];

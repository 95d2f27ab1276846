/**
 * How much memory a search (or an evaluation training) needs at its batch size, from the inferred
 * shapes alone (no tfjs): the weights, their gradients and the optimizer's slots, and the activations
 * that backpropagation keeps per sample — every op's intermediates, or with recomputation only each
 * mixed op's (each cell's) inputs and output plus the one being recomputed. The search and evaluate
 * commands compare it with the backend's memory before they build anything.
 *
 * @module
 */
import type { CellShape, EvaluationSummary, SpaceSummary } from "./infer.ts";
import { operationOf, type SpaceIR, stepsAt } from "./ir.ts";

/** Bytes of a float32. */
const FLOAT = 4;

/**
 * Feature maps per op step that the activation count charges: the step's output and what its gradient
 * saves (the input of a convolution, the statistics of a batch norm).
 */
const MAPS_PER_STEP = 2;

/**
 * How one backend's peak memory relates to the count: each factor multiplies the feature maps counted
 * per sample (under 1 where less is kept than the count's two maps per op step, over 1 where a recomputed
 * cell's gradients and temporaries add to its maps), and `baseBytes` is what does not grow with the batch
 * besides the weights and their slots. Plain data: the runtime picks the table of
 * its backend (runtime/cli/_memory.ts); this module knows no backend.
 */
export interface MemoryFactors {
  /** The supernet with every activation kept. */
  readonly kept: number;
  /** The evaluation network with every activation kept. */
  readonly evaluationKept: number;
  /** The supernet with each mixed op recomputed: what it keeps per mixed op. */
  readonly recomputed: number;
  /** The cell being recomputed in an evaluation network recomputed per cell. */
  readonly cell: number;
  /** The backend's memory before any tensor exists, and whatever else a step holds at any batch. */
  readonly baseBytes: number;
}

/**
 * The factors per backend, from bytes-per-sample slopes between two batches at 32×32 (which cancel what
 * does not grow with the batch), measured with `deno run -A tests/memory_peaks.ts` (one process per
 * configuration; the measured peaks are in tests/memory_test.ts, which checks the estimates against them).
 *
 * Both measured 2026-12-05 on the 2-core machine kind (tfjs 4.22.0, Deno 2.9.6), each rounded up so that
 * every measured point lies at or under its estimate. The wasm factors of 2026-12-01 (5.0, 5.0, 2.25,
 * 6.4) came before the backpropagation that frees as it goes (runtime/kernels/lean_backprop.ts): DARTS'
 * supernet then took 1,312 MB of heap a sample, now 88.
 *
 * `wasm`: the wasm heap (it never shrinks, so its size after two training steps is their peak; it grows
 * ahead of need in steps, which lifts small batches):
 * - `kept`: the supernets with every activation kept: quickstart's 5.8 MB per sample between batch 16
 *   and 128 (count 12.5 MB: 0.47), DARTS' 88 MB between batch 2 and 8 (count 265 MB: 0.33); the larger;
 * - `evaluationKept`: DARTS_V2 (C = 36, 20 cells, auxiliary head) keeping everything, 109 MB per sample
 *   between batch 4 and 16 (count 185 MB: 0.59), 0.82 to cover batch 4's heap;
 * - `recomputed`: DARTS' supernet recomputing each mixed op, 10.5 MB per sample between batch 8 and 32
 *   (count 28 MB: 0.37);
 * - `cell`: DARTS_V2 recomputing each cell, 21.5 MB per sample between batch 4 and 16, less its kept cell
 *   outputs at `recomputed`'s rate (count 7.5 MB), over the widest cell's count (17 MB): 1.09, 1.65 to
 *   cover batch 4's heap;
 * - `baseBytes`: the empty heap, 16 MiB.
 * The cpu and webgpu backends run the same tfjs engine and keep what wasm keeps: they use these.
 *
 * `native`: the process's peak RSS (ATen's tensors, the freed memory glibc keeps for the next step, V8,
 * libtorch):
 * - `kept`: the supernets with every activation kept: quickstart's 6.6 MB per sample between batch 16
 *   and 128 (count 12.5 MB: 0.53), DARTS' 92 MB between batch 2 and 8 (count 265 MB: 0.35); the larger;
 *   native frees each mixed op's output as its node is summed (runtime/kernels/lean_backprop.ts);
 * - `evaluationKept`: DARTS_V2 (C = 36, 20 cells, auxiliary head) keeping everything, 118 MB per sample
 *   between batch 8 and 32 (count 185 MB: 0.64);
 * - `recomputed`: DARTS' supernet recomputing each mixed op, 9.5 MB per sample between batch 8 and 32
 *   (count 28 MB: 0.33);
 * - `cell`: DARTS_V2 recomputing each cell, 20.2 MB per sample between batch 8 and 32, less its kept cell
 *   outputs at `recomputed`'s rate (count 7.5 MB), over the widest cell's count (17 MB): 1.04;
 * - `baseBytes`: the largest intercept of those lines less the weights and slots: 248 MB before the
 *   network is built (Deno, V8, libtorch, the shim), up to 412 MB (DARTS' supernet: its 35,000 kernels
 *   a step leave tfjs bookkeeping and freed heap behind at any batch).
 */
export const PEAK_FACTORS = {
  wasm: { kept: 0.48, evaluationKept: 0.82, recomputed: 0.4, cell: 1.65, baseBytes: 16 * 2 ** 20 },
  native: { kept: 0.55, evaluationKept: 0.7, recomputed: 0.36, cell: 1.05, baseBytes: 420e6 },
} as const satisfies Readonly<Record<string, MemoryFactors>>;

/** What a training step needs: fixed bytes, bytes per sample, and the total at a batch size. */
export interface MemoryEstimate {
  readonly batchSize: number;
  /** Weights w and α. */
  readonly weightBytes: number;
  /** One gradient per weight, and the optimizers' slots (SGD momentum per w, Adam's two per α). */
  readonly gradientBytes: number;
  readonly optimizerBytes: number;
  /** What does not grow with the batch: the above and the backend's empty heap. */
  readonly fixedBytes: number;
  /** Peak bytes per sample (activations, their gradients, the input): every op's kept, or recomputed. */
  readonly perSample: { readonly kept: number; readonly recomputed: number };
  /** The largest single tensor per sample (a backend may cap one buffer, as WebGPU does). */
  readonly largestTensorPerSample: number;
  /** Everything at `batchSize`: weights, gradients, slots, the input batch and the activations. */
  readonly total: { readonly kept: number; readonly recomputed: number };
}

/** Feature-map tensors of one placed cell, in floats per sample. */
function cellFloats(ir: SpaceIR, cell: CellShape): { kept: number; recomputed: number; largest: number } {
  const nodeMap = cell.channels * cell.outputSize * cell.outputSize;
  // Preprocessing: relu, conv, batch norm per input (a factorized reduce keeps a few more).
  const pre = cell.inputs.reduce(
    (n, i) => n + (i.preprocess === "relu_conv_bn" ? 3 : 5) * i.channels * i.size ** 2,
    0,
  );
  const inputMap = Math.max(nodeMap, ...cell.inputs.map((i) => i.channels * i.size ** 2));
  let ops = 0;
  let widestEdge = 0;
  for (const edge of cell.edges) {
    const before = edge.from.kind === "input" ? inputMap : nodeMap;
    let floats = 0;
    for (const candidate of edge.candidates) {
      const steps = stepsAt(operationOf(ir, candidate.op), edge.stride);
      let map = before;
      for (const step of steps) {
        if (step.stride === 2) map = nodeMap;
        floats += MAPS_PER_STEP * map;
      }
      floats += nodeMap; // Φ_o · o(x)
    }
    ops += floats;
    widestEdge = Math.max(widestEdge, floats);
  }
  const outputs = (cell.nodes.length + 1) * nodeMap + cell.outputChannels * cell.outputSize ** 2 +
    (cell.projectParams > 0 ? 3 * nodeMap : 0);
  return {
    kept: pre + ops + outputs,
    // Each mixed op keeps its output; the one being recomputed holds all of its intermediates.
    recomputed: pre + cell.edges.length * nodeMap + outputs + widestEdge,
    largest: Math.max(inputMap, cell.outputChannels * cell.outputSize ** 2),
  };
}

/** What recomputation keeps: each mixed op's output (the search) or each cell's (the evaluation). */
type RecomputeUnit = "mixedOp" | "cell";

function estimate(
  ir: SpaceIR,
  cells: readonly CellShape[],
  input: { size: number; channels: number },
  counts: { weights: number; arch: number; stem: number },
  batchSize: number,
  unit: RecomputeUnit,
  factors: MemoryFactors,
): MemoryEstimate {
  const stemMap = counts.stem * input.size ** 2;
  let kept = 2 * stemMap;
  let recomputed = 2 * stemMap;
  let largest = stemMap;
  let widestCell = 0;
  for (const cell of cells) {
    const f = cellFloats(ir, cell);
    kept += f.kept;
    largest = Math.max(largest, f.largest);
    widestCell = Math.max(widestCell, f.kept);
    recomputed += unit === "mixedOp" ? f.recomputed : cell.outputChannels * cell.outputSize ** 2;
  }
  // A recomputed cell holds all of its intermediates while its gradient is taken, as a kept network does.
  const live = unit === "cell" ? widestCell : 0;
  const weightBytes = FLOAT * (counts.weights + counts.arch);
  const gradientBytes = weightBytes;
  const optimizerBytes = FLOAT * (counts.weights + 2 * counts.arch);
  const fixed = factors.baseBytes + weightBytes + gradientBytes + optimizerBytes;
  const perSample = {
    kept: Math.ceil(
      FLOAT *
        (kept * (unit === "cell" ? factors.evaluationKept : factors.kept) + input.channels * input.size ** 2),
    ),
    recomputed: Math.ceil(
      FLOAT *
        (recomputed * factors.recomputed + live * factors.cell + input.channels * input.size ** 2),
    ),
  };
  return {
    batchSize,
    weightBytes,
    gradientBytes,
    optimizerBytes,
    fixedBytes: fixed,
    perSample,
    largestTensorPerSample: FLOAT * largest,
    total: {
      kept: fixed + batchSize * perSample.kept,
      recomputed: fixed + batchSize * perSample.recomputed,
    },
  };
}

/**
 * The memory of a search step of a space's supernet.
 *
 * @param ir the compiled space
 * @param summary its {@linkcode summarize} (which sets the input size and channels)
 * @param batchSize the batch (default: the space's `batch_size`)
 * @param factors the backend's {@linkcode MemoryFactors} (default: wasm's, the JS backends')
 * @returns the estimate
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { summarize } from "./infer.ts";
 * import { PEAK_FACTORS, searchMemory } from "./memory.ts";
 * const { ir } = compileSpace(`space s {
 *   operation skip = identity
 *   cell normal { nodes: 2 candidates: skip }
 *   cell reduction extends normal { reduction: true }
 * }`);
 * const m = searchMemory(ir!, summarize(ir!), 8);
 * if (!(m.total.recomputed <= m.total.kept)) throw new Error("recomputation keeps less");
 * const native = searchMemory(ir!, summarize(ir!), 8, PEAK_FACTORS.native);
 * if (!(native.fixedBytes > m.fixedBytes)) throw new Error("the native process holds more before a step");
 * ```
 */
export function searchMemory(
  ir: SpaceIR,
  summary: SpaceSummary,
  batchSize = ir.search.batchSize,
  factors: MemoryFactors = PEAK_FACTORS.wasm,
): MemoryEstimate {
  return estimate(
    ir,
    summary.cells,
    { size: summary.inputSize, channels: summary.inputChannels },
    {
      weights: summary.weightParams,
      arch: summary.archParams,
      stem: ir.supernet.stemMultiplier * ir.supernet.channels,
    },
    batchSize,
    "mixedOp",
    factors,
  );
}

/**
 * The memory of a training step of an evaluation network.
 *
 * @param ir the space the cells were found in
 * @param summary its {@linkcode inferEvaluation}
 * @param input the image's size and channels
 * @param batchSize the batch
 * @param factors the backend's {@linkcode MemoryFactors} (default: wasm's, the JS backends')
 * @returns the estimate (recomputation is per cell: `recomputed` is an upper bound of it)
 */
export function evaluationMemory(
  ir: SpaceIR,
  summary: EvaluationSummary,
  input: { readonly size: number; readonly channels: number },
  batchSize: number,
  factors: MemoryFactors = PEAK_FACTORS.wasm,
): MemoryEstimate {
  return estimate(
    ir,
    summary.cells,
    input,
    { weights: summary.paramsWithAuxiliary, arch: 0, stem: ir.supernet.stemMultiplier * summary.channels },
    batchSize,
    "cell",
    factors,
  );
}

/**
 * Bytes for people: `1.3 GiB`, `420 MiB`.
 *
 * @param bytes a size
 * @returns it in GiB (one decimal) from 1 GiB up, else in MiB
 */
export function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  if (gib >= 1000) return `${gib.toExponential(1)} GiB`;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MiB`;
}

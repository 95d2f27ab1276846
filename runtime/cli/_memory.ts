/**
 * The memory check of the search and evaluate commands: the run's estimate (dsl/memory.ts) against
 * the chosen backend's memory (kernels/memory_limit.ts), before anything is allocated. The estimate uses
 * the backend's own factors: native's process holds less per sample than the tfjs engine's heap.
 *
 * @module
 */
import type { EvaluationSummary } from "../../dsl/infer.ts";
import { summarize } from "../../dsl/infer.ts";
import type { SpaceIR } from "../../dsl/ir.ts";
import { evaluationMemory, type MemoryFactors, PEAK_FACTORS, searchMemory } from "../../dsl/memory.ts";
import type { BackendName } from "../kernels/backend.ts";
import { fitsMemory, memoryLimit } from "../kernels/memory_limit.ts";

/**
 * The estimate's factors for a backend: native's measured on native; every other backend runs the tfjs
 * engine's own backpropagation over JS-managed tensors, as wasm does, and takes wasm's.
 *
 * @param backend the backend the run uses
 * @returns its factors (dsl/memory.ts)
 */
export function memoryFactors(backend: BackendName): MemoryFactors {
  return backend === "native" ? PEAK_FACTORS.native : PEAK_FACTORS.wasm;
}

/** The verdict: the run fits (recomputing its activations when that is what fits), or a message. */
export type MemoryVerdict = { fits: true; recompute: boolean } | { fits: false; message: string };

/** The images a run trains on. */
export interface InputShape {
  readonly size: number;
  readonly channels: number;
  readonly classes: number;
}

/**
 * Whether a search of `ir` at `batchSize` fits `backend`.
 *
 * @param ir the compiled space
 * @param input the images
 * @param batchSize the batch
 * @param backend the backend
 * @returns the verdict
 */
export async function searchFits(
  ir: SpaceIR,
  input: InputShape,
  batchSize: number,
  backend: BackendName,
): Promise<MemoryVerdict> {
  const summary = summarize(ir, {
    inputSize: input.size,
    inputChannels: input.channels,
    classes: input.classes,
  });
  return fitsMemory(
    searchMemory(ir, summary, batchSize, memoryFactors(backend)),
    await memoryLimit(backend),
    {
      run: "the search",
      shrink: "channels, cells, nodes or candidates in the space",
    },
  );
}

/**
 * Whether training the evaluation network at `batchSize` fits `backend`.
 *
 * @param ir the space the cells were found in
 * @param summary the evaluation network's inferred shapes
 * @param input the images
 * @param batchSize the batch
 * @param backend the backend
 * @returns the verdict
 */
export async function evaluationFits(
  ir: SpaceIR,
  summary: EvaluationSummary,
  input: InputShape,
  batchSize: number,
  backend: BackendName,
): Promise<MemoryVerdict> {
  return fitsMemory(
    evaluationMemory(ir, summary, input, batchSize, memoryFactors(backend)),
    await memoryLimit(backend),
    {
      run: "the evaluation training",
      shrink: "--channels or --cells",
    },
  );
}

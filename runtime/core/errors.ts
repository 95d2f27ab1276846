/**
 * Errors the runtime raises for the CLIs and library users to handle.
 *
 * @module
 */

/**
 * A loss became NaN or infinite: the run stops (its last checkpoint stays as it was).
 * `epoch` and `step` are 0-based; `phase` names the loss ("train", "val" or "training").
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { NonFiniteLossError } from "./errors.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { SearchRun } from "../loops/search.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * // Images of NaN make the loss NaN at the first step.
 * const broken = { ...data, images: data.images.map(() => NaN) };
 * const run = new SearchRun(ir!, { data: broken, batchSize: 4 });
 * try {
 *   await run.runStep();
 *   throw new Error("a NaN loss should stop the run");
 * } catch (error) {
 *   if (!(error instanceof NonFiniteLossError) || error.phase !== "train" || error.step !== 0) throw error;
 * } finally {
 *   run.dispose();
 * }
 * ```
 */
export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly phase: string,
    readonly loss: number,
  ) {
    // epoch and step are 0-based positions; the message counts from 1, as the terminal does.
    super(`the ${phase} loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}`);
    this.name = "NonFiniteLossError";
  }
}

/**
 * Errors the runtime raises for the CLIs and library users to handle.
 *
 * @module
 */

/**
 * A loss became NaN or infinite: the run stops (its last checkpoint stays as it was).
 * `epoch` and `step` are 0-based; `phase` names the loss ("train", "val" or "training").
 */
export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly phase: string,
    readonly loss: number,
  ) {
    super(`the ${phase} loss became ${loss} at epoch ${epoch}, step ${step}`);
    this.name = "NonFiniteLossError";
  }
}

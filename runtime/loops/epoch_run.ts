/**
 * What a search and a training run share: the position (epoch, step), an epoch as a loop of steps
 * that stops cleanly between two steps when the run's signal is aborted, the per-step and
 * per-epoch callbacks, and the tensors of a checkpoint by name.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { SlotValues } from "./optim.ts";

/** The callbacks and the stop signal of a run. */
export interface RunHooks {
  /** Called after each step (progress bars). */
  readonly onStep?: (epoch: number, step: number, steps: number) => void;
  /** Stops the run after the current step; it can be checkpointed and resumed. */
  readonly signal?: AbortSignal;
}

/** A run of epochs of steps, each epoch ending with its telemetry `T`. */
export abstract class EpochRun<T extends { readonly epoch: number }> {
  /** The next epoch to run (0-based), and the next step within it. */
  epoch = 0;
  step = 0;
  /** One record per finished epoch. */
  readonly telemetry: T[] = [];
  readonly #hooks: RunHooks;

  constructor(hooks: RunHooks) {
    this.#hooks = hooks;
  }

  /** Steps in one epoch. */
  abstract get stepsPerEpoch(): number;
  /** True when the run is over. */
  abstract get done(): boolean;
  /** One step. */
  abstract runStep(): Promise<void>;
  /** The error thrown when the signal stops the run between two steps. */
  protected abstract interrupted(): Error;
  /** The finished epoch's telemetry; the epoch's running sums start again after it. */
  protected abstract finishEpoch(): Promise<T>;
  /** Whether the epoch ends before its last step (a search whose edges have one op left each). */
  protected get endsEarly(): boolean {
    return false;
  }

  /** Runs the rest of the current epoch and returns its telemetry. */
  async runEpoch(): Promise<T> {
    const steps = this.stepsPerEpoch;
    while (this.step < steps && !this.endsEarly) {
      if (this.#hooks.signal?.aborted) throw this.interrupted();
      await this.runStep();
      this.#hooks.onStep?.(this.epoch, this.step, steps);
    }
    const telemetry = await this.finishEpoch();
    this.telemetry.push(telemetry);
    this.epoch += 1;
    this.step = 0;
    return telemetry;
  }

  /** Runs epochs until the run is done, calling `onEpoch` after each. */
  protected async runEpochs(onEpoch?: (telemetry: T) => void | Promise<void>): Promise<void> {
    while (!this.done) {
      const telemetry = await this.runEpoch();
      await onEpoch?.(telemetry);
    }
  }

  /** Restores the position and the telemetry of a checkpoint (one written before epochs counted from 1, too). */
  protected restorePosition(
    cp: { readonly epoch: number; readonly step: number; readonly telemetry: readonly T[] },
  ) {
    this.telemetry.splice(0, this.telemetry.length, ...countedFromOne(cp.telemetry));
    this.epoch = cp.epoch;
    this.step = cp.step;
  }
}

/**
 * Reads variables into plain data, by the names given (asynchronously: works on every backend).
 *
 * @param named The variables by name.
 * @returns Their shapes and values by the same names.
 */
export async function readTensors(named: Readonly<Record<string, tf.Variable>>): Promise<SlotValues> {
  const out: SlotValues = {};
  for (const [name, v] of Object.entries(named)) {
    out[name] = { shape: v.shape, values: (await v.data()) as Float32Array };
  }
  return out;
}

/**
 * Assigns saved values to variables by name.
 *
 * @param named The variables by name.
 * @param values Saved values by the same names (more are ignored).
 * @throws {Error} When a variable has no saved value or the saved shape differs.
 */
export function assignTensors(named: Readonly<Record<string, tf.Variable>>, values: SlotValues): void {
  for (const [name, v] of Object.entries(named)) {
    const saved = values[name];
    if (!saved) throw new Error(`checkpoint has no tensor "${name}": it belongs to another network`);
    if (saved.shape.join("x") !== v.shape.join("x")) {
      throw new Error(
        `checkpoint tensor "${name}" has shape [${saved.shape}], the network's is [${v.shape}]`,
      );
    }
    tf.tidy(() => v.assign(tf.tensor(saved.values, [...saved.shape])));
  }
}

/**
 * Telemetry with epochs counted from 1, as the paper, the terminal, telemetry.jsonl, the dashboard and
 * checkpoints' names count them: records written before 2026-12-05 counted from 0, and a first record of
 * epoch 0 marks such a list, whose epochs (and those of its pruning events) are moved up by one.
 *
 * @param telemetry One record per finished epoch, in order.
 * @returns The same records counted from 1 (the same array when they already are).
 * @example
 * ```ts
 * import { countedFromOne } from "./epoch_run.ts";
 * const old = [{ epoch: 0, pruned: [{ epoch: 0 }] }, { epoch: 1, pruned: [] }];
 * if (countedFromOne(old).map((t) => t.epoch).join() !== "1,2") throw new Error("not counted from 1");
 * ```
 */
export function countedFromOne<T extends { readonly epoch: number }>(telemetry: readonly T[]): T[] {
  if (telemetry[0]?.epoch !== 0) return [...telemetry];
  return telemetry.map((t) => {
    const pruned = (t as { pruned?: unknown }).pruned;
    return {
      ...t,
      epoch: t.epoch + 1,
      ...(Array.isArray(pruned)
        ? { pruned: pruned.map((p: { epoch: number }) => ({ ...p, epoch: p.epoch + 1 })) }
        : {}),
    };
  });
}

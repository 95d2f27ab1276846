/**
 * Training the evaluation network from scratch (section 4.2, supplement 6.2.2; DARTS
 * `cnn/train.py`): SGD with Nesterov momentum, weight decay and gradient-norm clipping, the
 * space's learning-rate schedule (cosine, or the paper's cyclic power-cosine), the auxiliary loss,
 * label smoothing, cutout and a linearly ramped drop-path, and a test-set evaluation after every
 * epoch. Every setting comes from the space's `evaluate` block unless overridden.
 *
 * @example
 * ```ts ignore
 * import { train } from "./train.ts";
 * const result = await train(ir, genotype.cells, { data, test, epochs: 10, onEpoch: (t) => console.log(t) });
 * ```
 *
 * @module
 */
import { tf } from "../deps.ts";
import { NonFiniteLossError } from "../core/errors.ts";
import type { GenotypeCell, LrSchedule, SpaceIR, WeightOptimizer } from "../../dsl/ir.ts";
import { auxiliaryHeadMismatch, evaluationStack } from "../../dsl/stack.ts";
import { EvaluationNetwork } from "../nets/evaluation_network.ts";
import { clipScale, Sgd, type SlotValues } from "./optim.ts";
import { cosineLr, cyclicLr } from "./schedules.ts";
import { Rng, type RngState } from "../core/rng.ts";
import { type Dataset, datasetSize } from "../data/datasets.ts";
import { channelStats, makeBatch, type Standardization } from "../data/augment.ts";
import { loadWeights, saveWeights } from "../nets/weights_io.ts";
import { assignTensors, EpochRun, readTensors, type RunHooks } from "./epoch_run.ts";

/** What one epoch of training did, as plain data (one line of a telemetry file). */
export interface TrainTelemetry {
  /** The epoch, counted from 1. */
  readonly epoch: number;
  /** The learning rate of this epoch. */
  readonly lr: number;
  /** The drop-path probability of this epoch (the ramp p·epoch/epochs). */
  readonly dropPath: number;
  readonly steps: number;
  /** Mean training loss per image: cross-entropy (smoothed) plus the weighted auxiliary loss. */
  readonly trainLoss: number;
  /** Accuracy of the main classifier on the augmented training batches. */
  readonly trainAccuracy: number;
  /** Mean cross-entropy on the test set (no augmentation, inference-mode batch norm, no drop-path). */
  readonly testLoss: number;
  readonly testAccuracy: number;
  /** Wall time of the epoch's training steps and its test evaluation. */
  readonly epochMs: number;
  /**
   * Wall time of the training steps alone (each from its batch's augmentation to its weight update):
   * steps × batch ÷ this is the training throughput that `deno task bench --eval` compares with.
   */
  readonly trainMs: number;
  /**
   * Of `trainMs`, the time spent building the batches (gathering, cropping, flipping, AutoAugment,
   * standardising, cutout) before each step's first kernel: what data costs the step, since nothing
   * overlaps it. Absent in epochs checkpointed by older versions.
   */
  readonly batchMs?: number;
  /** Images per training step (the batch). */
  readonly batchSize: number;
  /** tfjs memory after the epoch. */
  readonly tfBytes: number;
  readonly tfTensors: number;
}

/** Augmentations of the training batches besides cutout. */
export interface TrainAugment {
  /** Zero padding before the random crop; default 4 (DARTS). 0 disables the crop. */
  readonly pad?: number;
  /** Random horizontal flips; default true (DARTS). */
  readonly flip?: boolean;
}

/** How to train; everything but the data defaults to the space's `evaluate` settings. */
export interface TrainOptions extends RunHooks {
  /** The training images. */
  readonly data: Dataset;
  /** The images evaluated after each epoch. */
  readonly test: Dataset;
  readonly seed?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  /** Recompute activations in the backward pass (default: when they would take over 1 GiB). */
  readonly recompute?: boolean;
  /** Initial channels C. */
  readonly channels?: number;
  /** Cells in the stack (the reductions move to floor(cells/3), floor(2·cells/3)). */
  readonly cells?: number;
  /** Caps the steps of an epoch (quick runs, tests). */
  readonly stepsPerEpoch?: number;
  /** Whether to build and train the auxiliary head; default `auxiliaryWeight > 0`. */
  readonly auxiliary?: boolean;
  readonly auxiliaryWeight?: number;
  /** The final drop-path probability p (the ramp reaches p·(epochs−1)/epochs in the last epoch). */
  readonly dropPath?: number;
  /** Cutout side; 0 disables it. */
  readonly cutout?: number;
  readonly labelSmoothing?: number;
  /** AutoAugment's CIFAR-10 policy (default: the evaluate block's `auto_augment`). */
  readonly autoAugment?: boolean;
  readonly lrSchedule?: LrSchedule;
  readonly weightOptimizer?: Partial<WeightOptimizer>;
  readonly augment?: TrainAugment;
  /** Images per test batch (default: the training batch size). */
  readonly testBatchSize?: number;
  /** Called after each epoch with its telemetry; a checkpoint may be taken inside. */
  readonly onEpoch?: (telemetry: TrainTelemetry, run: TrainRun) => void | Promise<void>;
}

/** The resolved settings of a run, as plain data. */
export interface TrainSettings {
  readonly epochs: number;
  readonly batchSize: number;
  readonly channels: number;
  readonly cells: number;
  readonly auxiliary: boolean;
  readonly auxiliaryWeight: number;
  readonly dropPath: number;
  readonly cutout: number;
  readonly labelSmoothing: number;
  readonly autoAugment: boolean;
  readonly lrSchedule: LrSchedule;
  readonly weightOptimizer: WeightOptimizer;
  readonly pad: number;
  readonly flip: boolean;
  readonly testBatchSize: number;
}

/** A training run's complete state as plain data: restoring it continues the run exactly. */
export interface TrainCheckpoint {
  readonly version: 1;
  readonly seed: number;
  /** The next epoch to run and the next step within it. */
  readonly epoch: number;
  readonly step: number;
  /** Weights and batch-norm statistics by name without the network's prefix. */
  readonly tensors: SlotValues;
  /** The SGD momentum buffers, keyed like `tensors` plus `#momentum`. */
  readonly sgd: SlotValues;
  readonly rng: RngState;
  readonly order: readonly number[];
  readonly telemetry: readonly TrainTelemetry[];
  readonly epochProgress: EpochProgress;
}

/** The running sums of the epoch in progress. */
interface EpochProgress {
  readonly loss: number;
  readonly correct: number;
  readonly seen: number;
  readonly steps: number;
  readonly ms: number;
  readonly batchMs: number;
}

const emptyProgress: EpochProgress = { loss: 0, correct: 0, seen: 0, steps: 0, ms: 0, batchMs: 0 };

/** What {@linkcode train} returns. */
export interface TrainResult {
  readonly telemetry: readonly TrainTelemetry[];
  /** The last epoch's test accuracy. */
  readonly testAccuracy: number;
  /** Trainable parameters without the auxiliary head. */
  readonly parameters: number;
}

/**
 * The run was stopped by its signal after a completed step.
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { TrainInterrupted, TrainRun } from "./train.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * const test = syntheticDataset({ n: 8, height: 8, width: 8, channels: 3, classes: 4, seed: 2 });
 * // prev_prev → n0 by max pool, prev → n1 by identity, in both cell types.
 * const edges = [
 *   { from: { kind: "input" as const, index: 0 }, to: 0, op: "pool" },
 *   { from: { kind: "input" as const, index: 1 }, to: 1, op: "skip" },
 * ];
 * const cells = [{ cellType: "normal", edges }, { cellType: "reduction", edges }];
 * // A small stack for 8×8 images (DARTS' auxiliary head needs 32×32).
 * const small = { channels: 4, cells: 3, auxiliary: false, batchSize: 4 };
 * const stop = new AbortController();
 * stop.abort(); // e.g. Ctrl-C before the first step
 * const run = new TrainRun(ir!, cells, { ...small, data, test, signal: stop.signal });
 * try {
 *   await run.runEpoch();
 *   throw new Error("the aborted signal should stop the epoch");
 * } catch (error) {
 *   if (!(error instanceof TrainInterrupted) || error.epoch !== 0 || error.step !== 0) throw error;
 * } finally {
 *   run.dispose();
 * }
 * ```
 */
export class TrainInterrupted extends Error {
  constructor(readonly epoch: number, readonly step: number) {
    super(`training interrupted at epoch ${epoch + 1}, before step ${step + 1}`); // 0-based fields, counted from 1
    this.name = "TrainInterrupted";
  }
}

/** Resolves the run's settings from the space's `evaluate` block and the overrides. */
function resolveSettings(ir: SpaceIR, options: TrainOptions): TrainSettings {
  const e = ir.evaluate;
  const auxiliaryWeight = options.auxiliaryWeight ?? e.auxiliaryWeight;
  const batchSize = options.batchSize ?? e.batchSize;
  const settings: TrainSettings = {
    epochs: options.epochs ?? e.epochs,
    batchSize,
    channels: options.channels ?? e.channels,
    cells: options.cells ?? e.cells,
    auxiliary: options.auxiliary ?? auxiliaryWeight > 0,
    auxiliaryWeight,
    dropPath: options.dropPath ?? e.dropPath,
    cutout: options.cutout ?? e.cutout,
    labelSmoothing: options.labelSmoothing ?? e.labelSmoothing,
    // A genotype saved before `auto_augment` existed has none: off, as it was trained then.
    autoAugment: options.autoAugment ?? e.autoAugment ?? false,
    lrSchedule: options.lrSchedule ?? e.lrSchedule,
    weightOptimizer: { ...e.weightOptimizer, ...options.weightOptimizer },
    // DARTS: transforms.RandomCrop(32, padding=4), RandomHorizontalFlip.
    pad: options.augment?.pad ?? 4,
    flip: options.augment?.flip ?? true,
    testBatchSize: options.testBatchSize ?? batchSize,
  };
  if (!(settings.dropPath >= 0 && settings.dropPath < 1)) {
    throw new RangeError(`drop_path must be in [0, 1), got ${settings.dropPath}`);
  }
  if (!Number.isInteger(settings.epochs) || settings.epochs < 1) {
    throw new RangeError(`epochs must be a positive integer, got ${settings.epochs}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }
  return settings;
}

/**
 * The learning rate of `epoch` under a schedule (stepped once per epoch, as DARTS).
 *
 * @param schedule `cosine` or the paper's `cyclic` power-cosine cycles.
 * @param optimizer Its `lr` (peak) and `lrMin` (floor).
 * @param epoch The 0-based epoch.
 * @param epochs The number of epochs.
 * @returns The learning rate.
 * @example
 * ```ts
 * import { lrAt } from "./train.ts";
 * const sgd = { lr: 0.025, lrMin: 0, momentum: 0.9, nesterov: true, weightDecay: 3e-4, gradClip: 5 };
 * lrAt({ kind: "cosine" }, sgd, 0, 600); // 0.025
 * ```
 */
export function lrAt(
  schedule: LrSchedule,
  optimizer: WeightOptimizer,
  epoch: number,
  epochs: number,
): number {
  return schedule.kind === "cosine"
    ? cosineLr(optimizer.lr, optimizer.lrMin, epoch, epochs)
    : cyclicLr(optimizer.lr, optimizer.lrMin, epoch, epochs, schedule.cycles, schedule.decay);
}

/**
 * Loss and accuracy of a network on a dataset: no augmentation, batch norms in inference mode,
 * no drop-path, no auxiliary head.
 *
 * @param net The network.
 * @param dataset The images to evaluate.
 * @param options `batchSize` and the training set's `standardize` statistics.
 * @returns Mean cross-entropy and accuracy over every image.
 */
export async function evaluateNetwork(
  net: EvaluationNetwork,
  dataset: Dataset,
  options: { readonly batchSize: number; readonly standardize: Standardization },
): Promise<{ loss: number; accuracy: number }> {
  const n = datasetSize(dataset);
  const rng = new Rng(0); // no augmentation draws from it
  let loss = 0;
  let correct = 0;
  for (let from = 0; from < n; from += options.batchSize) {
    const indices = Array.from({ length: Math.min(options.batchSize, n - from) }, (_, i) => from + i);
    const batch = makeBatch(dataset, indices, { standardize: options.standardize }, rng);
    const [sum, hits] = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [...batch.shape]);
      const y = tf.tensor1d(Int32Array.from(batch.y), "int32");
      const { logits } = net.forward(x, false);
      const ce = tf.losses.softmaxCrossEntropy(
        tf.oneHot(y, dataset.classes),
        logits,
        undefined,
        0,
        tf.Reduction.SUM,
      );
      return [ce, tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), "float32"))];
    });
    const [l, c] = await Promise.all([sum!.data(), hits!.data()]);
    tf.dispose([sum!, hits!]);
    loss += l[0]!;
    correct += c[0]!;
  }
  return { loss: n ? loss / n : NaN, accuracy: n ? correct / n : NaN };
}

let runs = 0;

/**
 * Whether a training run recomputes its cells' activations in the backward pass when not told: when
 * keeping them would not fit. `units` is batch · pixels · C · cells · edges per cell, a rough measure
 * dominated by the first stage. Native memory has no heap ceiling: 20 bytes per unit against a quarter
 * of the machine's memory (4 GiB where it cannot be read) — measured, the DARTS_V2 network (C = 36,
 * 20 cells) at batch 32 (3.5 GiB by this count) peaks at 4.4 GB RSS keeping everything, and recomputing
 * costs it 40–75 % more time per step. The JS backends keep the old rule, 64 bytes per unit against
 * 1 GiB (wasm's heap is 4 GiB in all).
 */
function recomputeByDefault(units: number): boolean {
  if (tf.getBackend() !== "native") return units * 64 > 2 ** 30;
  let budget = 4 * 2 ** 30;
  try {
    budget = Deno.systemMemoryInfo().total / 4;
  } catch { /* --allow-sys=systemMemoryInfo not granted */ }
  return units * 20 > budget;
}

/**
 * A training run in progress: owns the network, the optimizer, the generator and the position.
 * Step it yourself or let {@linkcode TrainRun.run} run it to the end; {@linkcode TrainRun.dispose}
 * frees its tensors.
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { TrainRun } from "./train.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * const test = syntheticDataset({ n: 8, height: 8, width: 8, channels: 3, classes: 4, seed: 2 });
 * // prev_prev → n0 by max pool, prev → n1 by identity, in both cell types.
 * const edges = [
 *   { from: { kind: "input" as const, index: 0 }, to: 0, op: "pool" },
 *   { from: { kind: "input" as const, index: 1 }, to: 1, op: "skip" },
 * ];
 * const cells = [{ cellType: "normal", edges }, { cellType: "reduction", edges }];
 * // A small stack for 8×8 images (DARTS' auxiliary head needs 32×32).
 * const small = { channels: 4, cells: 3, auxiliary: false, batchSize: 4 };
 * const run = new TrainRun(ir!, cells, { ...small, data, test, epochs: 1, stepsPerEpoch: 1 });
 * try {
 *   await run.runStep();
 *   const checkpoint = await run.checkpoint(); // plain data: resumes at epoch 0, step 1
 *   if (checkpoint.step !== 1 || run.done) throw new Error(`at step ${checkpoint.step}`);
 *   const { accuracy } = await run.evaluate();
 *   if (!(accuracy >= 0 && accuracy <= 1)) throw new Error(String(accuracy));
 * } finally {
 *   run.dispose();
 * }
 * ```
 */
export class TrainRun extends EpochRun<TrainTelemetry> {
  readonly ir: SpaceIR;
  readonly net: EvaluationNetwork;
  readonly seed: number;
  readonly settings: TrainSettings;
  /** The per-channel statistics of the training images, applied to every batch. */
  readonly standardize: Standardization;
  readonly #options: TrainOptions;
  readonly #sgd: Sgd;
  #rng: Rng;
  readonly #order: number[];
  #progress: EpochProgress = emptyProgress;

  /**
   * @param ir The compiled space the cells were found in.
   * @param cells The derived cells (a genotype's `cells`).
   * @param options Data, seed and overrides.
   * @throws {RangeError} When a setting is out of range or the batch is larger than the training set.
   */
  constructor(ir: SpaceIR, cells: readonly GenotypeCell[], options: TrainOptions) {
    super(options);
    this.ir = ir;
    this.#options = options;
    this.seed = options.seed ?? 0;
    this.settings = resolveSettings(ir, options);
    if (options.test.classes !== options.data.classes || options.test.channels !== options.data.channels) {
      throw new RangeError(
        `the test set (${options.test.name}: ${options.test.channels} channels, ${options.test.classes} classes) ` +
          `does not match the training set (${options.data.name}: ${options.data.channels} channels, ` +
          `${options.data.classes} classes)`,
      );
    }
    const n = datasetSize(options.data);
    if (this.settings.batchSize > n) {
      throw new RangeError(
        `batch size ${this.settings.batchSize} is larger than the training set (${n} images)`,
      );
    }
    if (this.settings.auxiliary) {
      const stack = evaluationStack(ir, { channels: this.settings.channels, cells: this.settings.cells });
      const mismatch = auxiliaryHeadMismatch(stack, options.data.height);
      if (mismatch) throw new RangeError(mismatch);
    }
    this.#rng = new Rng(this.seed);
    const init = new Rng(this.seed ^ 0x5eed);
    this.net = new EvaluationNetwork(ir, cells, {
      inputChannels: options.data.channels,
      classes: options.data.classes,
      channels: this.settings.channels,
      cells: this.settings.cells,
      auxiliary: this.settings.auxiliary,
      nextSeed: () => init.int(2 ** 31 - 1),
      name: `train${runs++}`,
    });
    const { height, width } = options.data;
    const edges = Math.max(...cells.map((c) => c.edges.length));
    this.net.recompute = options.recompute ??
      recomputeByDefault(
        this.settings.batchSize * height * width * this.settings.channels *
          this.settings.cells * edges,
      );
    this.#sgd = new Sgd(this.settings.weightOptimizer);
    this.standardize = channelStats(options.data);
    this.#order = Array.from({ length: n }, (_, i) => i);
  }

  /** Steps in one epoch. */
  get stepsPerEpoch(): number {
    const full = Math.max(1, Math.floor(datasetSize(this.#options.data) / this.settings.batchSize));
    return Math.max(1, Math.min(full, this.#options.stepsPerEpoch ?? full));
  }

  /** The learning rate of the current epoch. */
  get lr(): number {
    return lrAt(this.settings.lrSchedule, this.settings.weightOptimizer, this.epoch, this.settings.epochs);
  }

  /** The drop-path probability of the current epoch: p·epoch/epochs (DARTS' linear ramp). */
  get dropPathProb(): number {
    return (this.settings.dropPath * this.epoch) / this.settings.epochs;
  }

  /** True when every epoch has run. */
  get done(): boolean {
    return this.epoch >= this.settings.epochs;
  }

  /** One SGD step on the next training batch. */
  async runStep(): Promise<void> {
    const started = performance.now();
    if (this.step === 0) this.#rng.shuffle(this.#order);
    const { batchSize, auxiliaryWeight, labelSmoothing, cutout, pad, flip, autoAugment } = this.settings;
    const at = this.step * batchSize;
    const indices = Array.from({ length: batchSize }, (_, i) => this.#order[(at + i) % this.#order.length]!);
    const batch = makeBatch(
      this.#options.data,
      indices,
      { standardize: this.standardize, pad, flip, cutout, autoAugment },
      this.#rng,
    );
    const x = tf.tensor4d(batch.x, [...batch.shape]);
    const y = tf.tensor1d(Int32Array.from(batch.y), "int32");
    const batchMs = performance.now() - started;
    const classes = this.#options.data.classes;
    const weights = this.net.weights();
    const drop = this.dropPathProb;
    let correct: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const { logits, auxLogits } = this.net.forward(x, true, drop, this.#rng);
      const labels = tf.oneHot(y, classes);
      let loss = tf.losses.softmaxCrossEntropy(labels, logits, undefined, labelSmoothing) as tf.Scalar;
      if (auxLogits && auxiliaryWeight > 0) {
        const aux = tf.losses.softmaxCrossEntropy(labels, auxLogits, undefined, labelSmoothing);
        loss = tf.add(loss, tf.mul(aux, auxiliaryWeight));
      }
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), "float32")) as tf.Scalar);
      return loss;
    }, weights);
    // A weight the loss does not reach (the preprocessing of a cell input no kept edge reads) has no
    // gradient: like PyTorch's SGD, the step leaves it alone.
    const used = weights.filter((w) => grads[w.name] != null);
    const ordered = used.map((w) => grads[w.name]!);
    const [loss] = await value.data();
    if (!Number.isFinite(loss!)) {
      tf.dispose([...ordered, value, correct!, x, y]);
      throw new NonFiniteLossError(this.epoch, this.step, "training", loss!);
    }
    const scale = clipScale(ordered, this.settings.weightOptimizer.gradClip);
    this.#sgd.step(used, ordered, this.lr, scale);
    const [hits] = await correct!.data();
    tf.dispose([...ordered, scale, value, correct!, x, y]);
    const p = this.#progress;
    this.#progress = {
      loss: p.loss + loss! * batchSize,
      correct: p.correct + hits!,
      seen: p.seen + batchSize,
      steps: p.steps + 1,
      ms: p.ms + performance.now() - started,
      batchMs: p.batchMs + batchMs,
    };
    this.step += 1;
  }

  /** Loss and accuracy on the test set (see {@linkcode evaluateNetwork}). */
  evaluate(dataset: Dataset = this.#options.test): Promise<{ loss: number; accuracy: number }> {
    return evaluateNetwork(this.net, dataset, {
      batchSize: this.settings.testBatchSize,
      standardize: this.standardize,
    });
  }

  protected override interrupted(): Error {
    return new TrainInterrupted(this.epoch, this.step);
  }

  /** Evaluates on the test set and returns the epoch's telemetry. */
  protected override async finishEpoch(): Promise<TrainTelemetry> {
    const started = performance.now();
    const test = await this.evaluate();
    const p = this.#progress;
    const memory = tf.memory();
    const telemetry: TrainTelemetry = {
      epoch: this.epoch + 1, // from 1, as the terminal and the search's telemetry count
      lr: this.lr,
      dropPath: this.dropPathProb,
      steps: p.steps,
      trainLoss: p.seen ? p.loss / p.seen : NaN,
      trainAccuracy: p.seen ? p.correct / p.seen : NaN,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      epochMs: p.ms + performance.now() - started,
      trainMs: p.ms,
      batchMs: p.batchMs,
      batchSize: this.settings.batchSize,
      tfBytes: memory.numBytes,
      tfTensors: memory.numTensors,
    };
    this.#progress = emptyProgress;
    return telemetry;
  }

  /** Runs the remaining epochs, calling `onEpoch` after each. */
  async run(): Promise<TrainResult> {
    await this.runEpochs((telemetry) => this.#options.onEpoch?.(telemetry, this));
    return {
      telemetry: [...this.telemetry],
      testAccuracy: this.telemetry.at(-1)?.testAccuracy ?? NaN,
      parameters: this.net.parameterCount(),
    };
  }

  /** The complete state as plain data (tensors read asynchronously: works on every backend). */
  async checkpoint(): Promise<TrainCheckpoint> {
    const tensors = await readTensors(this.net.namedVariables());
    const sgd: SlotValues = {};
    for (const [key, v] of Object.entries(await this.#sgd.save())) sgd[this.net.localName(key)] = v;
    return {
      version: 1,
      seed: this.seed,
      epoch: this.epoch,
      step: this.step,
      tensors,
      sgd,
      rng: this.#rng.state(),
      order: [...this.#order],
      telemetry: [...this.telemetry],
      epochProgress: { ...this.#progress },
    };
  }

  /**
   * Continues from a checkpoint taken by a run of the same space, cells, options and seed: every
   * tensor, the momentum buffers, the generator, the data order and the position are restored.
   *
   * @param cp A value returned by {@linkcode checkpoint} (possibly through JSON and back).
   * @throws {Error} When the checkpoint belongs to another seed or network.
   */
  restore(cp: TrainCheckpoint): void {
    if (cp.version !== 1) throw new Error(`training checkpoint version ${cp.version} is not supported`);
    if (cp.seed !== this.seed) {
      throw new Error(`checkpoint seed ${cp.seed} differs from the run's seed ${this.seed}`);
    }
    assignTensors(this.net.namedVariables(), cp.tensors);
    const sgd: SlotValues = {};
    for (const [key, v] of Object.entries(cp.sgd)) sgd[`${this.net.name}/${key}`] = v;
    this.#sgd.load(sgd);
    this.#rng = Rng.fromState(cp.rng);
    this.#order.splice(0, this.#order.length, ...cp.order);
    this.#progress = { ...cp.epochProgress };
    this.restorePosition(cp);
  }

  /**
   * Saves the trained weights and batch-norm statistics (tfjs weights format, see `weights_io.ts`).
   *
   * @param dir The folder to write `weights.json` and `weights.bin` to.
   * @returns When both files are in place.
   */
  saveWeights(dir: string): Promise<void> {
    return saveWeights(dir, this.net.namedVariables());
  }

  /**
   * Loads weights saved by {@linkcode saveWeights} into this run's network.
   *
   * @param dir The weights folder.
   * @throws {Error} When a variable is missing from the folder or has another shape.
   */
  async loadWeights(dir: string): Promise<void> {
    const loaded = await loadWeights(dir);
    try {
      const values: SlotValues = {};
      for (const [name, t] of Object.entries(loaded)) {
        values[name] = { shape: t.shape, values: (await t.data()) as Float32Array };
      }
      assignTensors(this.net.namedVariables(), values);
    } finally {
      tf.dispose(Object.values(loaded));
    }
  }

  dispose(): void {
    this.net.dispose();
    this.#sgd.dispose();
  }
}

/**
 * Trains the evaluation network of `cells` from scratch and evaluates it on the test set after
 * every epoch.
 *
 * @param ir The compiled space the cells were found in (its `evaluate` block gives the defaults).
 * @param cells The derived cells (a genotype's `cells`).
 * @param options Data, seed, overrides, and `weightsDir` to save the trained weights to.
 * @returns The per-epoch telemetry, the final test accuracy and the parameter count.
 * @throws {NonFiniteLossError} When the loss becomes NaN or infinite.
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { train } from "./train.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * const test = syntheticDataset({ n: 8, height: 8, width: 8, channels: 3, classes: 4, seed: 2 });
 * // prev_prev → n0 by max pool, prev → n1 by identity, in both cell types.
 * const edges = [
 *   { from: { kind: "input" as const, index: 0 }, to: 0, op: "pool" },
 *   { from: { kind: "input" as const, index: 1 }, to: 1, op: "skip" },
 * ];
 * const cells = [{ cellType: "normal", edges }, { cellType: "reduction", edges }];
 * // A small stack for 8×8 images (DARTS' auxiliary head needs 32×32).
 * const small = { channels: 4, cells: 3, auxiliary: false, batchSize: 4 };
 * // One epoch of one step: a smoke run (a real one trains the space's `evaluate.epochs`).
 * const result = await train(ir!, cells, { ...small, data, test, epochs: 1, stepsPerEpoch: 1 });
 * if (result.telemetry.length !== 1 || !(result.parameters > 0)) throw new Error(JSON.stringify(result));
 * if (!(result.testAccuracy >= 0 && result.testAccuracy <= 1)) throw new Error(String(result.testAccuracy));
 * ```
 */
export async function train(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
  options: TrainOptions & { readonly weightsDir?: string },
): Promise<TrainResult> {
  const run = new TrainRun(ir, cells, options);
  try {
    const result = await run.run();
    if (options.weightsDir !== undefined) await run.saveWeights(options.weightsDir);
    return result;
  } finally {
    run.dispose();
  }
}

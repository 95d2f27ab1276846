/**
 * The search loop (Algorithm 1 for every mixed op at once): a w step on the train half, then, once
 * grace is over, an α step on the val half followed by pruning of every op whose Φ fell below θ.
 * T and θ follow pure schedules. DARTS and the pruning baselines of section 4.4 are variants.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { Genotype, GenotypeCell, SpaceIR } from "../../dsl/ir.ts";
import { cellTypeOf } from "../../dsl/ir.ts";
import { SearchNetwork } from "../nets/supernet.ts";
import { Adam, clipScale, Sgd, type SlotValues } from "./optim.ts";
import {
  cosineLr,
  graceActive,
  normalizedEntropy,
  softmaxWithTemperature,
  temperatureAt,
  thresholdAt,
} from "./schedules.ts";
import { deriveCell, edgeStrengths } from "./derive.ts";
import { assignTensors, EpochRun, readTensors, type RunHooks } from "./epoch_run.ts";
import { type Decide, PRUNING_POLICIES, type PruningPolicy } from "./pruning.ts";
import { NonFiniteLossError } from "../core/errors.ts";
import { withoutAlphaGradients, withoutWeightGradients } from "../kernels/grad_scope.ts";
import { backendDevice } from "../kernels/backend.ts";
import { Rng, type RngState } from "../core/rng.ts";
import { type Dataset, splitTrainVal } from "../data/datasets.ts";
import { type BatchOptions, channelStats, makeBatch } from "../data/augment.ts";

/** One pruning event. */
export interface PruneEvent {
  readonly cellType: string;
  readonly edge: number;
  readonly op: string;
  /** The epoch it happened in, counted from 1. */
  readonly epoch: number;
  readonly step: number;
  readonly phi: number;
}

/** What one epoch did, as plain data (telemetry.jsonl holds one per line). */
export interface EpochTelemetry {
  /** The epoch, counted from 1. */
  readonly epoch: number;
  readonly temperature: number;
  readonly threshold: number;
  readonly lr: number;
  /** Whether α was frozen (grace) during this epoch. */
  readonly grace: boolean;
  /** Alive ops per edge, per cell type. */
  readonly opsLeft: Readonly<Record<string, readonly number[]>>;
  /** Fraction of all candidate ops pruned so far. */
  readonly sparsity: number;
  /** Mean over edges of H(Φ) ÷ ln|O|, per cell type. */
  readonly entropy: Readonly<Record<string, number>>;
  readonly pruned: readonly PruneEvent[];
  readonly steps: number;
  readonly epochMs: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
  readonly tfBytes: number;
  readonly tfTensors: number;
  /**
   * Φ = softmax(α / T) at the epoch's end, per cell type, per edge, per candidate (in the edge's
   * candidate order); null for a pruned candidate. Absent in run folders written before it was added.
   */
  readonly phi?: Readonly<Record<string, readonly (readonly (number | null)[])[]>>;
}

/** How to run a search; everything but the data defaults to the space's settings. */
export interface SearchOptions extends RunHooks {
  /** The training images; split into w-train and α-val by the space's `train_fraction`. */
  readonly data: Dataset;
  readonly seed?: number;
  /** Overrides `max_epochs`. */
  readonly epochs?: number;
  /** Overrides `batch_size`. */
  readonly batchSize?: number;
  /** Caps the steps of an epoch (quick runs, tests). */
  readonly stepsPerEpoch?: number;
  readonly augment?: Partial<BatchOptions>;
  /** Called after each epoch with its telemetry; a checkpoint may be taken inside. */
  readonly onEpoch?: (telemetry: EpochTelemetry, run: SearchRun) => void | Promise<void>;
  /**
   * Recompute each op's activations during backpropagation instead of keeping them all
   * (default "auto": when they would take more than 1 GiB; wasm has 4 GiB in all).
   */
  readonly recompute?: boolean | "auto";
}

/** A search's complete state as plain data: restoring it continues the run exactly. */
export interface SearchCheckpoint {
  readonly version: 1;
  readonly seed: number;
  /** The next epoch to run and the next step within it. */
  readonly epoch: number;
  readonly step: number;
  readonly alive: Readonly<Record<string, number[][]>>;
  readonly tensors: SlotValues;
  readonly sgd: SlotValues;
  readonly adam: SlotValues;
  readonly adamSteps: number;
  readonly rng: RngState;
  readonly order: { readonly train: number[]; readonly val: number[] };
  readonly accumulated: Readonly<Record<string, number[][]>>;
  readonly telemetry: readonly EpochTelemetry[];
  readonly epochProgress: EpochAccumulator;
}

interface EpochAccumulator {
  trainLoss: number;
  trainCorrect: number;
  valLoss: number;
  valCorrect: number;
  trainSeen: number;
  valSeen: number;
  steps: number;
  ms: number;
  pruned: PruneEvent[];
}

const emptyAccumulator = (): EpochAccumulator => ({
  trainLoss: 0,
  trainCorrect: 0,
  valLoss: 0,
  valCorrect: 0,
  trainSeen: 0,
  valSeen: 0,
  steps: 0,
  ms: 0,
  pruned: [],
});

let networks = 0;

/**
 * The estimate of kept activations (Supernet.activationBytes) that "auto" lets a step keep; above it,
 * cells recompute their mixed ops, largest first, until the rest fits. wasm's heap is 4 GiB, so half of
 * it there (the DARTS supernet at batch 32 then recomputes 2 of its 8 cells), 1 GiB on the other JS
 * backends (cpu, webgpu). Native memory has no such ceiling: a quarter of the machine's
 * memory (4 GiB where that cannot be read, `--allow-sys=systemMemoryInfo`). On the 24 GiB machine
 * kind the DARTS supernet at batch 32 (estimate 3.4 GiB) then keeps every cell: 3.4–3.7 GB peak RSS
 * (PyTorch's: 4.8 GB), against 1.9–2.0 GB and a ninth more time recomputing its 3 largest cells
 * (measured). Batch 64 recomputes its largest cell, batch 96 (asap.space) its two largest.
 */
function keptActivationBudget(): number {
  if (tf.getBackend() === "wasm") return 2 ** 31;
  if (tf.getBackend() !== "native") return 2 ** 30;
  try {
    return Deno.systemMemoryInfo().total / 4;
  } catch {
    return 4 * 2 ** 30;
  }
}

/** The cells to recompute so that the other cells' `bytes` add up to at most `budget` (largest first). */
export function cellsToRecompute(bytes: readonly number[], budget: number): Set<number> {
  let kept = bytes.reduce((a, b) => a + b, 0);
  const chosen = new Set<number>();
  const largestFirst = bytes.map((b, i) => [b, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [b, i] of largestFirst) {
    if (kept <= budget) break;
    chosen.add(i);
    kept -= b;
  }
  return chosen;
}

/**
 * A search in progress: owns the supernet, the optimizers and the schedule position. Step it
 * yourself (progress, checkpoints between steps) or let {@linkcode SearchRun.run} run it to the end;
 * {@linkcode SearchRun.dispose} frees its tensors.
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { SearchRun } from "./search.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * const run = new SearchRun(ir!, { data, epochs: 1, stepsPerEpoch: 1, batchSize: 4 });
 * try {
 *   await run.runStep();
 *   if (run.step !== 1 || run.epoch !== 0) throw new Error(`at ${run.epoch}/${run.step}`);
 *   const telemetry = await run.runEpoch(); // nothing left to step: ends the epoch
 *   if (!run.done || telemetry.steps !== 1 || !Number.isFinite(telemetry.trainLoss)) {
 *     throw new Error(JSON.stringify(telemetry));
 *   }
 * } finally {
 *   run.dispose();
 * }
 * ```
 */
export class SearchRun extends EpochRun<EpochTelemetry> {
  readonly ir: SpaceIR;
  readonly net: SearchNetwork;
  readonly seed: number;
  readonly maxEpochs: number;
  readonly batchSize: number;
  readonly #options: SearchOptions;
  readonly #prefix: string;
  #rng: Rng;
  readonly #sgd: Sgd;
  readonly #adam: Adam;
  readonly #train: number[];
  readonly #val: number[];
  readonly #batchOptions: BatchOptions;
  #acc = emptyAccumulator();
  /** Σ_t |∂L/∂α| per cell type per edge per candidate (the accumulated-gradient baseline). */
  readonly #accumulated = new Map<string, number[][]>();
  /** Largest candidate count: the N of the PAC schedule. */
  readonly #maxCandidates: number;
  /** How this search's algorithm prunes. */
  readonly #policy: PruningPolicy;
  /** The activation bytes "auto" lets a step keep (read once: the backend does not change). */
  readonly #keptBudget = keptActivationBudget();

  constructor(ir: SpaceIR, options: SearchOptions) {
    super(options);
    this.ir = ir;
    this.#options = options;
    this.seed = options.seed ?? 0;
    this.maxEpochs = options.epochs ?? ir.search.maxEpochs;
    this.batchSize = options.batchSize ?? ir.search.batchSize;
    this.#policy = PRUNING_POLICIES[ir.search.algorithm];
    this.#rng = new Rng(this.seed);
    const init = new Rng(this.seed ^ 0x5eed);
    this.#prefix = `search${networks++}`;
    this.net = new SearchNetwork(ir, {
      inputChannels: options.data.channels,
      classes: options.data.classes,
      nextSeed: () => init.int(2 ** 31 - 1),
      name: this.#prefix,
    });
    this.#sgd = new Sgd(ir.search.weightOptimizer);
    this.#adam = new Adam(ir.search.archOptimizer);
    const split = splitTrainVal(options.data, ir.search.trainFraction, this.#rng);
    this.#train = [...split.train];
    this.#val = [...split.val];
    // Standardize train and val with the w-train half's statistics (supplement 6.2.1).
    this.#batchOptions = { standardize: channelStats(options.data, this.#train), ...options.augment };
    for (const [type, alive] of this.net.alive) this.#accumulated.set(type, alive.map((a) => a.map(() => 0)));
    this.#maxCandidates = Math.max(...ir.cellTypes.flatMap((c) => c.edges.map((e) => e.candidates.length)));
    if (this.#val.length < this.batchSize || this.#train.length < this.batchSize) {
      throw new RangeError(
        `batch size ${this.batchSize} is larger than the train (${this.#train.length}) or val (${this.#val.length}) split`,
      );
    }
  }

  /** Steps in one epoch. */
  get stepsPerEpoch(): number {
    const full = Math.floor(Math.min(this.#train.length, this.#val.length) / this.batchSize);
    return Math.max(1, Math.min(full, this.#options.stepsPerEpoch ?? full));
  }

  /** The schedule position t (epochs, or steps when the space says `schedule_unit: step`). */
  #t(): number {
    return this.ir.search.scheduleUnit === "step" ? this.epoch * this.stepsPerEpoch + this.step : this.epoch;
  }

  get temperature(): number {
    return temperatureAt(this.ir.search.temperature, this.#t(), this.#maxCandidates);
  }

  /** θ for a mixed op with `candidates` candidates. */
  threshold(candidates: number): number {
    return thresholdAt(this.ir.search.threshold, this.#t(), candidates);
  }

  /** True when every mixed op has a single op left. */
  get converged(): boolean {
    for (const alive of this.net.alive.values()) if (alive.some((a) => a.length > 1)) return false;
    return true;
  }

  /** True when the run is over (converged, or the epochs are spent). */
  get done(): boolean {
    return this.epoch >= this.maxEpochs || (this.#policy.stopsWhenConverged && this.converged);
  }

  /** Which cells recompute their ops' activations: as asked, or those that keep the rest within budget. */
  #setRecompute(x: tf.Tensor4D): void {
    const wanted = this.#options.recompute ?? "auto";
    this.net.recompute = wanted === true;
    const [n, h, w] = x.shape;
    this.net.recomputeCells = wanted === "auto"
      ? cellsToRecompute(this.net.cellActivationBytes(n, h, w), this.#keptBudget)
      : new Set();
  }

  #batch(indices: number[], from: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
    const pick = Array.from({ length: this.batchSize }, (_, i) => indices[(from + i) % indices.length]!);
    const b = makeBatch(this.#options.data, pick, this.#batchOptions, this.#rng);
    const [n, h, w, c] = b.shape;
    return { x: tf.tensor4d(b.x, [n, h, w, c]), y: tf.tensor1d(Int32Array.from(b.y), "int32") };
  }

  /** One step of Algorithm 1: a w step, then (after grace) an α step and pruning. */
  async runStep(): Promise<void> {
    const started = performance.now();
    if (this.step === 0) {
      this.#rng.shuffle(this.#train);
      this.#rng.shuffle(this.#val);
    }
    const search = this.ir.search;
    const lr = cosineLr(search.weightOptimizer.lr, search.weightOptimizer.lrMin, this.epoch, this.maxEpochs);
    const at = this.step * this.batchSize;

    // w step on the train half.
    const train = this.#batch(this.#train, at);
    const weights = this.net.weights();
    this.#setRecompute(train.x);
    const w = withoutAlphaGradients(() =>
      this.net.lossAndGradients(train.x, train.y, this.temperature, weights)
    );
    const scale = clipScale(w.grads, search.weightOptimizer.gradClip);
    this.#sgd.step(weights, w.grads, lr, scale);
    tf.dispose([...w.grads, scale, train.x, train.y]);
    const [trainLoss, trainCorrect] = await Promise.all([w.loss.data(), w.correct.data()]);
    tf.dispose([w.loss, w.correct]);
    if (!Number.isFinite(trainLoss[0]!)) {
      throw new NonFiniteLossError(this.epoch, this.step, "train", trainLoss[0]!);
    }
    this.#acc.trainLoss += trainLoss[0]! * this.batchSize;
    this.#acc.trainCorrect += trainCorrect[0]!;
    this.#acc.trainSeen += this.batchSize;

    // α step on the val half, once grace is over.
    if (!graceActive(search.grace, this.epoch, this.temperature)) {
      const alphas = this.net.liveAlpha();
      if (alphas.length > 0) await this.#alphaStep(alphas, at);
    }
    this.#acc.steps += 1;
    this.#acc.ms += performance.now() - started;
    this.step += 1;
  }

  async #alphaStep(alphas: tf.Variable[], at: number): Promise<void> {
    const val = this.#batch(this.#val, at);
    // α only: the hand-written gradients skip the weights' (see grad_scope.ts).
    const a = withoutWeightGradients(() => this.net.lossAndGradients(val.x, val.y, this.temperature, alphas));
    if (this.#policy.accumulatesGradients) await this.#accumulate(a.grads);
    this.#adam.step(alphas, a.grads);
    tf.dispose([...a.grads, val.x, val.y]);
    const [valLoss, valCorrect] = await Promise.all([a.loss.data(), a.correct.data()]);
    tf.dispose([a.loss, a.correct]);
    if (!Number.isFinite(valLoss[0]!)) {
      throw new NonFiniteLossError(this.epoch, this.step, "val", valLoss[0]!);
    }
    this.#acc.valLoss += valLoss[0]! * this.batchSize;
    this.#acc.valCorrect += valCorrect[0]!;
    this.#acc.valSeen += this.batchSize;
    await this.#pruneBy(this.#policy.afterAlphaStep);
  }

  async #accumulate(grads: readonly tf.Tensor[]): Promise<void> {
    let i = 0;
    for (const [type, alphas] of this.net.alpha) {
      const alive = this.net.alive.get(type)!;
      const acc = this.#accumulated.get(type)!;
      for (let e = 0; e < alphas.length; e++) {
        if (alive[e]!.length <= 1) continue;
        const g = await grads[i++]!.data();
        g.forEach((v, o) => acc[e]![o] = acc[e]![o]! + Math.abs(v));
      }
    }
  }

  /** Φ per edge over the alive candidates, per cell type, read back to plain numbers. */
  async phiValues(temperature = this.temperature): Promise<Map<string, number[][]>> {
    const out = new Map<string, number[][]>();
    for (const [type, alphas] of this.net.alpha) {
      const alive = this.net.alive.get(type)!;
      const rows: number[][] = [];
      for (let e = 0; e < alphas.length; e++) {
        const a = await alphas[e]!.data();
        rows.push(softmaxWithTemperature(alive[e]!.map((o) => a[o]!), temperature));
      }
      out.set(type, rows);
    }
    return out;
  }

  /** Carries out what a pruning policy decides on the current Φ. */
  async #pruneBy(decide: Decide | null): Promise<void> {
    if (decide === null) return;
    const decisions = decide({
      ir: this.ir,
      phis: await this.phiValues(),
      alive: this.net.alive,
      threshold: (candidates) => this.threshold(candidates),
      epoch: this.epoch,
      accumulated: this.#accumulated,
    });
    for (const { cellType, edge, candidate, phi } of decisions) {
      const names = this.net.prune({ cellType, edge }, candidate);
      this.#sgd.forget(names);
      const op = cellTypeOf(this.ir, cellType).edges[edge]!.candidates[candidate]!;
      // Epochs count from 1 wherever a user reads them (this.epoch is the 0-based position).
      this.#acc.pruned.push({ cellType, edge, op, epoch: this.epoch + 1, step: this.step, phi });
    }
  }

  protected override get endsEarly(): boolean {
    return this.#policy.stopsWhenConverged && this.converged;
  }

  protected override interrupted(): Error {
    return new SearchInterrupted(this.epoch, this.step);
  }

  protected override async finishEpoch(): Promise<EpochTelemetry> {
    await this.#pruneBy(this.#policy.atEpochEnd);
    const telemetry = await this.#telemetry();
    this.#acc = emptyAccumulator();
    return telemetry;
  }

  async #telemetry(): Promise<EpochTelemetry> {
    const phis = await this.phiValues();
    const opsLeft: Record<string, number[]> = {};
    const entropy: Record<string, number> = {};
    const phi: Record<string, (number | null)[][]> = {};
    let total = 0;
    let left = 0;
    for (const [type, rows] of phis) {
      const cell = cellTypeOf(this.ir, type);
      const alive = this.net.alive.get(type)!;
      opsLeft[type] = alive.map((a) => a.length);
      phi[type] = rows.map((values, e) => {
        const full: (number | null)[] = cell.edges[e]!.candidates.map(() => null);
        alive[e]!.forEach((o, k) => full[o] = values[k]!);
        return full;
      });
      entropy[type] = rows.reduce((s, phi, e) =>
        s + normalizedEntropy(phi, cell.edges[e]!.candidates.length), 0) /
        Math.max(1, rows.length);
      total += cell.edges.reduce((n, e) => n + e.candidates.length, 0);
      left += alive.reduce((n, a) => n + a.length, 0);
    }
    const acc = this.#acc;
    const memory = tf.memory();
    return {
      epoch: this.epoch + 1, // from 1, as the paper, the terminal and the dashboard count
      temperature: this.temperature,
      threshold: this.threshold(this.#maxCandidates),
      lr: cosineLr(
        this.ir.search.weightOptimizer.lr,
        this.ir.search.weightOptimizer.lrMin,
        this.epoch,
        this.maxEpochs,
      ),
      grace: graceActive(this.ir.search.grace, this.epoch, this.temperature),
      opsLeft,
      sparsity: total === 0 ? 0 : 1 - left / total,
      entropy,
      pruned: acc.pruned,
      steps: acc.steps,
      epochMs: acc.ms,
      trainLoss: acc.trainLoss / Math.max(1, acc.trainSeen),
      trainAccuracy: acc.trainCorrect / Math.max(1, acc.trainSeen),
      valLoss: acc.valSeen ? acc.valLoss / acc.valSeen : NaN,
      valAccuracy: acc.valSeen ? acc.valCorrect / acc.valSeen : NaN,
      tfBytes: memory.numBytes,
      tfTensors: memory.numTensors,
      phi,
    };
  }

  /** Runs epochs until done; returns the genotype. */
  async run(): Promise<Genotype> {
    await this.runEpochs((telemetry) => this.#options.onEpoch?.(telemetry, this));
    return this.genotype();
  }

  /** The derived cells, per each cell type's derivation rule. */
  async derive(): Promise<GenotypeCell[]> {
    const phis = await this.phiValues();
    const cells: GenotypeCell[] = [];
    for (const [type, rows] of phis) {
      const cell = cellTypeOf(this.ir, type);
      const alive = this.net.alive.get(type)!;
      const alpha = await Promise.all(this.net.alpha.get(type)!.map(async (a) => Array.from(await a.data())));
      cells.push(deriveCell(cell, rows, alive, edgeStrengths(cell, alpha, alive, this.temperature)));
    }
    return cells;
  }

  /** The found architecture as plain data. */
  async genotype(spaceHash = ""): Promise<Genotype> {
    const alpha: Record<string, number[][]> = {};
    for (const [type, alphas] of this.net.alpha) {
      alpha[type] = await Promise.all(alphas.map(async (a) => Array.from(await a.data())));
    }
    return {
      version: 1,
      space: this.ir,
      spaceHash,
      seed: this.seed,
      algorithm: this.ir.search.algorithm,
      cells: await this.derive(),
      alpha,
      versions: {
        asap: "0.1.0",
        tfjs: tf.version_core,
        backend: tf.getBackend(),
        device: backendDevice(),
        deno: Deno.version.deno,
      },
    };
  }

  /** The complete state as plain data (tensors read asynchronously: works on every backend). */
  async checkpoint(): Promise<SearchCheckpoint> {
    const tensors = await readTensors(this.#namedVariables());
    const alive: Record<string, number[][]> = {};
    for (const [type, a] of this.net.alive) alive[type] = a.map((x) => [...x]);
    const accumulated: Record<string, number[][]> = {};
    for (const [type, a] of this.#accumulated) accumulated[type] = a.map((x) => [...x]);
    return {
      version: 1,
      seed: this.seed,
      epoch: this.epoch,
      step: this.step,
      alive,
      tensors,
      sgd: this.#renameKeys(await this.#sgd.save(), (k) => this.#local(k)),
      adam: this.#renameKeys(await this.#adam.save(), (k) => this.#local(k)),
      adamSteps: this.#adam.steps,
      rng: this.#rng.state(),
      order: { train: [...this.#train], val: [...this.#val] },
      accumulated,
      telemetry: [...this.telemetry],
      epochProgress: { ...this.#acc, pruned: [...this.#acc.pruned] },
    };
  }

  /**
   * Continues from a checkpoint taken by a run of the same space, options and seed: the pruned ops
   * are removed, then every tensor, optimizer slot, the RNG, the data order and the schedule
   * position are restored.
   */
  restore(cp: SearchCheckpoint): void {
    if (cp.version !== 1) throw new Error(`checkpoint version ${cp.version} is not supported`);
    if (cp.seed !== this.seed) {
      throw new Error(`checkpoint seed ${cp.seed} differs from the run's seed ${this.seed}`);
    }
    for (const [type, alive] of this.net.alive) {
      const saved = cp.alive[type];
      if (!saved || saved.length !== alive.length) {
        throw new Error(`checkpoint does not match cell type "${type}"`);
      }
      alive.forEach((a, e) => {
        for (const o of [...a]) if (!saved[e]!.includes(o)) this.net.prune({ cellType: type, edge: e }, o);
      });
    }
    assignTensors(this.#namedVariables(), cp.tensors);
    this.#sgd.load(this.#renameKeys(cp.sgd, (k) => `${this.#prefix}/${k}`));
    this.#adam.load(this.#renameKeys(cp.adam, (k) => `${this.#prefix}/${k}`));
    this.#adam.steps = cp.adamSteps;
    this.#rng = Rng.fromState(cp.rng);
    this.#train.splice(0, this.#train.length, ...cp.order.train);
    this.#val.splice(0, this.#val.length, ...cp.order.val);
    for (const [type, acc] of Object.entries(cp.accumulated)) {
      this.#accumulated.set(type, acc.map((x) => [...x]));
    }
    // The epoch in progress is cp.epoch + 1 counted from 1 (a checkpoint from before that count says cp.epoch).
    this.#acc = {
      ...cp.epochProgress,
      pruned: cp.epochProgress.pruned.map((p) => ({ ...p, epoch: cp.epoch + 1 })),
    };
    this.restorePosition(cp);
  }

  /** Weights, batch-norm statistics and α by name without this run's prefix. */
  #namedVariables(): Record<string, tf.Variable> {
    const vars = [...this.net.weights(), ...this.net.state(), ...[...this.net.alpha.values()].flat()];
    return Object.fromEntries(vars.map((v) => [this.#local(v.name), v]));
  }

  /** A variable name without this run's prefix (checkpoints are portable between runs). */
  #local(name: string): string {
    return name.startsWith(`${this.#prefix}/`) ? name.slice(this.#prefix.length + 1) : name;
  }

  #renameKeys(values: SlotValues, rename: (key: string) => string): SlotValues {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [rename(k), v]));
  }

  dispose(): void {
    this.net.dispose();
    this.#sgd.dispose();
    this.#adam.dispose();
  }
}

/**
 * The search was stopped by its signal after a completed step.
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { SearchInterrupted, SearchRun } from "./search.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * const stop = new AbortController();
 * const run = new SearchRun(ir!, { data, batchSize: 4, signal: stop.signal, onStep: () => stop.abort() });
 * try {
 *   await run.runEpoch();
 *   throw new Error("the aborted signal should stop the epoch");
 * } catch (error) {
 *   // Stopped after the first step: a checkpoint taken now resumes at step 1.
 *   if (!(error instanceof SearchInterrupted) || error.step !== 1) throw error;
 * } finally {
 *   run.dispose();
 * }
 * ```
 */
export class SearchInterrupted extends Error {
  constructor(readonly epoch: number, readonly step: number) {
    super(`search interrupted at epoch ${epoch + 1}, before step ${step + 1}`); // 0-based fields, counted from 1
    this.name = "SearchInterrupted";
  }
}

/**
 * Runs the search of a compiled space on a dataset and returns the found genotype.
 *
 * @param ir the compiled space (see `compileSpace`)
 * @param options data, seed and overrides; `onEpoch` receives each epoch's telemetry
 * @returns the genotype
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { syntheticDataset } from "../data/datasets.ts";
 * import { search } from "./search.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 4, seed: 1 });
 * // One epoch of one step: a smoke run (a real search runs the space's max_epochs).
 * const epochs: number[] = [];
 * const genotype = await search(ir!, {
 *   data,
 *   epochs: 1,
 *   stepsPerEpoch: 1,
 *   batchSize: 4,
 *   onEpoch: (t) => void epochs.push(t.epoch),
 * });
 * if (epochs.join() !== "1" || genotype.cells.map((c) => c.cellType).join() !== "normal,reduction") {
 *   throw new Error(JSON.stringify(genotype.cells));
 * }
 * ```
 */
export async function search(ir: SpaceIR, options: SearchOptions): Promise<Genotype> {
  const run = new SearchRun(ir, options);
  try {
    return await run.run();
  } finally {
    run.dispose();
  }
}

/**
 * Progress of a search on the terminal: on a TTY a bar with the epoch's ETA, rewritten in place
 * after every step; always one line per finished epoch (T, θ, ops left, entropy per cell type,
 * epoch time, train and val loss and accuracy). When the output is not a TTY (a log file, CI),
 * nothing is written per step.
 *
 * @module
 */
import type { SpaceIR } from "../../dsl/ir.ts";
import type { EpochTelemetry } from "../loops/search.ts";

/** Where progress goes; tests pass their own. */
export interface ProgressSink {
  write(text: string): void;
  /** True on an interactive terminal: the bar is drawn. */
  readonly isTerminal: boolean;
}

/** The process's stdout as a {@linkcode ProgressSink}. */
export function stdoutSink(): ProgressSink {
  const encoder = new TextEncoder();
  return {
    write: (text) => {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
    },
    isTerminal: Deno.stdout.isTerminal(),
  };
}

const BAR_WIDTH = 24;

/**
 * Formats seconds as `m:ss` or `h:mm:ss`.
 *
 * @param seconds A duration; negative or non-finite gives `--:--`.
 * @returns The text.
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * if (!(formatDuration(75) === "1:15")) throw new Error("the example's claim does not hold");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

function percent(value: number | null): string {
  return value === null || !Number.isFinite(value) ? "-" : `${(100 * value).toFixed(1)}%`;
}

/** Candidates per edge per cell type: the denominators of "ops left". */
export function candidateCounts(ir: SpaceIR): Record<string, number> {
  return Object.fromEntries(
    ir.cellTypes.map((c) => [c.name, c.edges.reduce((n, e) => n + e.candidates.length, 0)]),
  );
}

/**
 * One line summing up an epoch.
 *
 * @param t The epoch's telemetry.
 * @param maxEpochs The run's epoch budget (shown as `epoch 3/50`).
 * @param totals Candidates per cell type (see {@linkcode candidateCounts}).
 * @returns The line, without a newline, e.g.
 * `epoch 3/50  T 1.372  θ 0.057  ops 41/56 (normal 20/28, reduction 21/28)  H normal 0.91 reduction 0.88  12.3 s  train 1.234 56.1%  val 1.301 52.0%`
 */
export function formatEpochLine(
  t: EpochTelemetry,
  maxEpochs: number,
  totals: Readonly<Record<string, number>>,
): string {
  const types = Object.keys(t.opsLeft);
  const left = (type: string) => (t.opsLeft[type] ?? []).reduce((a, b) => a + b, 0);
  const sumLeft = types.reduce((n, type) => n + left(type), 0);
  const sumTotal = types.reduce((n, type) => n + (totals[type] ?? 0), 0);
  const perType = types.map((type) => `${type} ${left(type)}/${totals[type] ?? "?"}`).join(", ");
  const entropy = Object.entries(t.entropy).map(([type, h]) => `${type} ${fixed(h, 2)}`).join(" ");
  return [
    `epoch ${t.epoch}/${maxEpochs}`,
    `T ${fixed(t.temperature, 3)}`,
    `θ ${fixed(t.threshold, 3)}${t.grace ? " (grace)" : ""}`,
    `ops ${sumLeft}/${sumTotal} (${perType})`,
    `H ${entropy}`,
    `${fixed(t.epochMs / 1000, 1)} s`,
    `train ${fixed(t.trainLoss, 3)} ${percent(t.trainAccuracy)}`,
    `val ${fixed(t.valLoss, 3)} ${percent(t.valAccuracy)}`,
  ].join("  ");
}

/**
 * The bar of the epoch in progress, e.g. `epoch 3/50 [#########...............] 12/40  ETA 0:42`.
 *
 * @param epoch 0-based epoch.
 * @param maxEpochs The run's epoch budget.
 * @param step Steps done in this epoch.
 * @param steps Steps in the epoch.
 * @param etaSeconds Estimated seconds left in this epoch (non-finite: unknown).
 * @returns The line, without a newline.
 */
export function formatBar(
  epoch: number,
  maxEpochs: number,
  step: number,
  steps: number,
  etaSeconds: number,
): string {
  const filled = steps > 0 ? Math.min(BAR_WIDTH, Math.round((BAR_WIDTH * step) / steps)) : 0;
  const bar = "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled);
  return `epoch ${epoch + 1}/${maxEpochs} [${bar}] ${step}/${steps}  ETA ${formatDuration(etaSeconds)}`;
}

/** Draws a search's or a training's progress on a {@linkcode ProgressSink}. */
export class Progress {
  readonly #sink: ProgressSink;
  readonly #maxEpochs: number;
  #epochStarted = 0;
  #epochStartStep = 0;
  #epoch = -1;
  #barShown = false;
  readonly #now: () => number;

  /**
   * @param maxEpochs The run's epoch budget.
   * @param sink Where to write (default: stdout).
   * @param now A clock in milliseconds (tests pass a fake one).
   */
  constructor(
    maxEpochs: number,
    sink: ProgressSink = stdoutSink(),
    now: () => number = () => performance.now(),
  ) {
    this.#sink = sink;
    this.#maxEpochs = maxEpochs;
    this.#now = now;
  }

  /**
   * Called after each step (`SearchOptions.onStep`): redraws the bar on a TTY.
   *
   * @param epoch 0-based epoch.
   * @param step Steps done in this epoch.
   * @param steps Steps in the epoch.
   */
  step(epoch: number, step: number, steps: number): void {
    if (!this.#sink.isTerminal) return;
    if (epoch !== this.#epoch) {
      // The first step seen of an epoch (a resumed run may start mid-epoch): time from here.
      this.#epoch = epoch;
      this.#epochStarted = this.#now();
      this.#epochStartStep = step;
    }
    // Measured from the end of the first step seen, so that start-up costs do not skew it.
    const done = step - this.#epochStartStep;
    const eta = done > 0 ? ((this.#now() - this.#epochStarted) / done / 1000) * (steps - step) : NaN;
    this.#sink.write(`\r${formatBar(epoch, this.#maxEpochs, step, steps, eta)}\x1b[K`);
    this.#barShown = true;
  }

  /**
   * Called at the end of an epoch: replaces the bar with the epoch's line.
   *
   * @param line The epoch's summary, e.g. from {@linkcode formatEpochLine}.
   */
  endEpoch(line: string): void {
    this.#clearBar();
    this.#sink.write(`${line}\n`);
    this.#epoch = -1;
  }

  /**
   * Writes a message on its own line (clearing the bar first).
   *
   * @param text The message, without a newline.
   */
  line(text: string): void {
    this.#clearBar();
    this.#sink.write(`${text}\n`);
  }

  #clearBar(): void {
    if (this.#barShown) this.#sink.write("\r\x1b[K");
    this.#barShown = false;
  }
}

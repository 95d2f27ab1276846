/**
 * `deno task evaluate <run dir | genotype.json | found.space>`: stacks the found cells into the
 * evaluation network (the space's `evaluate` block: cells, channels, auxiliary head, drop-path,
 * cutout, learning-rate schedule), trains it from scratch, reports its test accuracy and saves the
 * trained weights. `--dry-run` only prints the parameter count. Ctrl-C or SIGTERM checkpoints;
 * `--resume` continues. Same exit codes as `search`: 0, 1 failure, 2 usage, 130 interrupted,
 * 143 terminated (SIGTERM).
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import { formatDartsGenotype, looksLikeDartsGenotype, readDartsGenotype } from "../../dsl/darts_genotype.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import { inferEvaluation } from "../../dsl/infer.ts";
import { fixedCells, type Genotype, type GenotypeCell, IR_VERSION, type SpaceIR } from "../../dsl/ir.ts";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { backendDevice, type BackendName, BACKENDS, isBackendName, useBackend } from "../kernels/backend.ts";
import { hasCheckpoint, readCheckpoint, writeCheckpoint } from "../io/checkpoint_io.ts";
import { classNamesOf, type DataSource, flips, inputOf, loadSource } from "../data/sources.ts";
import { formatDuration, Progress } from "../report/progress.ts";
import { NonFiniteLossError } from "../core/errors.ts";
import { spaceHash } from "../report/run_folder.ts";
import {
  type CliIo,
  dataFlags,
  defaultIo,
  defaultOut,
  ensureWritable,
  EXIT_OK,
  Failure,
  integer,
  parseFlags,
  readText,
  reportError,
  UsageError,
} from "./_common.ts";
import { stopAfterStep } from "./_signals.ts";
import { type TrainCheckpoint, TrainInterrupted, TrainRun, type TrainTelemetry } from "../loops/train.ts";
import { LIMITS } from "../../dsl/bounds.ts";
import { evaluationFits } from "./_memory.ts";

export const USAGE = `usage: deno task evaluate <run dir | genotype.json | found.space | genotype> [options]

Stacks the found cells into the evaluation network described by the space's evaluate block,
trains it from scratch, reports its test accuracy and saves the trained weights. A DARTS-format
genotype, "Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=[2, 3, 4, 5], reduce=[…],
reduce_concat=[…])", given as the argument or in a file (e.g. a run folder's genotype.txt), is
evaluated in the DARTS space with the DARTS paper's settings (C = 36, 20 cells, 600 epochs).

options:
  --data NAME|DIR        digits (default: the embedded MNIST digits; test: the 1,663 held-out
                         digits), cluttered-digits (the same digits with fragments of other digits
                         over them), fashion-mnist (Debian's dataset-fashion-mnist), a folder of
                         MNIST-format IDX files or of CIFAR-10's binary version (data_batch_*.bin),
                         or an image folder: train/<class>/*.png|jpg, test/<class>/… (read as 32×32 RGB)
  --epochs N             override the evaluate block's epochs
  --channels N           initial channels C (evaluate block: channels)
  --cells N              cells in the stack (reductions at 1/3 and 2/3)
  --batch-size N         override the evaluate block's batch_size
  --steps-per-epoch N    cap the steps of each epoch (quick runs)
  --seed N               random seed (default: 0)
  --backend NAME         ${BACKENDS.join(", ")} (default: auto = native if libtorch is installed, else wasm)
  --out DIR              output folder (default: runs/<space name>-eval-<UTC time>)
  --dry-run              print the parameter count (with and without the auxiliary head) and exit
  --resume DIR           continue an interrupted evaluation from its last checkpoint
  --synthetic N          for testing: N synthetic 8×8 images instead of real data
  -h, --help             show this help`;

/** `eval.json`: everything needed to resume the training exactly. */
interface EvalConfig {
  readonly version: 1;
  /** The run folder, genotype.json or found.space the cells came from. */
  readonly source: string;
  readonly seed: number;
  readonly epochs: number | null;
  readonly channels: number | null;
  readonly cells: number | null;
  readonly batchSize: number | null;
  readonly stepsPerEpoch: number | null;
  readonly backend: string;
  /** Where it computes, in words (backendDevice(); absent in older folders). */
  readonly device?: string;
  readonly data: DataSource;
  /** The class names in label order (sources.ts: classNamesOf), for export and prediction. */
  readonly classNames: readonly string[];
  readonly started: string;
}

interface Flags {
  readonly file: string | null;
  readonly values: Readonly<Record<string, string | undefined>>;
  readonly dryRun: boolean;
  readonly help: boolean;
}

const STRING_FLAGS = [
  "data",
  "epochs",
  "channels",
  "cells",
  "batch-size",
  "steps-per-epoch",
  "seed",
  "backend",
  "out",
  "resume",
  "synthetic",
] as const;

function readFlags(args: string[]): Flags {
  const parsed = parseFlags(args, STRING_FLAGS, ["dry-run"]);
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected one run folder, genotype.json or .space file, got ${parsed.positionals.length}`,
    );
  }
  return {
    file: parsed.positionals[0] ?? null,
    values: parsed.strings,
    dryRun: parsed.booleans["dry-run"] === true,
    help: parsed.booleans.help === true,
  };
}

/** A genotype of cells that are already fixed, with the DARTS form of its cells when they fit it. */
async function foundGenotype(ir: SpaceIR, cells: GenotypeCell[], spaceText: string): Promise<Genotype> {
  const darts = formatDartsGenotype(ir, cells);
  // A found.space or a DARTS genotype does not record the search's seed or α.
  return {
    version: 1,
    space: ir,
    spaceHash: await spaceHash(spaceText),
    seed: 0,
    algorithm: ir.search.algorithm,
    cells,
    alpha: {},
    versions: {},
    ...("text" in darts ? { darts: darts.text } : {}),
  };
}

/** The space of a DARTS-format genotype (darts_genotype.ts), or a failure after its diagnostics. */
async function loadDartsGenotype(text: string, file: string, io: CliIo): Promise<Genotype> {
  const { ir, spaceText, diagnostics } = readDartsGenotype(text, file);
  if (diagnostics.length > 0) io.err(renderDiagnostics(diagnostics, text));
  if (!ir || spaceText === null) {
    throw new Failure(
      `${file === GENOTYPE_ARGUMENT ? "the genotype" : `"${file}"`} is not a valid DARTS genotype`,
    );
  }
  const fixed = fixedCells(ir);
  if ("open" in fixed) throw new Failure(`the space of "${file}" is not a found cell`);
  return await foundGenotype(ir, fixed.cells, spaceText);
}

/** What diagnostics call a genotype given on the command line. */
const GENOTYPE_ARGUMENT = "<genotype>";

/**
 * The found cells and their space, from a run folder, a genotype.json, a found.space, or a DARTS
 * genotype (`Genotype(normal=[…], …)`) given as the argument itself or in a file.
 */
async function loadFound(path: string, io: CliIo): Promise<Genotype> {
  if (looksLikeDartsGenotype(path)) return await loadDartsGenotype(path, GENOTYPE_ARGUMENT, io);
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) file = `${path.replace(/\/+$/, "")}/genotype.json`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Failure(`"${path}" does not exist`);
    throw error;
  }
  const text = await readText(file, file.endsWith(".space") ? "space file" : "genotype file");
  if (!file.endsWith(".space") && looksLikeDartsGenotype(text)) {
    return await loadDartsGenotype(text, file, io);
  }
  if (file.endsWith(".space")) {
    const { ir, diagnostics } = compileSpace(text, file);
    if (diagnostics.length > 0) io.err(renderDiagnostics(diagnostics, text));
    if (!ir) throw new Failure(`"${file}" does not compile`);
    const fixed = fixedCells(ir);
    if ("open" in fixed) {
      throw new Failure(
        `"${file}" is a search space, not a found cell: an edge of cell "${fixed.open.cellType}" has ` +
          `${fixed.open.candidates} candidates; search it first (deno task search ${file})`,
      );
    }
    return await foundGenotype(ir, fixed.cells, text);
  }
  let genotype: Genotype;
  try {
    genotype = JSON.parse(text) as Genotype;
  } catch {
    throw new Failure(`"${file}" is not valid JSON`);
  }
  if (
    typeof genotype !== "object" || genotype === null || genotype.version !== 1 ||
    typeof genotype.space !== "object" || genotype.space === null || !Array.isArray(genotype.cells)
  ) {
    throw new Failure(
      `"${file}" is not a genotype (a search writes one as genotype.json in its run folder; a DARTS ` +
        `genotype reads Genotype(normal=[…], normal_concat=[…], reduce=[…], reduce_concat=[…]))`,
    );
  }
  if (genotype.space.version !== IR_VERSION) {
    throw new Failure(
      `"${file}" holds a space IR of version ${genotype.space.version}; this asap reads ${IR_VERSION}`,
    );
  }
  return genotype;
}

function formatTrainLine(t: TrainTelemetry, epochs: number): string {
  const pct = (v: number) => Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "-";
  const num = (v: number) => Number.isFinite(v) ? v.toFixed(3) : "-";
  return [
    `epoch ${t.epoch}/${epochs}`,
    `lr ${t.lr.toPrecision(3)}`,
    `drop-path ${t.dropPath.toFixed(3)}`,
    `train ${num(t.trainLoss)} ${pct(t.trainAccuracy)}`,
    `test ${num(t.testLoss)} ${pct(t.testAccuracy)}`,
    `${(t.epochMs / 1000).toFixed(1)} s`,
    // Training throughput (the test pass excluded); an epoch checkpointed by an older version has no trainMs.
    ...(t.trainMs > 0
      ? [`${Math.round((t.steps * t.batchSize * 1000) / t.trainMs)} img/s${batchShare(t)}`]
      : []),
  ].join("  ");
}

/** The share of the training time (trainMs > 0) spent building batches, e.g. " (batches 0.3%)". */
function batchShare(t: TrainTelemetry): string {
  return t.batchMs === undefined ? "" : ` (batches ${(100 * t.batchMs / t.trainMs).toFixed(1)}%)`;
}

const count = (n: number) => n.toLocaleString("en-US");

/**
 * Runs the `evaluate` command.
 *
 * @param args The command-line arguments (without the command name).
 * @param io Where to write (default: stdout and stderr).
 * @returns The exit code: 0 done, 1 failure, 2 usage error, 130 interrupted after checkpointing.
 * @example
 * ```ts ignore
 * const code = await main(["runs/quickstart-20250101T000000Z", "--dry-run"]);
 * ```
 */
export async function main(args: string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    const flags = readFlags(args);
    if (flags.help) {
      io.out.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    return await evaluate(flags, io, args);
  } catch (error) {
    return reportError(error, io, {
      usage: USAGE,
      outOfMemory: "use a smaller --batch-size, --channels or --cells",
      unexpected: "the evaluation failed unexpectedly",
    });
  }
}

async function planConfig(
  flags: Flags,
): Promise<{ config: EvalConfig; dir: string | null; resume: boolean }> {
  const v = flags.values;
  if (v.resume !== undefined) {
    const given = STRING_FLAGS.filter((f) => f !== "resume" && f !== "backend" && v[f] !== undefined);
    if (given.length > 0 || flags.file !== null || flags.dryRun) {
      const what = given[0] !== undefined
        ? `--${given[0]}`
        : flags.file !== null
        ? "a file argument"
        : "--dry-run";
      throw new UsageError(
        `${what} cannot be combined with --resume: a resumed evaluation keeps its options`,
      );
    }
    let config: EvalConfig;
    try {
      config = JSON.parse(await Deno.readTextFile(`${v.resume}/eval.json`)) as EvalConfig;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Failure(`"${v.resume}" is not an evaluation folder: it has no eval.json`);
      }
      throw new Failure(`"${v.resume}/eval.json" is not valid JSON`);
    }
    return {
      config: v.backend !== undefined ? { ...config, backend: v.backend } : config,
      dir: v.resume,
      resume: true,
    };
  }
  if (flags.file === null) throw new UsageError("expected a run folder, genotype.json or found.space");
  const data = dataFlags(v.data, integer("synthetic", v.synthetic, 2));
  return {
    dir: v.out ?? null,
    resume: false,
    config: {
      version: 1,
      source: flags.file,
      seed: integer("seed", v.seed, 0) ?? 0,
      epochs: integer("epochs", v.epochs, 1) ?? null,
      channels: integer("channels", v.channels, 1) ?? null,
      cells: integer("cells", v.cells, 1) ?? null,
      batchSize: integer("batch-size", v["batch-size"], 1) ?? null,
      stepsPerEpoch: integer("steps-per-epoch", v["steps-per-epoch"], 1) ?? null,
      backend: v.backend ?? "auto",
      data,
      classNames: classNamesOf(data),
      started: new Date().toISOString(),
    },
  };
}

async function evaluate(flags: Flags, io: CliIo, args: readonly string[]): Promise<number> {
  const say = (text: string) => io.out.write(`${text}\n`);
  const plan = await planConfig(flags);
  const { config } = plan;
  if (!isBackendName(config.backend)) {
    throw new UsageError(`unknown backend "${config.backend}": expected one of ${BACKENDS.join(", ")}`);
  }
  const genotype = await loadFound(plan.resume ? `${plan.dir}/genotype.json` : config.source, io);
  const { space: ir, cells } = genotype;
  const input = inputOf(config.data);
  // The flags bypass the compiler's limits: the same ones hold (dsl/bounds.ts).
  for (
    const [flag, value, limit] of [["cells", config.cells, LIMITS.cells], [
      "channels",
      config.channels,
      LIMITS.channels,
    ]] as const
  ) {
    if (value !== null && value > limit.max) {
      throw new UsageError(`--${flag} must be at most ${limit.max} but is ${value} (${limit.why})`);
    }
  }
  let summary;
  try {
    summary = inferEvaluation(ir, cells, {
      ...input,
      ...(config.channels !== null ? { channels: config.channels } : {}),
      ...(config.cells !== null ? { cells: config.cells } : {}),
    });
  } catch (error) {
    throw new Failure(error instanceof Error ? error.message : String(error));
  }
  const shape = `${summary.cells.length} cells (reductions at ${summary.reductions.join(", ") || "none"}), ` +
    `C = ${summary.channels}, input ${input.inputSize}×${input.inputSize}×${input.inputChannels}, ` +
    `${input.classes} classes`;
  if (flags.dryRun) {
    say(`evaluation network of "${ir.name}": ${shape}`);
    say(
      `parameters: ${count(summary.params)} without the auxiliary head, ` +
        `${
          count(
            summary.params +
              (summary.auxiliary ? summary.auxiliaryParams : inferAux(ir, cells, config, input)),
          )
        } ` +
        `with it`,
    );
    return EXIT_OK;
  }

  const backend = await useBackend(config.backend as BackendName, (line) => io.out.write(`${line}\n`));
  // Before anything is allocated: refuse what cannot fit, rather than fail mid-run (_memory.ts).
  const memory = await evaluationFits(
    ir,
    summary,
    { size: input.inputSize, channels: input.inputChannels, classes: input.classes },
    config.batchSize ?? ir.evaluate.batchSize,
    backend,
  );
  if (!memory.fits) throw new Failure(memory.message);
  const dir = plan.dir ?? await defaultOut(`${ir.name}-eval`);
  await ensureWritable(dir, { script: new URL(import.meta.url), args });
  if (!plan.resume) {
    try {
      await Deno.lstat(`${dir}/eval.json`);
      throw new Failure(
        `"${dir}" already holds an evaluation: continue it with --resume ${dir}, or choose another --out`,
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  const data = await loadSource(config.data, "train");
  const test = await loadSource(config.data, "test");

  const controller = new AbortController();
  let run: TrainRun;
  try {
    run = new TrainRun(ir, cells, {
      data,
      test,
      seed: config.seed,
      ...(config.epochs !== null ? { epochs: config.epochs } : {}),
      ...(config.channels !== null ? { channels: config.channels } : {}),
      ...(config.cells !== null ? { cells: config.cells } : {}),
      ...(config.batchSize !== null ? { batchSize: config.batchSize } : {}),
      ...(config.stepsPerEpoch !== null ? { stepsPerEpoch: config.stepsPerEpoch } : {}),
      augment: { flip: flips(config.data) },
      ...(memory.recompute ? { recompute: true } : {}),
      // DARTS' auxiliary head needs 32×32 images; the synthetic test images are 8×8.
      ...(config.data.kind === "synthetic" ? { auxiliary: false } : {}),
      signal: controller.signal,
      onStep: (epoch, step, steps) => progress.step(epoch, step, steps),
    });
  } catch (error) {
    // The settings and the data do not fit together (batch larger than the data, image too small…).
    if (error instanceof Error) throw new Failure(error.message);
    throw error;
  }
  const epochs = run.settings.epochs;
  const progress = new Progress(epochs, io.out);
  const stops = stopAfterStep(controller, (line) => progress.line(line));
  const started = performance.now();
  try {
    if (plan.resume) {
      if (await hasCheckpoint(dir)) {
        run.restore(await readCheckpoint<TrainCheckpoint>(dir));
        say(`resuming ${dir} at epoch ${run.epoch + 1}, step ${run.step + 1}`);
      }
    } else {
      await Deno.mkdir(dir, { recursive: true });
      await writeJsonAtomic(`${dir}/genotype.json`, genotype);
      await writeJsonAtomic(`${dir}/eval.json`, { ...config, device: backendDevice() });
      say(`training "${ir.name}": ${shape}, ${epochs} epochs of ${run.stepsPerEpoch} steps on ${data.name}`);
    }
    if (run.net.recompute) {
      say(
        "recomputing each cell's activations in the backward pass: keeping them all would not fit in memory",
      );
    }
    while (!run.done) {
      const telemetry = await run.runEpoch();
      progress.endEpoch(formatTrainLine(telemetry, epochs));
      await writeCheckpoint(dir, await run.checkpoint());
      await writeFileAtomic(
        `${dir}/telemetry.jsonl`,
        run.telemetry.map((t) => `${JSON.stringify(t)}\n`).join(""),
      );
    }
    await run.saveWeights(`${dir}/weights`);
    const last = run.telemetry.at(-1);
    const seconds = (performance.now() - started) / 1000;
    const result = {
      space: ir.name,
      parameters: run.net.parameterCount({ auxiliary: false }),
      parametersWithAuxiliary: run.net.parameterCount({ auxiliary: true }),
      testAccuracy: last?.testAccuracy ?? null,
      testImages: test.labels.length,
      epochs: run.epoch,
      wallSeconds: seconds,
      // The training set's per-channel statistics the network was trained on (export states them).
      standardize: run.standardize,
      device: backendDevice(),
    };
    await writeJsonAtomic(`${dir}/result.json`, result);
    say(
      `done in ${formatDuration(seconds)}: test accuracy ${
        result.testAccuracy === null ? "-" : `${(100 * result.testAccuracy).toFixed(2)}%`
      } on ${count(result.testImages)} images; ${count(result.parameters)} parameters ` +
        `(${count(result.parametersWithAuxiliary)} with the auxiliary head)`,
    );
    say(`output folder ${dir}: result.json, telemetry.jsonl, weights/weights.json, weights/weights.bin`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof TrainInterrupted) {
      await writeCheckpoint(dir, await run.checkpoint());
      progress.line(`interrupted; resume with: deno task evaluate --resume ${dir}`);
      return stops.exitCode();
    }
    if (error instanceof NonFiniteLossError) {
      throw new Failure(
        `the training loss became NaN or infinite at epoch ${error.epoch + 1}, step ${error.step + 1}; the ` +
          `checkpoint of the last finished epoch is kept in ${dir}/checkpoint. Lower the learning rate ` +
          `(evaluate block: weights: sgd(lr: …)) or the gradient clip, or try another --seed`,
      );
    }
    throw error;
  } finally {
    stops.remove();
    run.dispose();
  }
}

/** The auxiliary head's parameters when the evaluate block has none (auxiliary_weight: 0). */
function inferAux(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
  config: EvalConfig,
  input: ReturnType<typeof inputOf>,
): number {
  return inferEvaluation(ir, cells, {
    ...input,
    auxiliary: true,
    ...(config.channels !== null ? { channels: config.channels } : {}),
    ...(config.cells !== null ? { cells: config.cells } : {}),
  }).auxiliaryParams;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

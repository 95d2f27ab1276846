/**
 * `deno task search [file.space]`: compiles a space, searches it with ASAP (or the algorithm its
 * `search` block names) and writes a run folder. Ctrl-C or SIGTERM stops after the current step,
 * writes a checkpoint and prints the command that resumes the run.
 *
 * Exit codes: 0 done; 1 a bad space file, bad data, a numerical fault or an unusable run folder or
 * backend; 2 a usage error; 130 interrupted, 143 terminated (both after checkpointing).
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import type { Genotype, SpaceIR } from "../../dsl/ir.ts";
import { cellTypeOf } from "../../dsl/ir.ts";
import { backendDevice, type BackendName, BACKENDS, isBackendName, useBackend } from "../kernels/backend.ts";
import { hasCheckpoint, readCheckpoint, writeCheckpoint } from "../io/checkpoint_io.ts";
import { classNamesOf, flips, isDigits, loadSource } from "../data/sources.ts";
import { candidateCounts, formatDuration, formatEpochLine, Progress } from "../report/progress.ts";
import {
  createRunFolder,
  readRunFolder,
  type RunConfig,
  spaceHash,
  writeEpochOutputs,
  writeFinalOutputs,
} from "../report/run_folder.ts";
import { SearchInterrupted, SearchRun } from "../loops/search.ts";
import { NonFiniteLossError } from "../core/errors.ts";
import {
  type CliIo,
  dataFlags,
  defaultIo,
  defaultOut,
  ensureWritable,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  Failure,
  integer,
  parseFlags,
  readText,
  reportError,
  UsageError,
} from "./_common.ts";
import { OverrideError, overrideHelp, overrideSpace, parseOverride } from "../sweep/overrides.ts";
import { stopAfterStep } from "./_signals.ts";
import { RunStatusFile } from "../report/run_status.ts";
import { dashboardBeside, untilInterrupted } from "../report/dashboard_server.ts";
import { searchFits } from "./_memory.ts";
import { graceEndEpoch } from "../loops/schedules.ts";

export { EXIT_INTERRUPTED, EXIT_TERMINATED } from "./_signals.ts";

/** The space searched when no file is given. */
const QUICKSTART = new URL("../../spaces/quickstart.space", import.meta.url);

export const USAGE = `usage: deno task search [file.space] [options]

Searches the architecture space of a .space file and writes a run folder: genotype.json,
found.space, cell pictures, telemetry and checkpoints. Without a file it searches
spaces/quickstart.space on the embedded MNIST digits.

options:
  --backend NAME         ${BACKENDS.join(", ")} (default: auto = native if libtorch is installed, else wasm)
  --data NAME|DIR        digits (default: the embedded MNIST digits), cluttered-digits (the
                         same digits with fragments of other digits over them: a harder task),
                         fashion-mnist (Debian's dataset-fashion-mnist: 60,000 + 10,000 images), or
                         a folder of MNIST-format IDX files (train-images-idx3-ubyte[.gz] …) or of
                         CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin)
                         or an image folder: train/<class>/*.png|jpg, test/<class>/… (read as 32×32 RGB)
  --out DIR              run folder (default: runs/<space name>-<UTC time>)
  --epochs N             override the space's max_epochs
  --batch-size N         override the space's batch_size
  --steps-per-epoch N    cap the steps of each epoch (default: 50 on the embedded digits and
                         cluttered digits, every batch on CIFAR-10)
  --seed N               random seed (default: 0)
  --set KEY=VALUE        override a setting of the space's search block (repeatable):
${overrideHelp("                           ")}
  --resume DIR           continue an interrupted run from its last checkpoint
  --synthetic N          for testing: N synthetic 8×8 images instead of real data
  --dashboard            serve the live dashboard of the run folder's parent on 127.0.0.1 and
                         print its URL; it stays up after the search until Ctrl-C
  -h, --help             show this help

Ctrl-C (or SIGTERM) stops after the current step and writes a checkpoint; --resume continues from it.`;

interface Flags {
  readonly file: string | null;
  readonly backend: string | undefined;
  readonly data: string | undefined;
  readonly out: string | undefined;
  readonly epochs: number | undefined;
  readonly batchSize: number | undefined;
  readonly stepsPerEpoch: number | undefined;
  readonly seed: number | undefined;
  readonly resume: string | undefined;
  readonly synthetic: number | undefined;
  /** `--set key=value`, in order. */
  readonly set: ReadonlyArray<readonly [string, number]>;
  readonly dashboard: boolean;
  readonly help: boolean;
}

const STRING_FLAGS = [
  "backend",
  "data",
  "out",
  "epochs",
  "batch-size",
  "steps-per-epoch",
  "seed",
  "resume",
  "synthetic",
] as const;

function readFlags(args: string[]): Flags {
  const parsed = parseFlags(args, STRING_FLAGS, ["dashboard"], ["set"]);
  const str = (name: string) => parsed.strings[name];
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected one .space file, got ${parsed.positionals.length}: ${parsed.positionals.join(" ")}`,
    );
  }
  return {
    file: parsed.positionals[0] ?? null,
    backend: str("backend"),
    data: str("data"),
    out: str("out"),
    epochs: integer("epochs", str("epochs"), 1),
    batchSize: integer("batch-size", str("batch-size"), 1),
    stepsPerEpoch: integer("steps-per-epoch", str("steps-per-epoch"), 1),
    seed: integer("seed", str("seed"), 0),
    resume: str("resume"),
    synthetic: integer("synthetic", str("synthetic"), 2),
    set: (parsed.lists.set ?? []).map((text) => {
      try {
        const { key, value } = parseOverride(text);
        return [key, value] as const;
      } catch (error) {
        if (error instanceof OverrideError) throw new UsageError(error.message);
        throw error;
      }
    }),
    dashboard: parsed.booleans.dashboard === true,
    help: parsed.booleans.help === true,
  };
}

/**
 * Steps per epoch on the embedded digits when --steps-per-epoch is not given: the digits are the
 * quick demo (spaces/quickstart.space), so each epoch sees 50 random batches of the 4,168 w-half
 * images rather than all of them (the cluttered digits likewise). Searches on CIFAR-10 run full epochs.
 */
const DIGITS_STEPS_PER_EPOCH = 50;

/** Why a search that ended in grace found nothing: α was never trained, so its cells are arbitrary. */
function graceWarning(ir: SpaceIR, epochs: number): string {
  const { grace, temperature, scheduleUnit } = ir.search;
  const candidates = Math.max(...ir.cellTypes.flatMap((c) => c.edges.map((e) => e.candidates.length)));
  const end = scheduleUnit === "epoch" ? graceEndEpoch(grace, temperature, candidates) : null;
  return `the search ended in grace after ${epochs} epoch${epochs === 1 ? "" : "s"}: α was never trained, ` +
    `so the derived cells are arbitrary; ` +
    (end !== null
      ? `search at least ${end + 1} epochs (α trains from epoch ${end + 1})`
      : "search more epochs");
}

function describeCell(ir: SpaceIR, cell: Genotype["cells"][number]): string {
  const type = cellTypeOf(ir, cell.cellType);
  const name = (ref: { kind: "input" | "node"; index: number }) =>
    ref.kind === "input" ? type.inputs[ref.index]?.name ?? `input${ref.index}` : type.nodes[ref.index]?.name;
  const edges = cell.edges.map((e) => `${name(e.from)} -> ${type.nodes[e.to]?.name}: ${e.op}`);
  return `  ${cell.cellType}: ${edges.join(", ")}`;
}

/** Everything a search needs, from the flags or from the run folder being resumed. */
interface Plan {
  readonly dir: string;
  readonly spaceText: string;
  readonly spaceFile: string;
  readonly config: RunConfig;
  readonly resume: boolean;
}

async function planFresh(flags: Flags): Promise<Plan> {
  const spaceFile = flags.file ?? decodeURIComponent(QUICKSTART.pathname);
  let spaceText = await readText(flags.file ?? QUICKSTART, "space file");
  if (flags.set.length > 0) {
    // The run folder keeps the overridden text (space.space), so --resume needs no --set.
    const { ir } = compileSpace(spaceText, spaceFile);
    try {
      if (ir) spaceText = overrideSpace(ir, flags.set, spaceFile);
    } catch (error) {
      if (error instanceof OverrideError) throw new UsageError(error.message);
      throw error;
    }
  }
  const data = dataFlags(flags.data, flags.synthetic);
  return {
    dir: flags.out ?? "",
    spaceText,
    spaceFile,
    resume: false,
    config: {
      version: 1,
      spaceFile,
      spaceHash: await spaceHash(spaceText),
      seed: flags.seed ?? 0,
      // Filled in from the space once it is compiled (see resolveDefaults).
      epochs: flags.epochs ?? 0,
      batchSize: flags.batchSize ?? 0,
      stepsPerEpoch: flags.stepsPerEpoch ?? (isDigits(data) ? DIGITS_STEPS_PER_EPOCH : null),
      backend: flags.backend ?? "auto",
      data,
      classNames: classNamesOf(data),
      started: new Date().toISOString(),
    },
  };
}

async function planResume(flags: Flags, dir: string): Promise<Plan> {
  const fixed = ["data", "out", "epochs", "batch-size", "steps-per-epoch", "seed", "synthetic"] as const;
  const given: string[] = fixed.filter((name) => {
    const key = name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof Flags;
    return flags[key] !== undefined;
  });
  if (flags.set.length > 0) given.push("set");
  if (given.length > 0) {
    throw new UsageError(
      `--${given[0]} cannot be combined with --resume: a resumed run keeps the options it was started with ` +
        `(see ${dir}/run.json)`,
    );
  }
  const { config, spaceText } = await readRunFolder(dir);
  if (flags.file !== null) {
    const text = await readText(flags.file, "space file");
    if (await spaceHash(text) !== config.spaceHash) {
      throw new Failure(
        `"${flags.file}" differs from the space the run in "${dir}" was started with; ` +
          `omit the file to resume with ${dir}/space.space`,
      );
    }
  }
  if (await spaceHash(spaceText) !== config.spaceHash) {
    throw new Failure(
      `"${dir}/space.space" was changed after the run started (its hash differs from run.json)`,
    );
  }
  return {
    dir,
    spaceText,
    // The copy's text is the original's (same hash): compiled under the original's name, the IR in
    // genotype.json names the file the run was started with, as an uninterrupted run's does.
    spaceFile: config.spaceFile,
    resume: true,
    config: flags.backend !== undefined ? { ...config, backend: flags.backend } : config,
  };
}

/**
 * Runs the `search` command.
 *
 * @param args The command-line arguments (without the command name).
 * @param io Where to write (default: stdout and stderr).
 * @returns The exit code: 0 done, 1 failure (bad space, data, backend, numerical fault), 2 usage
 * error, 130 interrupted after checkpointing.
 * @example
 * ```ts ignore
 * const code = await main(["spaces/tiny.space", "--synthetic", "64", "--epochs", "1"]);
 * ```
 */
export async function main(args: string[], io: CliIo = defaultIo()): Promise<number> {
  const say = (text: string) => io.out.write(`${text}\n`);
  let flags: Flags;
  try {
    flags = readFlags(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`error: ${error.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (flags.help) {
    say(USAGE);
    return EXIT_OK;
  }
  try {
    return await search(flags, io, args);
  } catch (error) {
    return reportError(error, io, {
      usage: USAGE,
      outOfMemory:
        "the supernet's activations did not fit in wasm's 4 GB; use a smaller --batch-size, or a " +
        "space with fewer cells, nodes or candidates",
      unexpected: "the search failed unexpectedly",
    });
  }
}

async function search(flags: Flags, io: CliIo, args: readonly string[]): Promise<number> {
  const say = (text: string) => io.out.write(`${text}\n`);
  if (flags.backend !== undefined && !isBackendName(flags.backend)) {
    throw new UsageError(`unknown backend "${flags.backend}": expected one of ${BACKENDS.join(", ")}`);
  }
  const plan = flags.resume !== undefined ? await planResume(flags, flags.resume) : await planFresh(flags);
  const { ir, diagnostics } = compileSpace(plan.spaceText, plan.spaceFile);
  if (diagnostics.length > 0) io.err(renderDiagnostics(diagnostics, plan.spaceText));
  if (!ir) return EXIT_FAILURE;

  const config: RunConfig = {
    ...plan.config,
    epochs: plan.config.epochs || ir.search.maxEpochs,
    batchSize: plan.config.batchSize || ir.search.batchSize,
  };
  const dir = plan.dir || await defaultOut(ir.name);
  await ensureWritable(dir, { script: new URL(import.meta.url), args });
  if (!isBackendName(config.backend)) {
    throw new Failure(`run.json names an unknown backend "${config.backend}"`);
  }
  const backend = await useBackend(config.backend as BackendName, (line) => io.out.write(`${line}\n`));
  const data = await loadSource(config.data, "train");
  // Before anything is allocated: refuse what cannot fit, rather than fail mid-run (_memory.ts).
  const input = { size: data.height, channels: data.channels, classes: data.classes };
  const memory = await searchFits(ir, input, config.batchSize, backend);
  if (!memory.fits) throw new Failure(memory.message);
  const augment = { pad: 4, flip: flips(config.data) };

  const controller = new AbortController();
  const progress = new Progress(config.epochs, io.out);
  const totals = candidateCounts(ir);
  let status: RunStatusFile | undefined; // once the run folder is this run's
  let run: SearchRun;
  try {
    run = new SearchRun(ir, {
      data,
      seed: config.seed,
      epochs: config.epochs,
      batchSize: config.batchSize,
      ...(config.stepsPerEpoch !== null ? { stepsPerEpoch: config.stepsPerEpoch } : {}),
      augment,
      ...(memory.recompute ? { recompute: true } : {}),
      signal: controller.signal,
      onStep: (epoch, step, steps) => {
        progress.step(epoch, step, steps);
        status?.beat();
      },
    });
  } catch (error) {
    if (error instanceof RangeError) throw new Failure(`${error.message}: use a smaller --batch-size`);
    throw error;
  }

  const stops = stopAfterStep(controller, (line) => progress.line(line));
  const started = performance.now();
  let lastCheckpoint = 0;
  let dashboard: { url: string; stop: () => void } | undefined;
  try {
    if (plan.resume) {
      if (await hasCheckpoint(dir)) {
        run.restore(await readCheckpoint(dir));
        say(`resuming ${dir} at epoch ${run.epoch + 1}, step ${run.step + 1}`);
      } else {
        say(`${dir} has no checkpoint yet: starting it from the beginning`);
      }
    } else {
      await createRunFolder(dir, plan.spaceText, { ...config, device: backendDevice() });
      say(
        `searching "${ir.name}" (${ir.search.algorithm}) on ${data.name}, ${backend}, seed ${config.seed}, ` +
          `up to ${config.epochs} epochs of ${run.stepsPerEpoch} steps; run folder ${dir}`,
      );
    }
    status = new RunStatusFile(dir);
    await status.set("running");
    if (flags.dashboard) dashboard = await dashboardBeside(dir, say, io.err);
    lastCheckpoint = run.epoch;
    while (!run.done) {
      const telemetry = await run.runEpoch();
      progress.endEpoch(formatEpochLine(telemetry, config.epochs, totals));
      await writeCheckpoint(dir, await run.checkpoint());
      lastCheckpoint = run.epoch;
      await writeEpochOutputs(dir, run, telemetry.temperature);
    }
    const genotype = await run.genotype(config.spaceHash);
    const files = await writeFinalOutputs(dir, genotype);
    const last = run.telemetry[run.telemetry.length - 1];
    say(
      `done in ${formatDuration((performance.now() - started) / 1000)} (${run.epoch} epochs); found cells:`,
    );
    for (const cell of genotype.cells) say(describeCell(ir, cell));
    if (last?.grace) io.err(`warning: ${graceWarning(ir, run.epoch)}\n`);
    if (last) {
      say(
        `supernet accuracy at the last epoch: train ${(100 * last.trainAccuracy).toFixed(1)}%, ` +
          `val ${Number.isFinite(last.valAccuracy) ? `${(100 * last.valAccuracy).toFixed(1)}%` : "-"}`,
      );
    }
    say(`run folder ${dir}: ${files.join(", ")}, telemetry.jsonl, curves.svg`);
    await status.set("done");
    if (dashboard) {
      stops.remove();
      say(`the dashboard stays up at ${dashboard.url} (Ctrl-C stops it)`);
      await untilInterrupted();
    }
    return EXIT_OK;
  } catch (error) {
    if (error instanceof SearchInterrupted) {
      await writeCheckpoint(dir, await run.checkpoint());
      await status?.set("interrupted");
      progress.line(`interrupted; resume with: deno task search --resume ${dir}`);
      return stops.exitCode();
    }
    if (error instanceof NonFiniteLossError) {
      const kept = (await hasCheckpoint(dir))
        ? `the checkpoint of epoch ${lastCheckpoint} is kept in ${dir}/checkpoint`
        : "no checkpoint was written yet";
      const failure = new Failure(
        `the ${error.phase} loss became NaN or infinite at epoch ${error.epoch + 1}, step ${
          error.step + 1
        }; ` +
          `${kept}. Lower the learning rate (weights: sgd(lr: …) or alpha: adam(lr: …) in the search block) ` +
          `or try another --seed`,
      );
      await status?.set("failed", failure.message);
      throw failure;
    }
    await status?.set("failed", error instanceof Error ? error.message : String(error)).catch(() => {});
    throw error;
  } finally {
    dashboard?.stop();
    stops.remove();
    run.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

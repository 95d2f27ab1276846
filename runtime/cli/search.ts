/**
 * `deno task search [file.space]`: compiles a space, searches it with ASAP (or the algorithm its
 * `search` block names) and writes a run folder. Ctrl-C stops after the current step, writes a
 * checkpoint and prints the command that resumes the run.
 *
 * Exit codes: 0 done; 1 a bad space file, bad data, a numerical fault or an unusable run folder or
 * backend; 2 a usage error; 130 interrupted (after checkpointing).
 *
 * @module
 */
import { parseArgs } from "../../dsl/deps.ts";
import { compileSpace } from "../../dsl/compile.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import type { Genotype, SpaceIR } from "../../dsl/ir.ts";
import { cellTypeOf } from "../../dsl/ir.ts";
import { BackendError, type BackendName, BACKENDS, isBackendName, useBackend } from "../kernels/backend.ts";
import { CheckpointError, hasCheckpoint, readCheckpoint, writeCheckpoint } from "../io/checkpoint_io.ts";
import { DataError, type Dataset, loadCifar10, loadMnist, syntheticDataset } from "../data/datasets.ts";
import {
  candidateCounts,
  formatDuration,
  formatEpochLine,
  Progress,
  type ProgressSink,
  stdoutSink,
} from "../report/progress.ts";
import {
  createRunFolder,
  type DataSource,
  readRunFolder,
  type RunConfig,
  RunFolderError,
  spaceHash,
  writeEpochOutputs,
  writeFinalOutputs,
} from "../report/run_folder.ts";
import { SearchInterrupted, SearchRun } from "../loops/search.ts";
import { NonFiniteLossError } from "../core/errors.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report a process stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/** The space searched when no file is given. */
const QUICKSTART = new URL("../../spaces/quickstart.space", import.meta.url);

export const USAGE = `usage: deno task search [file.space] [options]

Searches the architecture space of a .space file and writes a run folder: genotype.json,
found.space, cell pictures, telemetry and checkpoints. Without a file it searches
spaces/quickstart.space on the embedded MNIST digits.

options:
  --backend NAME         ${BACKENDS.join(", ")} (default: auto = native if libtorch is installed, else wasm)
  --data DIR             CIFAR-10 binary folder (data_batch_1.bin … data_batch_5.bin);
                         default: the embedded MNIST digits
  --out DIR              run folder (default: runs/<space name>-<UTC time>)
  --epochs N             override the space's max_epochs
  --batch-size N         override the space's batch_size
  --steps-per-epoch N    cap the steps of each epoch (default: 50 on the embedded digits,
                         every batch on --data)
  --seed N               random seed (default: 0)
  --resume DIR           continue an interrupted run from its last checkpoint
  --synthetic N          for testing: N synthetic 8×8 images instead of real data
  -h, --help             show this help

Ctrl-C stops after the current step and writes a checkpoint; --resume continues from it.`;

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  /** Progress and results (stdout). */
  readonly out: ProgressSink;
  /** Error messages (stderr). */
  readonly err: (text: string) => void;
}

/** stdout and stderr (shared with evaluate_cli.ts). */
export function defaultIo(): CliIo {
  const encoder = new TextEncoder();
  return { out: stdoutSink(), err: (text) => Deno.stderr.writeSync(encoder.encode(text)) };
}

/** A usage error: a one-line message, then the usage text; exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure with a message for the user; exit code 1. */
export class Failure extends Error {
  override readonly name = "Failure";
}

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

/** An integer flag's value, or a usage error naming the flag. */
export function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${flag} expects an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

function parseFlags(args: string[]): Flags {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(STRING_FLAGS.map((name) => [name, { type: "string" as const }])),
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    // node:util's messages are long and mention "args"; say it plainly.
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown option "${unknown[1]}"`);
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
    if (missing) throw new UsageError(`option "${missing[1]}" needs a value`);
    const ambiguous = /Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      throw new UsageError(
        `option "${ambiguous[1]}" needs a value (write ${ambiguous[1]}=VALUE for one starting with "-")`,
      );
    }
    throw new UsageError(message.split("\n")[0]!);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const str = (name: string) => v[name] as string | undefined;
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
    help: v.help === true,
  };
}

/**
 * Steps per epoch on the embedded digits when --steps-per-epoch is not given: the digits are the
 * quick demo (spaces/quickstart.space), so each epoch sees 50 random batches of the 4,168 w-half
 * images rather than all of them. Searches on --data run full epochs.
 */
const DIGITS_STEPS_PER_EPOCH = 50;

/** The digits of synthetic test data: small images, few classes, a fixed pattern seed. */
const SYNTHETIC = { height: 8, width: 8, channels: 3, classes: 4, seed: 7 } as const;

async function loadData(source: DataSource): Promise<Dataset> {
  switch (source.kind) {
    case "mnist":
      return await loadMnist();
    case "cifar10":
      return await loadCifar10(source.dir, "train");
    case "synthetic":
      return syntheticDataset({ n: source.n, ...SYNTHETIC });
  }
}

/** A text file, or a failure that names it and says what is wrong. */
export async function readText(path: string | URL, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const shown = path instanceof URL ? decodeURIComponent(path.pathname) : path;
    if (error instanceof Deno.errors.NotFound) throw new Failure(`${what} "${shown}" does not exist`);
    if (error instanceof Deno.errors.IsADirectory) {
      throw new Failure(`${what} "${shown}" is a folder, not a file`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Failure(`${what} "${shown}" cannot be read: run with --allow-read`);
    }
    throw error;
  }
}

/** `runs/<name>-20250131T235959Z`, with `-2`, `-3` … when that exists. */
export async function defaultOut(name: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  for (let k = 1;; k++) {
    const dir = `runs/${name}-${stamp}${k > 1 ? `-${k}` : ""}`;
    try {
      await Deno.lstat(dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return dir;
      throw error;
    }
  }
}

/** Fails early, with the flag to add, when the process may not write the run folder. */
export async function ensureWritable(dir: string): Promise<void> {
  let state = (await Deno.permissions.query({ name: "write", path: dir })).state;
  if (state === "prompt") state = (await Deno.permissions.request({ name: "write", path: dir })).state;
  if (state !== "granted") {
    throw new Failure(
      `cannot write the run folder "${dir}": this process may not write there (the task may write ` +
        `only under runs/); use an --out under runs/, or run deno run --allow-write=${dir} with the task's ` +
        `other flags`,
    );
  }
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
  if (flags.data !== undefined && flags.synthetic !== undefined) {
    throw new UsageError("--data and --synthetic cannot be combined");
  }
  const spaceFile = flags.file ?? decodeURIComponent(QUICKSTART.pathname);
  const spaceText = await readText(flags.file ?? QUICKSTART, "space file");
  const data: DataSource = flags.synthetic !== undefined
    ? { kind: "synthetic", n: flags.synthetic }
    : flags.data !== undefined
    ? { kind: "cifar10", dir: flags.data }
    : { kind: "mnist" };
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
      stepsPerEpoch: flags.stepsPerEpoch ?? (data.kind === "mnist" ? DIGITS_STEPS_PER_EPOCH : null),
      backend: flags.backend ?? "auto",
      data,
      started: new Date().toISOString(),
    },
  };
}

async function planResume(flags: Flags, dir: string): Promise<Plan> {
  const fixed = ["data", "out", "epochs", "batch-size", "steps-per-epoch", "seed", "synthetic"] as const;
  const given = fixed.filter((name) => {
    const key = name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof Flags;
    return flags[key] !== undefined;
  });
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
    spaceFile: `${dir}/space.space`,
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
    flags = parseFlags(args);
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
    return await search(flags, io);
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

/**
 * Prints a CLI's error for the user and returns its exit code: 2 for usage errors, the backend's
 * code, 1 for bad input, a failed run or anything unexpected (no stack traces).
 */
export function reportError(
  error: unknown,
  io: CliIo,
  words: { readonly usage: string; readonly outOfMemory: string; readonly unexpected: string },
): number {
  if (error instanceof UsageError) {
    io.err(`error: ${error.message}\n\n${words.usage}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof BackendError) {
    io.err(`error: ${error.message}\n`);
    return error.exitCode;
  }
  if (
    error instanceof Failure || error instanceof DataError || error instanceof RunFolderError ||
    error instanceof CheckpointError
  ) {
    io.err(`error: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  if (error instanceof WebAssembly.RuntimeError) {
    io.err(
      `error: the wasm backend failed (${error.message}), most likely out of memory: ${words.outOfMemory}\n`,
    );
    return EXIT_FAILURE;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  io.err(`error: ${words.unexpected} (${message}); please report this with the .space file\n`);
  return EXIT_FAILURE;
}

async function search(flags: Flags, io: CliIo): Promise<number> {
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
  await ensureWritable(dir);
  if (!isBackendName(config.backend)) {
    throw new Failure(`run.json names an unknown backend "${config.backend}"`);
  }
  const backend = await useBackend(config.backend as BackendName, (line) => io.out.write(`${line}\n`));
  const data = await loadData(config.data);
  const augment = config.data.kind === "cifar10" ? { pad: 4, flip: true } : { pad: 4, flip: false };

  const controller = new AbortController();
  const progress = new Progress(config.epochs, io.out);
  const totals = candidateCounts(ir);
  let run: SearchRun;
  try {
    run = new SearchRun(ir, {
      data,
      seed: config.seed,
      epochs: config.epochs,
      batchSize: config.batchSize,
      ...(config.stepsPerEpoch !== null ? { stepsPerEpoch: config.stepsPerEpoch } : {}),
      augment,
      signal: controller.signal,
      onStep: (epoch, step, steps) => progress.step(epoch, step, steps),
    });
  } catch (error) {
    if (error instanceof RangeError) throw new Failure(`${error.message}: use a smaller --batch-size`);
    throw error;
  }

  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(EXIT_INTERRUPTED);
    controller.abort();
    progress.line("stopping after the current step (Ctrl-C again quits without a new checkpoint)");
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const started = performance.now();
  let lastCheckpoint = 0;
  try {
    if (plan.resume) {
      if (await hasCheckpoint(dir)) {
        run.restore(await readCheckpoint(dir));
        say(`resuming ${dir} at epoch ${run.epoch + 1}, step ${run.step + 1}`);
      } else {
        say(`${dir} has no checkpoint yet: starting it from the beginning`);
      }
    } else {
      await createRunFolder(dir, plan.spaceText, config);
      say(
        `searching "${ir.name}" (${ir.search.algorithm}) on ${data.name}, ${backend}, seed ${config.seed}, ` +
          `up to ${config.epochs} epochs of ${run.stepsPerEpoch} steps; run folder ${dir}`,
      );
    }
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
    if (last) {
      say(
        `supernet accuracy at the last epoch: train ${(100 * last.trainAccuracy).toFixed(1)}%, ` +
          `val ${Number.isFinite(last.valAccuracy) ? `${(100 * last.valAccuracy).toFixed(1)}%` : "-"}`,
      );
    }
    say(`run folder ${dir}: ${files.join(", ")}, telemetry.jsonl, curves.svg`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof SearchInterrupted) {
      await writeCheckpoint(dir, await run.checkpoint());
      progress.line(`interrupted; resume with: deno task search --resume ${dir}`);
      return EXIT_INTERRUPTED;
    }
    if (error instanceof NonFiniteLossError) {
      const kept = (await hasCheckpoint(dir))
        ? `the checkpoint of epoch ${lastCheckpoint} is kept in ${dir}/checkpoint`
        : "no checkpoint was written yet";
      throw new Failure(
        `the ${error.phase} loss became NaN or infinite at epoch ${error.epoch + 1}, step ${
          error.step + 1
        }; ` +
          `${kept}. Lower the learning rate (weights: sgd(lr: …) or alpha: adam(lr: …) in the search block) ` +
          `or try another --seed`,
      );
    }
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    run.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

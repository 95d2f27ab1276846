/**
 * What the CLIs share (a CLI never imports another CLI): exit codes, the output streams, the two
 * error kinds a user sees, flag parsing with plain messages, reading files, run-folder names and
 * permissions, and the one mapping from an error to a message and exit code.
 *
 * @module
 */
import { parseArgs } from "../../dsl/deps.ts";
import { BackendError } from "../kernels/backend.ts";
import { DataError } from "../data/datasets.ts";
import { type DataSource, dataSourceOf } from "../data/sources.ts";
import { CheckpointError } from "../io/checkpoint_io.ts";
import { shellQuote } from "../core/shell.ts";
import { type ProgressSink, stdoutSink } from "../report/progress.ts";
import { RunFolderError } from "../report/run_folder.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export { EXIT_INTERRUPTED, EXIT_TERMINATED } from "./_signals.ts";

/** Where a CLI writes; tests pass their own. */
export interface CliIo {
  /** Progress and results (stdout). */
  readonly out: ProgressSink;
  /** Error messages (stderr). */
  readonly err: (text: string) => void;
}

/** stdout and stderr. */
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

/** Flags parsed by {@linkcode parseFlags}: string values by name, booleans, repeated options, positionals. */
export interface ParsedFlags {
  readonly strings: Readonly<Record<string, string | undefined>>;
  readonly booleans: Readonly<Record<string, boolean>>;
  /** Options that may be given several times, each value in order. */
  readonly lists: Readonly<Record<string, readonly string[]>>;
  readonly positionals: readonly string[];
}

/**
 * Parses a CLI's arguments strictly, turning node:util's long messages into plain usage errors.
 *
 * @param args The arguments.
 * @param strings The names of the options that take a value.
 * @param booleans The names of the boolean options (`help` is always one, with `-h`).
 * @param lists The names of the options that take a value and may be repeated.
 * @returns The values by name and the positionals.
 * @example
 * ```ts
 * import { parseFlags } from "./_common.ts";
 * const flags = parseFlags(["a.space", "--seed", "3"], ["seed"]);
 * console.log(flags.strings.seed, flags.positionals); // 3 ["a.space"]
 * ```
 */
export function parseFlags(
  args: readonly string[],
  strings: readonly string[],
  booleans: readonly string[] = [],
  lists: readonly string[] = [],
): ParsedFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(strings.map((name) => [name, { type: "string" as const }])),
        ...Object.fromEntries(booleans.map((name) => [name, { type: "boolean" as const }])),
        ...Object.fromEntries(
          lists.map((name) => [name, { type: "string" as const, multiple: true as const }]),
        ),
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
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    strings: Object.fromEntries(strings.map((name) => [name, values[name] as string | undefined])),
    booleans: Object.fromEntries(["help", ...booleans].map((name) => [name, values[name] === true])),
    lists: Object.fromEntries(lists.map((name) => [name, (values[name] as string[] | undefined) ?? []])),
    positionals: parsed.positionals,
  };
}

/** An integer flag's value, or a usage error naming the flag. */
export function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${flag} expects an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

/** `--data` and `--synthetic` read into a source (see sources.ts), or a usage error when both are given. */
export function dataFlags(data: string | undefined, synthetic: number | undefined): DataSource {
  if (data !== undefined && synthetic !== undefined) {
    throw new UsageError("--data and --synthetic cannot be combined");
  }
  return dataSourceOf(data, synthetic);
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

/** What to run again, with the write permission widened, when the run folder lies outside runs/. */
export interface Rerun {
  /** The CLI module (its `import.meta.url`). */
  readonly script: URL;
  /** The command-line arguments as given. */
  readonly args: readonly string[];
}

/**
 * Fails early when the process may not write the run folder (the tasks may write only under runs/),
 * naming the one command that runs the same thing with that folder writable too. On a terminal Deno
 * asks first, and a yes just works.
 */
export async function ensureWritable(dir: string, rerun?: Rerun): Promise<void> {
  let state = (await Deno.permissions.query({ name: "write", path: dir })).state;
  if (state === "prompt") state = (await Deno.permissions.request({ name: "write", path: dir })).state;
  if (state === "granted") return;
  const where = `cannot write the run folder "${dir}": the task may write only under runs/`;
  if (!rerun) throw new Failure(`${where}; run the command with --allow-write=runs,${dir}`);
  const command = [
    "deno run --allow-read",
    shellQuote(`--allow-write=runs,${dir},.asap-cache`),
    "--allow-sys=systemMemoryInfo,cpus",
    // The native backend's shim: built into .asap-cache with g++ on first use, then loaded from there.
    "--allow-ffi=.asap-cache --allow-run=g++,python3 --allow-env=OMP_WAIT_POLICY,ASAP_LIBTORCH",
    shellQuote(decodeURIComponent(rerun.script.pathname)),
    ...rerun.args.map(shellQuote),
  ];
  throw new Failure(`${where}; to write there, run:\n  ${command.join(" ")}`);
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

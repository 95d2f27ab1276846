/**
 * `deno task sweep <file.space | sweep.json>`: many searches of one space, seeds × overrides of its
 * search settings, one task each, every task an ordinary `search` (then `evaluate`) writing its run
 * folder under the sweep folder. `--slurm` submits them as a Slurm job array, `--local` runs them
 * here; `--collect DIR` summarises a sweep, finished or not.
 *
 * Exit codes: 0 done (or submitted); 1 a task failed, or bad input; 2 a usage error; 130/143 the
 * local tasks were stopped (after checkpointing: run the same command again to continue).
 *
 * @module
 */
import { integer, parseFlags, UsageError } from "./_common.ts";
import { writeFileAtomic } from "../core/atomic.ts";
import { overrideHelp } from "../sweep/overrides.ts";
import {
  makePlan,
  parseSeeds,
  parseSetValues,
  SweepError,
  type SweepSpec,
  writePlan,
} from "../sweep/plan.ts";
import { DEFAULT_GRACE_SECONDS, renderSlurmScript, type SlurmOptions } from "../sweep/slurm.ts";
import { runTask } from "./_sweep_task.ts";
import { runLocal } from "./_sweep_local.ts";
import { readSpecFile } from "../sweep/spec_file.ts";
import { collectSweep, writeReport } from "../sweep/collect.ts";

export const USAGE = `usage: deno task sweep <file.space | sweep.json> (--local | --slurm) [options]
       deno task sweep --collect DIR

Runs one search per combination of seeds and search-setting values, each writing its run folder
under the sweep folder: --local as processes here, --slurm as a Slurm job array.

sweep options:
  --seeds LIST           seeds: 0,1,2 or 0-4 (default: 0)
  --set KEY=V1,V2,…      values of a search setting; every combination runs (repeatable). KEY:
${overrideHelp("                           ")}
  --evaluate             train each found cell with deno task evaluate after its search
  --eval-epochs N        the evaluation's epochs (default: the space's evaluate block)
  --out DIR              sweep folder (default: runs/sweep-<space>-<UTC time>); on --slurm, a
                         folder every node can write
  --local                run the tasks here, as processes
  --parallel K           at most K tasks at once (--local default: 1; --slurm default: all)
  --slurm                write DIR/sweep.sh, a job array of the tasks, and submit it with sbatch
  --dry-run              with --slurm: print the script only (nothing is written or submitted)
  --time T, --partition P, --gres G, --cpus-per-task N, --mem M
                         #SBATCH options of every task (e.g. --gres gpu:1)
  --requeue-before S     checkpoint and requeue a task S seconds before its time limit
                         (default: ${DEFAULT_GRACE_SECONDS})
  --sbatch OPTION        another #SBATCH option, verbatim, e.g. --sbatch=--account=lab (repeatable)
  --collect DIR          write DIR/sweep.json and DIR/sweep.md from the tasks so far
  --task DIR I           run task I of the sweep in DIR (what each Slurm array task runs)
  -h, --help             show this help

search options, passed to every task:
  --epochs N, --steps-per-epoch N, --batch-size N, --data NAME|DIR, --synthetic N, --backend NAME

A sweep.json holds the same as flags: {"space": "tiny.space", "seeds": [0, 1], "set": {"t0": [1.3, 1.6]},
"evaluate": false, "args": ["--epochs", "2"]}; its space path is relative to the file. Running a
sweep again with the same --out continues it: finished tasks are skipped, stopped ones resumed.`;

/** Where the CLI writes; tests pass their own. */
export interface SweepIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function defaultIo(): SweepIo {
  const encoder = new TextEncoder();
  return {
    out: (text) => Deno.stdout.writeSync(encoder.encode(text)),
    err: (text) => Deno.stderr.writeSync(encoder.encode(text)),
  };
}

/** Flags passed through to every search (value flags). */
const SEARCH_FLAGS = ["epochs", "steps-per-epoch", "batch-size", "data", "synthetic", "backend"] as const;
/** Of those, the ones evaluate takes too. */
const EVALUATE_FLAGS = new Set(["steps-per-epoch", "data", "synthetic", "backend"]);
const SLURM_FLAGS = ["time", "partition", "gres", "cpus-per-task", "mem", "requeue-before"] as const;

/** An integer flag's value ≥ 1, or a usage error naming the flag. */
const integerAtLeastOne = (flag: string, value: string | undefined) => integer(flag, value, 1);

interface Parsed {
  readonly values: Record<string, string | boolean | readonly string[] | undefined>;
  readonly positionals: string[];
}

function parse(args: string[]): Parsed {
  const parsed = parseFlags(
    args,
    [...SEARCH_FLAGS, ...SLURM_FLAGS, "seeds", "out", "parallel", "eval-epochs", "collect", "task"],
    ["evaluate", "local", "slurm", "dry-run"],
    ["set", "sbatch"],
  );
  return {
    // A repeated option that was not given is absent, as node:util leaves it.
    values: {
      ...parsed.strings,
      ...parsed.booleans,
      ...Object.fromEntries(Object.entries(parsed.lists).filter(([, values]) => values.length > 0)),
    },
    positionals: [...parsed.positionals],
  };
}

/** The spec from a .space or sweep.json and the flags (flags win). */
async function specOf(file: string, v: Parsed["values"]): Promise<SweepSpec> {
  const fromFile = file.endsWith(".json") ? await readSpecFile(file) : { space: file };
  const str = (name: string) => v[name] as string | undefined;
  const passed = SEARCH_FLAGS.flatMap((name) => str(name) !== undefined ? [`--${name}`, str(name)!] : []);
  const toEvaluate = SEARCH_FLAGS.filter((name) => EVALUATE_FLAGS.has(name))
    .flatMap((name) => str(name) !== undefined ? [`--${name}`, str(name)!] : []);
  const evalEpochs = integerAtLeastOne("eval-epochs", str("eval-epochs"));
  const sets = (v.set as string[] | undefined) ?? [];
  return {
    space: fromFile.space,
    seeds: str("seeds") !== undefined ? parseSeeds("--seeds", str("seeds")!) : fromFile.seeds ?? [0],
    set: sets.length > 0 ? sets.map(parseSetValues) : fromFile.set ?? [],
    evaluate: v.evaluate === true || (fromFile.evaluate ?? false),
    searchArgs: [...(fromFile.searchArgs ?? []), ...passed],
    evaluateArgs: [
      ...(fromFile.evaluateArgs ?? []),
      ...toEvaluate,
      ...(evalEpochs !== undefined ? ["--epochs", String(evalEpochs)] : []),
    ],
  };
}

/** Where this module's repository is, for the Slurm script and the subprocesses. */
function codeRoot(): string {
  const url = new URL("../../", import.meta.url);
  if (url.protocol !== "file:") {
    throw new SweepError(
      `the sweep runs its tasks from a local copy of the code, not from ${url.href}: clone it on storage the ` +
        "nodes share",
    );
  }
  return decodeURIComponent(url.pathname).replace(/\/$/, "");
}

const cliPath = (name: string) => `${codeRoot()}/runtime/cli/${name}.ts`;

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`.replace(/\/\.\//g, "/").replace(/\/\.$/, "");
}

function defaultOut(space: string): string {
  const name = space.replace(/^.*\//, "").replace(/\.(space|json)$/, "");
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `runs/sweep-${name}-${stamp}`;
}

/**
 * Runs the `sweep` command.
 *
 * @param args The command-line arguments (without the command name).
 * @param io Where to write (default: stdout and stderr).
 * @returns The exit code.
 * @example
 * ```ts ignore
 * const code = await main(["spaces/tiny.space", "--seeds", "0,1", "--slurm", "--dry-run"]);
 * ```
 */
export async function main(args: string[], io: SweepIo = defaultIo()): Promise<number> {
  try {
    const parsed = parse(args);
    const v = parsed.values;
    if (v.help === true) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    if (v.task !== undefined) {
      const index = Number(parsed.positionals[0]);
      if (parsed.positionals.length !== 1 || !Number.isInteger(index) || index < 0) {
        throw new UsageError(
          `--task DIR expects one task index after it, got "${parsed.positionals.join(" ")}"`,
        );
      }
      return await runTask(v.task as string, index, {
        deno: Deno.execPath(),
        search: cliPath("search"),
        evaluate: cliPath("evaluate"),
      });
    }
    if (v.collect !== undefined) {
      if (parsed.positionals.length > 0) throw new UsageError("--collect DIR takes no other file");
      return await collect(v.collect as string, io);
    }
    return await plan(parsed, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof SweepError) {
      io.err(`error: ${error.message}\n`);
      return 1;
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      io.err(
        `error: ${error.message}: deno task sweep may write only under runs/; for a sweep folder elsewhere run ` +
          "deno run --allow-read --allow-write=DIR --allow-run runtime/cli/sweep.ts with the same arguments\n",
      );
      return 1;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.err(`error: the sweep failed unexpectedly (${message}); please report this\n`);
    return 1;
  }
}

async function collect(dir: string, io: SweepIo): Promise<number> {
  const report = await collectSweep(dir);
  await writeReport(dir, report);
  const done = report.tasks.filter((t) => t.state === "done").length;
  io.out(`${done} of ${report.tasks.length} tasks done; wrote ${dir}/sweep.json and ${dir}/sweep.md\n`);
  for (const t of report.tasks.filter((t) => t.state !== "done")) {
    io.out(`  task ${t.index} (${t.setting}, seed ${t.seed}): ${t.state}; log ${dir}/${t.log}\n`);
  }
  return 0;
}

async function plan(parsed: Parsed, io: SweepIo): Promise<number> {
  const v = parsed.values;
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? "expected a .space or sweep.json file"
        : `expected one .space or sweep.json file, got ${parsed.positionals.join(" ")}`,
    );
  }
  const local = v.local === true;
  const slurm = v.slurm === true;
  if (local === slurm) throw new UsageError("choose where the tasks run: --local or --slurm");
  if (v["dry-run"] === true && !slurm) throw new UsageError("--dry-run goes with --slurm");
  const slurmOnly = [...SLURM_FLAGS, "sbatch"].find((name) => v[name] !== undefined);
  if (local && slurmOnly !== undefined) throw new UsageError(`--${slurmOnly} goes with --slurm`);
  const parallel = integerAtLeastOne("parallel", v.parallel as string | undefined);
  const cpus = integerAtLeastOne("cpus-per-task", v["cpus-per-task"] as string | undefined);
  const before = integerAtLeastOne("requeue-before", v["requeue-before"] as string | undefined);

  const spec = await specOf(parsed.positionals[0]!, v);
  let spaceText: string;
  try {
    spaceText = await Deno.readTextFile(spec.space);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SweepError(`space file "${spec.space}" does not exist`);
    }
    throw error;
  }
  const sweepPlan = makePlan(spec, spaceText);
  const dir = (v.out as string | undefined) ?? defaultOut(spec.space);
  const n = sweepPlan.tasks.length;

  if (slurm) {
    const options: SlurmOptions = {
      ...(v.time !== undefined ? { time: v.time as string } : {}),
      ...(v.partition !== undefined ? { partition: v.partition as string } : {}),
      ...(v.gres !== undefined ? { gres: v.gres as string } : {}),
      ...(cpus !== undefined ? { cpusPerTask: cpus } : {}),
      ...(before !== undefined ? { graceSeconds: before } : {}),
      ...(v.mem !== undefined ? { mem: v.mem as string } : {}),
      ...(parallel !== undefined ? { parallel } : {}),
      ...(v.sbatch !== undefined ? { extra: v.sbatch as string[] } : {}),
    };
    const name = `asap-${spec.space.replace(/^.*\//, "").replace(/\.\w+$/, "")}`;
    const script = renderSlurmScript(
      sweepPlan,
      { sweepDir: absolute(dir), root: codeRoot(), deno: Deno.execPath() },
      options,
      name,
    );
    if (v["dry-run"] === true) {
      io.out(script);
      return 0;
    }
    await writePlan(dir, sweepPlan, spaceText);
    await writeFileAtomic(`${dir}/sweep.sh`, script);
    return await submit(dir, n, io);
  }
  const again = await writePlan(dir, sweepPlan, spaceText);
  io.out(
    `${again ? "continuing" : "running"} ${n} task${n === 1 ? "" : "s"} in ${dir}, ${
      parallel ?? 1
    } at once\n`,
  );
  const { codes, stopped } = await runLocal(dir, sweepPlan, parallel ?? 1, cliPath("sweep"), io.out);
  await collect(dir, io);
  if (codes.some((c) => c !== 0 && c !== 130 && c !== 143)) return 1;
  if (stopped || codes.some((c) => c !== 0)) {
    io.out(`stopped; continue with the same command and --out ${dir} (finished tasks are skipped)\n`);
    return codes.includes(143) ? 143 : 130;
  }
  return 0;
}

async function submit(dir: string, n: number, io: SweepIo): Promise<number> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("sbatch", { args: ["--parsable", `${dir}/sweep.sh`], stdin: "null" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SweepError(
        `sbatch was not found: submit ${dir}/sweep.sh from a Slurm login node (sbatch ${dir}/sweep.sh), ` +
          "or run the tasks here with --local",
      );
    }
    throw error;
  }
  const text = new TextDecoder();
  if (!output.success) {
    throw new SweepError(`sbatch refused ${dir}/sweep.sh: ${text.decode(output.stderr).trim()}`);
  }
  const job = text.decode(output.stdout).trim().split(";")[0];
  io.out(
    `submitted job ${job}: ${n} array task${n === 1 ? "" : "s"}, logs in ${dir}/logs/\n` +
      `watch: squeue -j ${job}    results: deno task sweep --collect ${dir}\n`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * A sweep's plan: the combinations of seeds and search-setting overrides, one task each, and the
 * `search` / `evaluate` arguments every task runs with. The plan is written to `<DIR>/plan.json`
 * with a copy of the space (`<DIR>/space.space`), so every task, on any node, reads the same files.
 *
 * ```
 * <DIR>/plan.json  space.space  sweep.sh (--slurm)  logs/task-<i>.log  status/task-<i>.json
 * <DIR>/<setting>/seed-<s>/        the task's run folder (eval/ inside with --evaluate)
 * <DIR>/sweep.json  sweep.md       written by --collect
 * ```
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { checkKey, OverrideError, overrideSpace } from "./overrides.ts";

/** A sweep that cannot be planned or read; the message says what is wrong and where. */
export class SweepError extends Error {
  override readonly name = "SweepError";
}

/** What to sweep: from the command line or a sweep file. */
export interface SweepSpec {
  /** The `.space` file. */
  readonly space: string;
  readonly seeds: readonly number[];
  /** Each key with the values it takes, in order. */
  readonly set: ReadonlyArray<readonly [string, readonly number[]]>;
  /** Whether each task trains its found cells with `evaluate` after the search. */
  readonly evaluate: boolean;
  /** Passed to every fresh `search` (`--epochs 2 --synthetic 64` …). */
  readonly searchArgs: readonly string[];
  /** Passed to every fresh `evaluate`. */
  readonly evaluateArgs: readonly string[];
}

/** One combination. */
export interface SweepTask {
  /** 0-based; the Slurm array index. */
  readonly index: number;
  readonly seed: number;
  readonly overrides: ReadonlyArray<readonly [string, number]>;
  /** `t0=1.3,beta=0.5`, or `default` without overrides: the tasks over seeds of one setting share it. */
  readonly setting: string;
  /** The run folder, relative to the sweep folder. */
  readonly dir: string;
}

/** `<DIR>/plan.json`. */
export interface SweepPlan {
  readonly version: 1;
  /** The `.space` file the sweep was planned from (for the record; tasks read `space.space`). */
  readonly spaceFile: string;
  readonly evaluate: boolean;
  readonly searchArgs: readonly string[];
  readonly evaluateArgs: readonly string[];
  readonly tasks: readonly SweepTask[];
  readonly created: string;
}

export const PLAN_FILE = "plan.json";
export const SPACE_COPY = "space.space";

/** A task's log, relative to the sweep folder (Slurm's `--output` and the local runner write it). */
export const logPath = (index: number): string => `logs/task-${index}.log`;
/** A task's status file, relative to the sweep folder. */
export const statusPath = (index: number): string => `status/task-${index}.json`;
/** A task's evaluation folder, inside its run folder. */
export const EVAL_DIR = "eval";

/**
 * Parses a list of integers: `0,1,2`, ranges `0-4`, or both (`0-2,7`).
 *
 * @param flag The flag, for the message.
 * @param text The list.
 * @returns The integers, in order, without repeats.
 * @throws {SweepError} When an item is not a non-negative integer or a range runs backwards.
 * @example
 * ```ts
 * import { parseSeeds } from "./plan.ts";
 * if (!(parseSeeds("--seeds", "0-2,7").join() === "0,1,2,7")) throw new Error("the example's claim does not hold");
 * ```
 */
export function parseSeeds(flag: string, text: string): number[] {
  const out: number[] = [];
  for (const item of text.split(",").map((s) => s.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(item);
    const [from, to] = range ? [Number(range[1]), Number(range[2])] : [Number(item), Number(item)];
    if (item === "" || !Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) {
      throw new SweepError(`${flag} expects integers ≥ 0 or ranges a-b separated by commas, got "${text}"`);
    }
    for (let s = from; s <= to; s++) if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * Parses one `--set key=v1,v2,…`.
 *
 * @param text The flag's value.
 * @returns The key and its values.
 * @throws {SweepError} For an unknown key or a value that is not a number.
 * @example
 * ```ts
 * import { parseSetValues } from "./plan.ts";
 * if (!(parseSetValues("t0=1.3,1.6")[1].length === 2)) throw new Error("the example's claim does not hold");
 * ```
 */
export function parseSetValues(text: string): [string, number[]] {
  const eq = text.indexOf("=");
  if (eq < 0) throw new SweepError(`--set expects key=v1,v2,…, got "${text}"`);
  const key = text.slice(0, eq).trim();
  try {
    checkKey(key);
  } catch (error) {
    if (error instanceof OverrideError) throw new SweepError(error.message);
    throw error;
  }
  const values = text.slice(eq + 1).split(",").map((raw) => {
    const v = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(v)) {
      throw new SweepError(`--set ${key} expects numbers separated by commas, got "${text.slice(eq + 1)}"`);
    }
    return v;
  });
  return [key, values];
}

/** Every combination of the values, the first key slowest. */
function grid(set: SweepSpec["set"]): Array<Array<readonly [string, number]>> {
  let combos: Array<Array<readonly [string, number]>> = [[]];
  for (const [key, values] of set) {
    combos = combos.flatMap((c) => values.map((v) => [...c, [key, v] as const]));
  }
  return combos;
}

/**
 * Expands a spec into its tasks: settings × seeds, the seeds of one setting next to each other.
 *
 * @param spec What to sweep.
 * @returns One task per combination, indexed from 0.
 * @throws {SweepError} Without seeds, or with a key given twice.
 * @example
 * ```ts
 * import { expandTasks } from "./plan.ts";
 * const tasks = expandTasks({
 *   space: "spaces/tiny.space", seeds: [0, 1], set: [["t0", [1.3, 1.6]]],
 *   evaluate: false, searchArgs: [], evaluateArgs: [],
 * });
 * if (!(tasks.length === 4 && tasks[3]!.dir === "t0=1.6/seed-1")) throw new Error("the example's claim does not hold");
 * ```
 */
export function expandTasks(spec: SweepSpec): SweepTask[] {
  if (spec.seeds.length === 0) throw new SweepError("a sweep needs at least one seed");
  const keys = spec.set.map(([k]) => k);
  const twice = keys.find((k, i) => keys.indexOf(k) !== i);
  if (twice !== undefined) throw new SweepError(`--set ${twice} is given twice: list its values once, v1,v2`);
  const tasks: SweepTask[] = [];
  for (const overrides of grid(spec.set)) {
    const setting = overrides.length === 0 ? "default" : overrides.map(([k, v]) => `${k}=${v}`).join(",");
    for (const seed of spec.seeds) {
      tasks.push({ index: tasks.length, seed, overrides, setting, dir: `${setting}/seed-${seed}` });
    }
  }
  return tasks;
}

/**
 * Checks every setting against the space (each overridden space must compile) and builds the plan.
 *
 * @param spec What to sweep.
 * @param spaceText The `.space` text.
 * @returns The plan.
 * @throws {SweepError} When the space does not compile or an override is invalid for it.
 */
export function makePlan(spec: SweepSpec, spaceText: string): SweepPlan {
  const tasks = expandTasks(spec);
  const { ir, diagnostics } = compileSpace(spaceText, spec.space);
  if (!ir) {
    const first = diagnostics.find((d) => d.severity === "error");
    throw new SweepError(
      `the space "${spec.space}" does not compile${first ? ` (${first.message})` : ""}: ` +
        `run deno task compile ${spec.space} for all its diagnostics`,
    );
  }
  const checked = new Set<string>();
  for (const task of tasks) {
    if (checked.has(task.setting)) continue;
    checked.add(task.setting);
    try {
      if (task.overrides.length > 0) overrideSpace(ir, task.overrides, spec.space);
    } catch (error) {
      if (error instanceof OverrideError) throw new SweepError(error.message);
      throw error;
    }
  }
  return {
    version: 1,
    spaceFile: spec.space,
    evaluate: spec.evaluate,
    searchArgs: spec.searchArgs,
    evaluateArgs: spec.evaluateArgs,
    tasks,
    created: new Date().toISOString(),
  };
}

/** The parts of a plan that make two plans the same sweep (not when it was made). */
function identity(plan: SweepPlan): string {
  const { created: _, ...rest } = plan;
  return JSON.stringify(rest);
}

/**
 * Writes `plan.json` and `space.space` into the sweep folder, or keeps them when the folder holds
 * the same sweep already (re-running a sweep continues it: finished tasks are skipped, stopped ones
 * resumed).
 *
 * @param dir The sweep folder (created).
 * @param plan The plan.
 * @param spaceText The `.space` text.
 * @returns Whether the folder held the same sweep already.
 * @throws {SweepError} When it holds a different sweep.
 */
export async function writePlan(dir: string, plan: SweepPlan, spaceText: string): Promise<boolean> {
  let existing: SweepPlan | null = null;
  try {
    existing = await readPlan(dir);
  } catch (error) {
    if (!(error instanceof SweepError) || !error.message.includes("no plan.json")) throw error;
  }
  if (existing) {
    const sameSpace = (await Deno.readTextFile(`${dir}/${SPACE_COPY}`).catch(() => "")) === spaceText;
    if (identity(existing) === identity({ ...plan, created: existing.created }) && sameSpace) return true;
    throw new SweepError(
      `"${dir}" holds another sweep (its ${PLAN_FILE} or ${SPACE_COPY} differs): choose another --out, ` +
        `or collect it with --collect ${dir}`,
    );
  }
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.mkdir(`${dir}/status`, { recursive: true });
  await writeFileAtomic(`${dir}/${SPACE_COPY}`, spaceText);
  await writeJsonAtomic(`${dir}/${PLAN_FILE}`, plan);
  return false;
}

/**
 * Reads a sweep folder's plan.
 *
 * @param dir The sweep folder.
 * @returns Its plan.
 * @throws {SweepError} When the folder or its plan is missing or malformed.
 */
export async function readPlan(dir: string): Promise<SweepPlan> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${PLAN_FILE}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SweepError(`"${dir}" is not a sweep folder: it has no plan.json (deno task sweep writes it)`);
    }
    throw error;
  }
  let plan: SweepPlan;
  try {
    plan = JSON.parse(text) as SweepPlan;
  } catch {
    throw new SweepError(`"${dir}/${PLAN_FILE}" is not valid JSON`);
  }
  const ok = typeof plan === "object" && plan !== null && plan.version === 1 && Array.isArray(plan.tasks) &&
    Array.isArray(plan.searchArgs) && Array.isArray(plan.evaluateArgs) &&
    plan.tasks.every((t, i) =>
      t.index === i && typeof t.seed === "number" && typeof t.dir === "string" && Array.isArray(t.overrides)
    );
  if (!ok) {
    throw new SweepError(`"${dir}/${PLAN_FILE}" is malformed: a field is missing or has the wrong type`);
  }
  return plan;
}

/** Flags a resumed `search` or `evaluate` still accepts (the rest are kept in its run.json). */
const RESUMABLE = new Set(["--backend"]);

function resumable(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const [name] = flag.split("=", 1) as [string];
    if (!RESUMABLE.has(name)) continue;
    out.push(flag);
    if (!flag.includes("=") && i + 1 < args.length) out.push(args[++i]!);
  }
  return out;
}

/**
 * The `search` arguments of a task: a fresh search, or `--resume` when its run folder was started.
 *
 * @param sweepDir The sweep folder.
 * @param plan The plan.
 * @param task The task.
 * @param started Whether the run folder holds a run.json (a requeued or stopped task).
 * @returns The arguments after `runtime/cli/search.ts`.
 */
export function searchArgs(sweepDir: string, plan: SweepPlan, task: SweepTask, started: boolean): string[] {
  const out = `${sweepDir}/${task.dir}`;
  if (started) return ["--resume", out, ...resumable(plan.searchArgs)];
  return [
    `${sweepDir}/${SPACE_COPY}`,
    "--seed",
    String(task.seed),
    ...task.overrides.flatMap(([k, v]) => ["--set", `${k}=${v}`]),
    "--out",
    out,
    ...plan.searchArgs,
  ];
}

/**
 * The `evaluate` arguments of a task, fresh or resumed.
 *
 * @param sweepDir The sweep folder.
 * @param plan The plan.
 * @param task The task.
 * @param started Whether the evaluation folder holds an eval.json.
 * @returns The arguments after `runtime/cli/evaluate.ts`.
 */
export function evaluateArgs(sweepDir: string, plan: SweepPlan, task: SweepTask, started: boolean): string[] {
  const run = `${sweepDir}/${task.dir}`;
  if (started) return ["--resume", `${run}/${EVAL_DIR}`, ...resumable(plan.evaluateArgs)];
  return [run, "--seed", String(task.seed), "--out", `${run}/${EVAL_DIR}`, ...plan.evaluateArgs];
}

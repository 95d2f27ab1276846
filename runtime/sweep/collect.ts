/**
 * `--collect`: reads every task of a sweep and writes `sweep.json` and `sweep.md`: per setting the
 * found genotypes, search time, supernet accuracy and evaluation accuracy (mean ± std over the
 * seeds that finished), and the unfinished or failed tasks with their logs. It only reads the run
 * folders, whose files are all written atomically, so it is safe while tasks are running.
 *
 * @module
 */
import type { Genotype } from "../../dsl/ir.ts";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { mean, std } from "../core/stats.ts";
import { EVAL_DIR, logPath, readPlan, type SweepPlan, type SweepTask } from "./plan.ts";
import { readStatus } from "./status.ts";

/** A task's state as collect sees it. */
export type TaskState = "done" | "running" | "stopped" | "failed" | "pending";

/** One task in `sweep.json`. */
export interface CollectedTask {
  readonly index: number;
  readonly setting: string;
  readonly seed: number;
  readonly dir: string;
  readonly state: TaskState;
  /** The exit code of the step that failed or stopped. */
  readonly exitCode: number | null;
  readonly log: string;
  readonly epochs: number;
  /** Sum of the epochs' times, seconds. */
  readonly searchSeconds: number | null;
  /** The last epoch's supernet accuracy on the α half (val), or on the w half (train) when val is absent. */
  readonly supernetAccuracy: number | null;
  readonly supernetAccuracyOn: "val" | "train" | null;
  /** The evaluation network's test accuracy (with --evaluate). */
  readonly evalAccuracy: number | null;
  /** Each cell type's kept edges, `from -> to: op`. */
  readonly genotype: Readonly<Record<string, readonly string[]>> | null;
}

/** Mean and sample standard deviation (null below two values) of what finished. */
export interface Stat {
  readonly n: number;
  readonly mean: number | null;
  readonly std: number | null;
}

/** One setting (its tasks over seeds) in `sweep.json`. */
export interface CollectedSetting {
  readonly setting: string;
  readonly tasks: number;
  readonly done: number;
  readonly searchSeconds: Stat;
  readonly supernetAccuracy: Stat;
  readonly evalAccuracy: Stat;
}

/** `sweep.json`. */
export interface SweepReport {
  readonly version: 1;
  readonly spaceFile: string;
  readonly collected: string;
  readonly settings: readonly CollectedSetting[];
  readonly tasks: readonly CollectedTask[];
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

async function readLines(path: string): Promise<Record<string, unknown>[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

/** A genotype's edges by cell type, named as the space names its inputs and nodes. */
function describeGenotype(genotype: Genotype): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const cell of genotype.cells) {
    const type = genotype.space?.cellTypes?.find((c) => c.name === cell.cellType);
    const name = (ref: { kind: "input" | "node"; index: number }) =>
      ref.kind === "input"
        ? type?.inputs[ref.index]?.name ?? `input${ref.index}`
        : type?.nodes[ref.index]?.name ?? `node${ref.index}`;
    out[cell.cellType] = cell.edges.map((e) =>
      `${name(e.from)} -> ${name({ kind: "node", index: e.to })}: ${e.op}`
    );
  }
  return out;
}

const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;

async function collectTask(sweepDir: string, plan: SweepPlan, task: SweepTask): Promise<CollectedTask> {
  const run = `${sweepDir}/${task.dir}`;
  const genotype = await readJson<Genotype>(`${run}/genotype.json`);
  const telemetry = await readLines(`${run}/telemetry.jsonl`);
  const result = await readJson<{ testAccuracy?: unknown }>(`${run}/${EVAL_DIR}/result.json`);
  const status = await readStatus(sweepDir, task.index);
  const last = telemetry.at(-1);
  const val = num(last?.valAccuracy);
  const train = num(last?.trainAccuracy);
  const finished = genotype !== null && (!plan.evaluate || result !== null);
  const state: TaskState = finished ? "done" : status === null ? "pending" : status.state === "done"
    // The status says done but a file is gone: report it rather than trust the status.
    ? "failed"
    : status.state;
  return {
    index: task.index,
    setting: task.setting,
    seed: task.seed,
    dir: task.dir,
    state,
    exitCode: finished ? null : status?.exitCode ?? null,
    log: logPath(task.index),
    epochs: telemetry.length,
    searchSeconds: telemetry.length > 0
      ? telemetry.reduce((sum, t) => sum + (num(t.epochMs) ?? 0), 0) / 1000
      : null,
    supernetAccuracy: val ?? train,
    supernetAccuracyOn: val !== null ? "val" : train !== null ? "train" : null,
    evalAccuracy: num(result?.testAccuracy),
    genotype: genotype ? describeGenotype(genotype) : null,
  };
}

/**
 * Mean and sample standard deviation.
 *
 * @param values The values (nulls are left out).
 * @returns n, mean (null for none) and std (null below two).
 * @example
 * ```ts
 * import { stat } from "./collect.ts";
 * if (!(stat([1, 3, null]).std === Math.SQRT2)) throw new Error("the example's claim does not hold");
 * ```
 */
export function stat(values: readonly (number | null)[]): Stat {
  const xs = values.filter((v): v is number => v !== null);
  if (xs.length === 0) return { n: 0, mean: null, std: null };
  return { n: xs.length, mean: mean(xs), std: xs.length < 2 ? null : std(xs) };
}

/**
 * Reads every task of a sweep (finished or not) and summarises each setting over its seeds.
 *
 * @param sweepDir The sweep folder.
 * @returns The report (written by {@linkcode writeReport}).
 * @throws {SweepError} When the folder holds no plan.
 */
export async function collectSweep(sweepDir: string): Promise<SweepReport> {
  const plan = await readPlan(sweepDir);
  const tasks = await Promise.all(plan.tasks.map((t) => collectTask(sweepDir, plan, t)));
  const settings = [...new Set(tasks.map((t) => t.setting))].map((setting): CollectedSetting => {
    const done = tasks.filter((t) => t.setting === setting && t.state === "done");
    return {
      setting,
      tasks: tasks.filter((t) => t.setting === setting).length,
      done: done.length,
      searchSeconds: stat(done.map((t) => t.searchSeconds)),
      supernetAccuracy: stat(done.map((t) => t.supernetAccuracy)),
      evalAccuracy: stat(done.map((t) => t.evalAccuracy)),
    };
  });
  return { version: 1, spaceFile: plan.spaceFile, collected: new Date().toISOString(), settings, tasks };
}

const pct = (s: Stat) =>
  s.mean === null
    ? "-"
    : `${(100 * s.mean).toFixed(2)}%${s.std === null ? "" : ` ± ${(100 * s.std).toFixed(2)}`}`;
const secs = (s: Stat) =>
  s.mean === null ? "-" : `${s.mean.toFixed(1)} s${s.std === null ? "" : ` ± ${s.std.toFixed(1)}`}`;
const one = (v: number | null, f: (v: number) => string) => v === null ? "-" : f(v);

/**
 * The report as Markdown: a table per setting, a table per task, the genotypes, and what is left.
 *
 * @param report The collected sweep.
 * @param sweepDir The sweep folder, to show log paths.
 * @returns The text of `sweep.md`.
 */
export function renderReport(report: SweepReport, sweepDir: string): string {
  const lines = [
    `# Sweep of ${report.spaceFile}`,
    "",
    `Collected ${report.collected}: ${report.tasks.filter((t) => t.state === "done").length} of ` +
    `${report.tasks.length} tasks done. Mean ± sample std over the finished seeds; supernet accuracy ` +
    "is the last search epoch's on the α (val) half of the data.",
    "",
    "| setting | done | search time | supernet accuracy | evaluation accuracy |",
    "| --- | --- | --- | --- | --- |",
    ...report.settings.map((s) =>
      `| ${s.setting} | ${s.done}/${s.tasks} | ${secs(s.searchSeconds)} | ${pct(s.supernetAccuracy)} | ` +
      `${pct(s.evalAccuracy)} |`
    ),
    "",
    "## Tasks",
    "",
    "| task | setting | seed | state | epochs | search time | supernet accuracy | evaluation accuracy |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.tasks.map((t) =>
      `| ${t.index} | ${t.setting} | ${t.seed} | ${t.state} | ${t.epochs} | ` +
      `${one(t.searchSeconds, (v) => `${v.toFixed(1)} s`)} | ` +
      `${one(t.supernetAccuracy, (v) => `${(100 * v).toFixed(2)}% (${t.supernetAccuracyOn})`)} | ` +
      `${one(t.evalAccuracy, (v) => `${(100 * v).toFixed(2)}%`)} |`
    ),
    "",
    "## Genotypes",
  ];
  for (const s of report.settings) {
    lines.push("", `### ${s.setting}`);
    for (const t of report.tasks.filter((t) => t.setting === s.setting && t.genotype !== null)) {
      lines.push("", `seed ${t.seed} (${t.dir}):`, "");
      for (const [cell, edges] of Object.entries(t.genotype!)) lines.push(`- ${cell}: ${edges.join(", ")}`);
    }
  }
  const left = report.tasks.filter((t) => t.state !== "done");
  lines.push("", "## Unfinished or failed", "");
  if (left.length === 0) lines.push("None.");
  for (const t of left) {
    const code = t.exitCode !== null ? `, exit ${t.exitCode}` : "";
    lines.push(
      `- task ${t.index} (${t.setting}, seed ${t.seed}): ${t.state}${code}; log ${sweepDir}/${t.log}`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Writes `sweep.json` and `sweep.md` into the sweep folder (atomically).
 *
 * @param sweepDir The sweep folder.
 * @param report The collected sweep.
 */
export async function writeReport(sweepDir: string, report: SweepReport): Promise<void> {
  await writeJsonAtomic(`${sweepDir}/sweep.json`, report);
  await writeFileAtomic(`${sweepDir}/sweep.md`, renderReport(report, sweepDir));
}

/**
 * The Slurm job-array script of a sweep: one array task per combination, each running
 * `runtime/cli/sweep.ts --task DIR i` (which searches, or resumes from the task's checkpoint).
 *
 * Stopping and requeueing: Slurm sends SIGTERM on preemption and `scancel`; the task runner
 * forwards it, the search writes a checkpoint and exits 143, and a preempted task that Slurm
 * requeues (`--requeue`) resumes from that checkpoint. Before the time limit Slurm sends SIGUSR1 to
 * the script (`--signal=B:USR1@grace`): the script stops the task the same way and requeues it
 * itself with `scontrol requeue`, so a search longer than the partition's limit continues in the
 * next allocation. Logs are appended (`--open-mode=append`), one per task, across requeues.
 *
 * @module
 */
import { shellQuote } from "../core/shell.ts";
import { logPath, type SweepPlan } from "./plan.ts";

/** `#SBATCH` options a user passes through. */
export interface SlurmOptions {
  /** `--time`, e.g. `4:00:00`. */
  readonly time?: string;
  readonly partition?: string;
  /** `--gres`, e.g. `gpu:1`. */
  readonly gres?: string;
  readonly cpusPerTask?: number;
  /** `--mem`, e.g. `16G`. */
  readonly mem?: string;
  /** At most this many tasks at once (`--array=0-9%K`). */
  readonly parallel?: number;
  /**
   * Seconds before the time limit at which the task is stopped and requeued. Default 300: an
   * epoch step of the DARTS supernet takes seconds, a checkpoint a few more (SPEED.md).
   */
  readonly graceSeconds?: number;
  /** More `#SBATCH` lines, verbatim options (`--account=lab`). */
  readonly extra?: readonly string[];
}

/** Default `graceSeconds`: see {@linkcode SlurmOptions}. */
export const DEFAULT_GRACE_SECONDS = 300;

export { shellQuote };

/** Where the script runs things; absolute paths. */
export interface ScriptPaths {
  /** The sweep folder (on storage every node sees). */
  readonly sweepDir: string;
  /** The repository (or installed copy) holding `runtime/cli/sweep.ts`. */
  readonly root: string;
  /** The Deno binary; `$ASAP_DENO` overrides it when the job runs. */
  readonly deno: string;
}

/**
 * Writes the `sbatch` script of a sweep.
 *
 * @param plan The plan (its tasks are listed in comments).
 * @param paths Absolute paths of the sweep folder, the code and Deno.
 * @param options `#SBATCH` options.
 * @param name The job name.
 * @returns The script text.
 * @example
 * ```ts
 * import { renderSlurmScript } from "./slurm.ts";
 * const plan = { version: 1, spaceFile: "a.space", evaluate: false, searchArgs: [], evaluateArgs: [],
 *   created: "", tasks: [0, 1, 2].map((s) => ({ index: s, seed: s, overrides: [], setting: "default",
 *   dir: `default/seed-${s}` })) } as const;
 * const script = renderSlurmScript(plan, { sweepDir: "/s", root: "/r", deno: "/bin/deno" }, {}, "asap");
 * if (!(script.includes("#SBATCH --array=0-2\n"))) throw new Error("the example's claim does not hold");
 * ```
 */
export function renderSlurmScript(
  plan: SweepPlan,
  paths: ScriptPaths,
  options: SlurmOptions,
  name: string,
): string {
  const n = plan.tasks.length;
  const grace = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  const sbatch = [
    `--job-name=${name}`,
    `--array=0-${n - 1}${options.parallel !== undefined ? `%${options.parallel}` : ""}`,
    `--output=${paths.sweepDir}/${logPath(0).replace("0.log", "%a.log")}`,
    "--open-mode=append",
    "--requeue",
    `--signal=B:USR1@${grace}`,
    ...(options.time !== undefined ? [`--time=${options.time}`] : []),
    ...(options.partition !== undefined ? [`--partition=${options.partition}`] : []),
    ...(options.gres !== undefined ? [`--gres=${options.gres}`] : []),
    ...(options.cpusPerTask !== undefined ? [`--cpus-per-task=${options.cpusPerTask}`] : []),
    ...(options.mem !== undefined ? [`--mem=${options.mem}`] : []),
    ...(options.extra ?? []),
  ];
  const q = shellQuote;
  const dir = q(paths.sweepDir);
  const run = [
    `"$DENO" run --allow-read --allow-write=${dir} --allow-run`,
    `${q(`${paths.root}/runtime/cli/sweep.ts`)} --task ${dir} "$SLURM_ARRAY_TASK_ID"`,
  ].join(" ");
  return [
    "#!/bin/bash",
    `# ASAP sweep of ${plan.spaceFile}: ${n} task${n === 1 ? "" : "s"}, written by deno task sweep --slurm.`,
    ...sbatch.map((o) => `#SBATCH ${o}`),
    "#",
    ...plan.tasks.map((t) => `# task ${t.index}: ${t.setting}, seed ${t.seed} -> ${t.dir}`),
    "",
    "set -u",
    `cd ${q(paths.root)}`,
    `DENO="\${ASAP_DENO:-${paths.deno}}"`,
    `echo "task $SLURM_ARRAY_TASK_ID (job \${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID) on $(hostname), $(date -u)"`,
    "",
    "# The runner searches, or resumes from the task's checkpoint after a requeue.",
    `${run} &`,
    "task=$!",
    "requeue=0",
    "# SIGTERM (preemption, scancel): the runner checkpoints and exits; Slurm requeues a preempted task.",
    `trap 'kill -TERM "$task" 2>/dev/null' TERM`,
    `# SIGUSR1 (${grace} s before the time limit): checkpoint, then requeue this task.`,
    `trap 'requeue=1; kill -TERM "$task" 2>/dev/null' USR1`,
    'code=0; wait "$task" || code=$?',
    'while kill -0 "$task" 2>/dev/null; do code=0; wait "$task" || code=$?; done',
    'if [ "$requeue" = 1 ]; then',
    '  echo "time limit near: requeueing ${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID"',
    '  scontrol requeue "${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID"',
    "fi",
    'exit "$code"',
    "",
  ].join("\n");
}

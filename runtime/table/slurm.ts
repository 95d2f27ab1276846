/**
 * The Slurm job array that builds a ground-truth table: one array task per worker shard (`--shard
 * K/N`), each appending its runs to its own part file. A task stopped by preemption, `scancel` or
 * its time limit loses at most the training it was in: Slurm requeues it (`--requeue`), and the
 * worker skips what any part file already holds. `deno task table --merge` (or any later run of
 * the table command) merges the parts into the table.
 *
 * @module
 */

import { shellQuote as quote } from "../core/shell.ts";

/** What the array runs, as absolute paths. */
export interface TableScript {
  /** The repository holding `runtime/cli/table.ts`. */
  readonly root: string;
  readonly deno: string;
  /** The worker's arguments without `--shard`: the space, `--out`, `--seeds` … */
  readonly args: readonly string[];
  /** Array tasks (shards). */
  readonly tasks: number;
  /** The folder of the tasks' logs. */
  readonly logs: string;
  /** `#SBATCH` options, verbatim (`--time=4:00:00`, `--partition=cpu`). */
  readonly sbatch: readonly string[];
}

/**
 * The `sbatch` script.
 *
 * @param s What it runs.
 * @returns The script text.
 * @example
 * ```ts
 * import { tableSlurmScript } from "./slurm.ts";
 * const script = tableSlurmScript({ root: "/r", deno: "/bin/deno", args: ["s.space"], tasks: 8,
 *   logs: "/r/bench/logs", sbatch: [] });
 * if (!script.includes("#SBATCH --array=0-7\n") || !script.includes('--shard "$SLURM_ARRAY_TASK_ID/8"')) {
 *   throw new Error(script);
 * }
 * ```
 */
export function tableSlurmScript(s: TableScript): string {
  return [
    "#!/bin/bash",
    `# The ground-truth table in ${s.tasks} shards, written by deno task table --slurm.`,
    "#SBATCH --job-name=asap-table",
    `#SBATCH --array=0-${s.tasks - 1}`,
    "#SBATCH --cpus-per-task=1",
    `#SBATCH --output=${s.logs}/task-%a.log`,
    "#SBATCH --open-mode=append",
    "#SBATCH --requeue",
    ...s.sbatch.map((o) => `#SBATCH ${o}`),
    "",
    "set -u",
    `cd ${quote(s.root)}`,
    `DENO="\${ASAP_DENO:-${s.deno}}"`,
    `echo "shard $SLURM_ARRAY_TASK_ID of ${s.tasks} on $(hostname), $(date -u)"`,
    `exec "$DENO" run --allow-all runtime/cli/table.ts ${s.args.map(quote).join(" ")} ` +
    `--threads "\${SLURM_CPUS_PER_TASK:-1}" --shard "$SLURM_ARRAY_TASK_ID/${s.tasks}"`,
    "",
  ].join("\n");
}

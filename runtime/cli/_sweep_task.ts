/**
 * Runs one task of a sweep: its `search` (then its `evaluate`), each as a Deno subprocess, resuming
 * from the task's checkpoint when it was started before (a requeued, preempted or stopped task) and
 * skipping what is finished. It records its state in `status/task-<i>.json` for `--collect`.
 * SIGTERM is forwarded to the running step, which checkpoints and exits 143.
 *
 * @module
 */
import { exists } from "../core/atomic.ts";
import { EVAL_DIR, evaluateArgs, readPlan, searchArgs, SweepError } from "../sweep/plan.ts";
import { readStatus, type TaskStatus, writeStatus } from "../sweep/status.ts";
import { EXIT_INTERRUPTED, EXIT_TERMINATED } from "./_signals.ts";

/** The programs a task runs. */
export interface TaskPrograms {
  /** The Deno binary. */
  readonly deno: string;
  /** `runtime/cli/search.ts`. */
  readonly search: string;
  /** `runtime/cli/evaluate.ts`. */
  readonly evaluate: string;
}

/** Runs the steps' subprocesses; SIGTERM is forwarded to the running one and stops the task. */
class Steps {
  #child: Deno.ChildProcess | null = null;
  /** Whether a SIGTERM asked the task to stop. */
  stopped = false;
  #term = Deno.build.os !== "windows";
  #onTerm = () => {
    this.stopped = true;
    try {
      this.#child?.kill("SIGTERM");
    } catch {
      // It has exited already.
    }
  };
  // Ctrl-C reaches the whole process group, the step included: wait for its checkpoint.
  #onInt = () => {
    this.stopped = true;
  };

  constructor(private readonly programs: TaskPrograms, private readonly sweepDir: string) {
    if (this.#term) Deno.addSignalListener("SIGTERM", this.#onTerm);
    Deno.addSignalListener("SIGINT", this.#onInt);
  }

  /** Runs one CLI to its end; returns its exit code (128 + the signal when one killed it). */
  async run(cli: string, args: string[]): Promise<number> {
    this.#child = new Deno.Command(this.programs.deno, {
      // The search and evaluate tasks' grants: the native backend's cache and shim build, the memory check.
      args: [
        "run",
        "--allow-read",
        `--allow-write=${this.sweepDir},.asap-cache`,
        "--allow-ffi=.asap-cache",
        // python3 and ASAP_LIBTORCH: finding a CUDA libtorch the user has (kernels/native/build.ts).
        "--allow-run=g++,python3",
        "--allow-env=OMP_WAIT_POLICY,ASAP_LIBTORCH",
        "--allow-sys=systemMemoryInfo,cpus",
        cli,
        ...args,
      ],
      stdin: "null",
    }).spawn();
    const status = await this.#child.status;
    this.#child = null;
    if (status.signal === null) return status.code;
    return 128 + (status.signal === "SIGKILL" ? 9 : status.signal === "SIGINT" ? 2 : 15);
  }

  dispose(): void {
    if (this.#term) Deno.removeSignalListener("SIGTERM", this.#onTerm);
    Deno.removeSignalListener("SIGINT", this.#onInt);
  }
}

/**
 * Runs task `index` of the sweep in `sweepDir`, its output going to this process's stdout/stderr.
 *
 * @param sweepDir The sweep folder.
 * @param index The task (the Slurm array index).
 * @param programs Deno and the CLIs to run.
 * @returns 0 when the task is done; the failed or stopped step's exit code otherwise (130 or 143
 *   for a stop after checkpointing).
 * @throws {SweepError} When the folder holds no plan or no such task.
 */
export async function runTask(sweepDir: string, index: number, programs: TaskPrograms): Promise<number> {
  const plan = await readPlan(sweepDir);
  const task = plan.tasks[index];
  if (task === undefined) {
    throw new SweepError(`the sweep in "${sweepDir}" has tasks 0 to ${plan.tasks.length - 1}, not ${index}`);
  }
  const previous = await readStatus(sweepDir, index);
  const attempts = (previous?.attempts ?? 0) + 1;
  const record = (state: TaskStatus["state"], phase: TaskStatus["phase"], exitCode: number | null) =>
    writeStatus(sweepDir, { index, state, phase, exitCode, attempts });
  const run = `${sweepDir}/${task.dir}`;
  const steps = [
    {
      phase: "search" as const,
      done: `${run}/genotype.json`,
      started: `${run}/run.json`,
      cli: programs.search,
      args: (started: boolean) => searchArgs(sweepDir, plan, task, started),
    },
    ...(plan.evaluate
      ? [{
        phase: "evaluate" as const,
        done: `${run}/${EVAL_DIR}/result.json`,
        started: `${run}/${EVAL_DIR}/eval.json`,
        cli: programs.evaluate,
        args: (started: boolean) => evaluateArgs(sweepDir, plan, task, started),
      }]
      : []),
  ];
  const runner = new Steps(programs, sweepDir);
  try {
    for (const step of steps) {
      if (await exists(step.done)) continue;
      if (runner.stopped) {
        await record("stopped", step.phase, EXIT_TERMINATED);
        return EXIT_TERMINATED;
      }
      await record("running", step.phase, null);
      const code = await runner.run(step.cli, step.args(await exists(step.started)));
      if (code !== 0) {
        await record(
          code === EXIT_INTERRUPTED || code === EXIT_TERMINATED ? "stopped" : "failed",
          step.phase,
          code,
        );
        return code;
      }
    }
  } finally {
    runner.dispose();
  }
  await record("done", steps[steps.length - 1]!.phase, 0);
  return 0;
}

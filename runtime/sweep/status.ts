/**
 * A sweep task's state, `status/task-<i>.json`: written by the task runner
 * (runtime/cli/_sweep_task.ts), read by `--collect`.
 *
 * @module
 */
import { writeJsonAtomic } from "../core/atomic.ts";
import { logPath, statusPath } from "./plan.ts";

/** `status/task-<i>.json`. */
export interface TaskStatus {
  readonly index: number;
  /** `running` also when the process was killed without a chance to say otherwise (see the log). */
  readonly state: "running" | "done" | "failed" | "stopped";
  readonly phase: "search" | "evaluate";
  /** The step's exit code once it ended. */
  readonly exitCode: number | null;
  /** How many times the task was started (requeues and re-runs count). */
  readonly attempts: number;
  readonly log: string;
  readonly updated: string;
}

/**
 * Reads a task's status, or null when it never started.
 *
 * @param sweepDir The sweep folder.
 * @param index The task.
 * @returns Its status file's content, or null when there is none (or it is unreadable).
 */
export async function readStatus(sweepDir: string, index: number): Promise<TaskStatus | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${sweepDir}/${statusPath(index)}`)) as TaskStatus;
  } catch {
    return null;
  }
}

/**
 * Writes a task's status (atomically).
 *
 * @param sweepDir The sweep folder.
 * @param status The status; its log path and time are filled in.
 */
export async function writeStatus(
  sweepDir: string,
  status: Omit<TaskStatus, "log" | "updated">,
): Promise<void> {
  await writeJsonAtomic(
    `${sweepDir}/${statusPath(status.index)}`,
    {
      ...status,
      log: logPath(status.index),
      updated: new Date().toISOString(),
    } satisfies TaskStatus,
  );
}

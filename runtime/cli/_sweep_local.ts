/**
 * `deno task sweep --local`: the sweep's tasks as processes on this machine.
 *
 * @module
 */
import { logPath, type SweepPlan } from "../sweep/plan.ts";

/**
 * Runs the tasks as `sweep.ts --task` processes, K at once, each logging to `logs/task-<i>.log`.
 * Ctrl-C or SIGTERM starts no new task and lets the running ones checkpoint.
 *
 * @param dir The sweep folder.
 * @param sweepPlan Its plan.
 * @param parallel K.
 * @param sweepCli The path of `runtime/cli/sweep.ts`.
 * @param say Progress lines.
 * @returns Each started task's exit code, and whether a signal stopped the sweep.
 */
export async function runLocal(
  dir: string,
  sweepPlan: SweepPlan,
  parallel: number,
  sweepCli: string,
  say: (text: string) => void,
): Promise<{ codes: number[]; stopped: boolean }> {
  const running = new Set<Deno.ChildProcess>();
  let stopping = false;
  const onStop = () => {
    stopping = true;
    for (const child of running) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
    }
  };
  // Ctrl-C reaches the tasks too (one process group); SIGTERM is forwarded. Either way no new
  // task starts and the running ones checkpoint.
  const term = Deno.build.os !== "windows";
  const onInt = () => (stopping = true);
  Deno.addSignalListener("SIGINT", onInt);
  if (term) Deno.addSignalListener("SIGTERM", onStop);
  const codes: number[] = [];
  const queue = [...sweepPlan.tasks];
  const worker = async () => {
    for (let task = queue.shift(); task !== undefined && !stopping; task = queue.shift()) {
      const log = await Deno.open(`${dir}/${logPath(task.index)}`, { append: true, create: true });
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          `--allow-write=${dir}`,
          "--allow-run",
          sweepCli,
          "--task",
          dir,
          String(task.index),
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      running.add(child);
      const writer = log.writable.getWriter();
      const drain = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream) await writer.write(chunk);
      };
      await Promise.all([drain(child.stdout), drain(child.stderr)]);
      const status = await child.status;
      running.delete(child);
      await writer.close();
      const code = status.signal !== null ? 143 : status.code;
      codes.push(code);
      const what = code === 0
        ? "done"
        : code === 130 || code === 143
        ? "stopped (checkpointed)"
        : `failed (exit ${code})`;
      say(
        `task ${task.index} (${task.setting}, seed ${task.seed}): ${what}; log ${dir}/${
          logPath(task.index)
        }\n`,
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, sweepPlan.tasks.length) }, worker));
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    if (term) Deno.removeSignalListener("SIGTERM", onStop);
  }
  return { codes, stopped: stopping };
}

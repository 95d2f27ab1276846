/**
 * Stopping a long CLI run cleanly: Ctrl-C (SIGINT) or a scheduler's SIGTERM (Slurm sends it on
 * preemption, `scancel` and before the time limit) stops after the current step, so the command
 * writes its checkpoint and exits; `--resume` continues. A second Ctrl-C quits at once; a second
 * SIGTERM is ignored (a scheduler follows up with SIGKILL if it must, and a sweep's task runner
 * forwards the SIGTERM it got itself).
 *
 * @module
 */

/** 128 + SIGINT, as shells report a process stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;
/** 128 + SIGTERM: stopped by a scheduler after checkpointing; requeue or `--resume` continues. */
export const EXIT_TERMINATED = 143;

/** What {@linkcode listenForStop} returns. */
export interface StopListener {
  /** The exit code for the signal that stopped the run: 130 (SIGINT) or 143 (SIGTERM). */
  exitCode(): number;
  /** Removes the listeners. */
  remove(): void;
}

/**
 * Calls `stop` on the first SIGINT or SIGTERM.
 *
 * @param stop Asks the run to stop after its current step; receives the signal's name.
 * @returns The exit code to use and a remover.
 * @example
 * ```ts
 * import { listenForStop } from "./_signals.ts";
 * const controller = new AbortController();
 * const stops = listenForStop(() => controller.abort());
 * stops.remove();
 * if (stops.exitCode() !== 130) throw new Error("a run not stopped by a signal exits as after Ctrl-C");
 * ```
 */
export function listenForStop(stop: (signal: "SIGINT" | "SIGTERM") => void): StopListener {
  let stoppedBy: "SIGINT" | "SIGTERM" | null = null;
  const onSigint = () => {
    if (stoppedBy !== null) Deno.exit(EXIT_INTERRUPTED);
    stoppedBy = "SIGINT";
    stop("SIGINT");
  };
  const onSigterm = () => {
    if (stoppedBy !== null) return;
    stoppedBy = "SIGTERM";
    stop("SIGTERM");
  };
  // Windows has no SIGTERM listener (Deno supports SIGINT and SIGBREAK there).
  const term = Deno.build.os !== "windows";
  Deno.addSignalListener("SIGINT", onSigint);
  if (term) Deno.addSignalListener("SIGTERM", onSigterm);
  return {
    exitCode: () => stoppedBy === "SIGTERM" ? EXIT_TERMINATED : EXIT_INTERRUPTED,
    remove: () => {
      Deno.removeSignalListener("SIGINT", onSigint);
      if (term) Deno.removeSignalListener("SIGTERM", onSigterm);
    },
  };
}

/**
 * Aborts `controller` on the first SIGINT or SIGTERM, so the run stops after its current step and
 * checkpoints, and tells the user.
 *
 * @param controller The run's abort controller.
 * @param say Where to tell the user (a progress line).
 * @returns The exit code to use and a remover.
 */
export function stopAfterStep(controller: AbortController, say: (line: string) => void): StopListener {
  return listenForStop((signal) => {
    controller.abort();
    say(
      signal === "SIGINT"
        ? "stopping after the current step (Ctrl-C again quits without a new checkpoint)"
        : "SIGTERM: stopping after the current step to write a checkpoint",
    );
  });
}

/**
 * `status.json` in a run folder: whether the search is running, done, failed or interrupted, and
 * when its process last said so. The dashboard reads it; a run whose process died without a word
 * stays "running" here, and the reader calls it interrupted once `updated` is old.
 *
 * @module
 */
import { writeJsonAtomic } from "../core/atomic.ts";

/** The file's name inside a run folder. */
export const STATUS_FILE = "status.json";

/** What a search process says about its run. */
export type RunState = "running" | "done" | "failed" | "interrupted";

/** `status.json`. */
export interface RunStatusRecord {
  readonly state: RunState;
  /** When the process last wrote the file (ISO 8601): at each state change and every few steps. */
  readonly updated: string;
  /** Why the run failed, for "failed". */
  readonly message?: string;
}

/** How often a running search refreshes `updated` between epochs, at most (ms). */
const HEARTBEAT_MS = 15_000;

/**
 * Writes a run's `status.json`, atomically and one write at a time.
 *
 * @example
 * ```ts
 * import { RunStatusFile } from "./run_status.ts";
 * const dir = await Deno.makeTempDir();
 * const status = new RunStatusFile(dir);
 * await status.set("running");
 * status.beat(); // after each step: refreshes `updated` at most every 15 s
 * await status.set("done");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RunStatusFile {
  readonly #path: string;
  #state: RunState = "running";
  #last = 0;
  #chain: Promise<void> = Promise.resolve();

  /** @param dir The run folder (it must exist before the first write). */
  constructor(dir: string) {
    this.#path = `${dir}/${STATUS_FILE}`;
  }

  /**
   * Records a state.
   *
   * @param state The run's state.
   * @param message Why, for "failed".
   * @returns When the file is written.
   */
  set(state: RunState, message?: string): Promise<void> {
    this.#state = state;
    return this.#write(message);
  }

  /** Refreshes `updated` if the last write is older than 15 s (a running run's heartbeat). */
  beat(): void {
    if (Date.now() - this.#last >= HEARTBEAT_MS) this.#write().catch(() => {});
  }

  #write(message?: string): Promise<void> {
    this.#last = Date.now();
    const record: RunStatusRecord = {
      state: this.#state,
      updated: new Date().toISOString(),
      ...(message !== undefined ? { message } : {}),
    };
    this.#chain = this.#chain.catch(() => {}).then(() => writeJsonAtomic(this.#path, record));
    return this.#chain;
  }
}

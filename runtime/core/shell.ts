/**
 * Words for generated shell commands (Slurm job scripts of sweeps and of the ground-truth table, the
 * command a CLI suggests when it may not write a run folder).
 *
 * @module
 */

/**
 * A word for the shell: single-quoted unless it is plainly safe.
 *
 * @param word The word.
 * @returns It as the shell reads it back.
 * @example
 * ```ts
 * import { shellQuote } from "./shell.ts";
 * if (!(shellQuote("it's") === `'it'\\''s'`)) throw new Error("the example's claim does not hold");
 * ```
 */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

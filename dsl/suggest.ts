/**
 * "Did you mean …?": the closest known name by Damerau–Levenshtein distance (optimal string
 * alignment: insertions, deletions, substitutions and swaps of neighbours each cost 1).
 *
 * @module
 */

/**
 * The edit distance between two strings, counting a swap of two neighbouring characters as one edit.
 *
 * @param a a string
 * @param b another string
 * @returns the number of edits that turn `a` into `b`
 * @example
 * ```ts
 * import { editDistance } from "./suggest.ts";
 * if (editDistance("sep_conv_3x3", "sep_cnov_3x3") !== 1) throw new Error("a swap is one edit");
 * ```
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number) => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(rows - 1, cols - 1);
}

/** Longer names get no suggestion (see {@linkcode closest}). */
export const MAX_GUESSED_LENGTH = 128;

/**
 * The known name closest to `word`, when it is close enough to be a likely typo: at most a third
 * of the word's length in edits (at least 1, none for one letter; case differences are free), ties going to the first;
 * none for a word longer than {@linkcode MAX_GUESSED_LENGTH}.
 *
 * @param word what was written
 * @param known the names that exist
 * @returns the suggestion, or null
 */
export function closest(word: string, known: Iterable<string>): string | null {
  // The distance costs |word|·|name|: names this long are pasted or generated, not typed, so not guessed.
  if (word.length > MAX_GUESSED_LENGTH) return null;
  const limit = word.length <= 1 ? 0 : Math.max(1, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of known) {
    // The lengths alone bound the distance from below: skip what cannot be close (and long names fast).
    if (name === word || Math.abs(name.length - word.length) > limit) continue;
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The hint `did you mean "x"?` for a misspelt name, or null when nothing is close.
 *
 * @param word what was written
 * @param known the names that exist
 * @returns the hint or null
 * @example
 * ```ts
 * import { didYouMean } from "./suggest.ts";
 * const hint = didYouMean("sep_conv_9x9", ["skip_connect", "sep_conv_3x3"]);
 * if (hint !== 'did you mean "sep_conv_3x3"?') throw new Error(String(hint));
 * ```
 */
export function didYouMean(word: string, known: Iterable<string>): string | null {
  const name = closest(word, known);
  return name === null ? null : `did you mean "${name}"?`;
}

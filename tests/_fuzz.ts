// Mutations of .space texts for the fuzz test and the soak task: syntactic ones (tokens deleted,
// duplicated, swapped, random bytes, truncation) and semantic ones (numbers replaced by 0, −1,
// fractions and huge values; lists and blocks repeated many times; deep `extends` chains; long
// names). `judge()` says what is wrong with a compile of a mutated text, or null.
import { compileSpace, irToJson, parseIr } from "../dsl/mod.ts";

/** mulberry32: a small deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The .space files of spaces/, the seeds of the mutations. */
export function shippedSpaces(): { name: string; text: string }[] {
  const folder = new URL("../spaces/", import.meta.url);
  return [...Deno.readDirSync(folder)]
    .filter((e) => e.name.endsWith(".space"))
    .map((e) => e.name)
    .sort()
    .map((name) => ({ name, text: Deno.readTextFileSync(new URL(name, folder)) }));
}

function tokens(text: string): string[] {
  return text.match(/\s+|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:e-?\d+)?|\/\/[^\n]*|->|./g) ?? [];
}

/** Token deletions, duplications, swaps, random bytes and truncations (1 to 3 of them). */
export function mutateSyntax(text: string, random: () => number): string {
  const pick = (n: number) => Math.floor(random() * n);
  const parts = tokens(text);
  const rounds = 1 + pick(3);
  for (let r = 0; r < rounds; r++) {
    const i = pick(parts.length);
    const j = pick(parts.length);
    switch (pick(6)) {
      case 0:
        parts.splice(i, 1);
        break;
      case 1:
        parts.splice(i, 0, parts[i] ?? "");
        break;
      case 2: {
        const t = parts[i]!;
        parts[i] = parts[j]!;
        parts[j] = t;
        break;
      }
      case 3:
        parts.splice(i, 0, String.fromCharCode(pick(256)));
        break;
      case 4:
        parts.length = i;
        break;
      default:
        parts.splice(i, 0, parts[j] ?? "");
    }
  }
  return parts.join("");
}

/** A number as written in a space (not the digits inside a name such as `sep_conv_3x3`). */
export const NUMBER = /(?<![A-Za-z_\d.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Replacements for a number: boundaries, fractions, huge and unrepresentable values. */
const ODD_NUMBERS = [
  "0",
  "-1",
  "0.5",
  "1.5",
  "2.5",
  "1e5",
  "1e9",
  "4294967297",
  "1e300",
  "1e999",
  "-1e9",
  "3e-400",
  "100000",
  "65536",
  "1/0",
  "0/0",
];

/** Where a `{ … }` block opened at `open` closes (the text's end when it does not). */
function blockEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i + 1;
  }
  return text.length;
}

/**
 * One semantic mutation: a number replaced by an odd value, a list or a line or a block repeated up
 * to `scale` times, a deep `extends` chain, or a long name.
 *
 * @param text a space
 * @param random the PRNG
 * @param scale how large repetitions get (the test keeps it small, the soak large)
 */
export function mutateMeaning(text: string, random: () => number, scale: number): string {
  // A little past the compiler's limit on a file's length: both sides of it are tried.
  return mutateOnce(text, random, scale).slice(0, 120_000);
}

function mutateOnce(text: string, random: () => number, scale: number): string {
  if (text.length > 120_000) return text;
  const pick = (n: number) => Math.floor(random() * n);
  const times = () => 2 + pick(Math.max(1, scale));
  switch (pick(7)) {
    case 0:
    case 1: {
      // Numbers replaced by odd values (one to three of them).
      // From the last to the first, so earlier offsets stay right.
      const all = [...text.matchAll(NUMBER)];
      const chosen = [...new Set(Array.from({ length: 1 + pick(3) }, () => pick(all.length)))].sort((a, b) =>
        b - a
      );
      let out = text;
      for (const index of chosen) {
        const m = all[index];
        if (!m) continue;
        const value = ODD_NUMBERS[pick(ODD_NUMBERS.length)]!;
        out = out.slice(0, m.index) + value + out.slice(m.index! + m[0].length);
      }
      return out;
    }
    case 2: {
      // A list's items repeated: `candidates: a, b` → `candidates: a, b, a, b, …`.
      const lists = [...text.matchAll(/(candidates|inputs|nodes|reductions):\s*([^\n]*)/g)];
      const m = lists[pick(lists.length)];
      if (!m) return text;
      const items = m[2]!.replace(/^\[|\]$/g, "");
      const repeated = Array.from({ length: times() }, () => items).join(", ");
      return text.slice(0, m.index) + `${m[1]}: ${repeated}` + text.slice(m.index! + m[0].length);
    }
    case 3: {
      // A line repeated (an operation, a setting, an edge), as is or with a fresh name each time.
      const lines = text.split("\n");
      const i = pick(lines.length);
      const line = lines[i]!;
      const rename = random() < 0.5;
      const copies = Array.from(
        { length: times() },
        (_, k) => rename ? line.replace(/(\w+)\s*=/, `$1_${k} =`) : line,
      );
      lines.splice(i, 0, ...copies);
      return lines.join("\n");
    }
    case 4: {
      // A block (cell, supernet, search, evaluate) repeated, as is or renamed.
      const opens = [...text.matchAll(/\n\s*(cell\s+(\w+)[^{]*|supernet\s*|search[^{]*|evaluate\s*)\{/g)];
      const m = opens[pick(opens.length)];
      if (!m) return text;
      const start = m.index!;
      const block = text.slice(start, blockEnd(text, start + m[0].length - 1));
      const name = m[2];
      const copies = Array.from(
        { length: times() },
        (_, k) => name && random() < 0.7 ? block.replace(`cell ${name}`, `cell ${name}_${k}`) : block,
      );
      return text.slice(0, start) + copies.join("") + text.slice(start);
    }
    case 5: {
      // A deep extends chain (possibly closed into a cycle).
      const base = /cell\s+(\w+)/.exec(text)?.[1] ?? "normal";
      const n = times();
      const chain = Array.from(
        { length: n },
        (_, k) => `  cell chain${k} extends ${k === 0 ? base : `chain${k - 1}`} { }\n`,
      );
      if (random() < 0.3) chain[0] = `  cell chain0 extends chain${n - 1} { }\n`;
      const end = text.lastIndexOf("}");
      return end < 0 ? text + chain.join("") : text.slice(0, end) + chain.join("") + text.slice(end);
    }
    default: {
      // A name made very long (everywhere it occurs, or only once: an unknown name).
      const names = [...text.matchAll(/\b[a-z_][a-z0-9_]*\b/g)];
      const m = names[pick(names.length)];
      if (!m) return text;
      const long = m[0] + "_x".repeat(50 * times());
      return random() < 0.5
        ? text.split(m[0]).join(long)
        : text.slice(0, m.index) + long + text.slice(m.index! + m[0].length);
    }
  }
}

/**
 * What is wrong with the compile of `text`, or null: compileSpace() must not throw nor report an
 * internal error, it returns an IR exactly when there is no error, the IR survives a JSON round trip,
 * and every diagnostic points inside the text.
 *
 * @returns a message (null when all holds) and whether the text compiled
 */
export function judge(text: string): { problem: string | null; compiled: boolean } {
  let result;
  try {
    result = compileSpace(text, "fuzz.space");
  } catch (error) {
    return { problem: `compileSpace() threw: ${error}`, compiled: false };
  }
  const { ir, diagnostics } = result;
  const internal = diagnostics.find((d) => d.code === "internal-error");
  if (internal) return { problem: internal.message, compiled: false };
  const errors = diagnostics.filter((d) => d.severity === "error");
  if ((ir === null) !== (errors.length > 0)) {
    return { problem: "an IR with errors, or none without", compiled: false };
  }
  if (ir && irToJson(parseIr(irToJson(ir))) !== irToJson(ir)) {
    return { problem: "the IR does not survive a JSON round trip", compiled: true };
  }
  const lines = text.split(/\r\n|\r|\n/);
  for (const d of diagnostics) {
    const { line, column, offset } = d.span;
    if (line < 1 || line > lines.length) {
      return { problem: `${d.code} at line ${line} of ${lines.length}`, compiled: !!ir };
    }
    if (column < 1 || column > lines[line - 1]!.length + 1) {
      return { problem: `${d.code} at column ${column} on line ${line}`, compiled: !!ir };
    }
    if (offset < 0 || offset > text.length) {
      return { problem: `${d.code} at offset ${offset}`, compiled: !!ir };
    }
    if (d.code === "out-of-range" && !d.hint && /must be at most [\d,]+ but/.test(d.message)) {
      return { problem: `out-of-range without a hint: ${d.message}`, compiled: !!ir };
    }
  }
  return { problem: null, compiled: ir !== null };
}

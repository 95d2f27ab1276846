// `deno task soak [--cases N] [--seed S] [--scale K]`: the long fuzz run. First every one-number
// substitution (1e5, 1e9) of every file in spaces/, then N mutated spaces (syntactic and semantic, with
// lists and blocks repeated up to K times); each must compile or be refused with diagnostics inside the
// text, in under a second. Prints the slowest cases; exits 1 on the first broken one or any slow one.
import { parseArgs } from "../dsl/deps.ts";
import { judge, mutateMeaning, mutateSyntax, NUMBER, rng, shippedSpaces } from "./_fuzz.ts";

/** The promise of issue 11: any input compiles, or is refused, in under a second. */
const BUDGET_MS = 1000;

function main(args: string[]): number {
  const flags = parseArgs({
    args,
    options: { cases: { type: "string" }, seed: { type: "string" }, scale: { type: "string" } },
  }).values;
  const cases = Number(flags.cases ?? 20_000);
  const seed = Number(flags.seed ?? Date.now() % 2 ** 31);
  const scale = Number(flags.scale ?? 2000);
  const spaces = shippedSpaces();
  const timed: { ms: number; what: string; length: number }[] = [];
  const check = (text: string, what: string): boolean => {
    const started = performance.now();
    const { problem } = judge(text);
    const ms = performance.now() - started;
    timed.push({ ms, what, length: text.length });
    if (ms >= BUDGET_MS) console.error(`slow: ${ms.toFixed(0)} ms  ${what}, ${text.length} characters`);
    if (problem === null) return true;
    const file = Deno.makeTempFileSync({ prefix: "soak-", suffix: ".space" });
    Deno.writeTextFileSync(file, text);
    console.error(`broken: ${what}: ${problem} (the text is in ${file})`);
    return false;
  };
  for (const { name, text } of spaces) {
    for (const m of text.matchAll(NUMBER)) {
      for (const value of ["1e5", "1e9"]) {
        const line = text.slice(0, m.index).split("\n").length;
        const mutated = text.slice(0, m.index) + value + text.slice(m.index! + m[0].length);
        if (!check(mutated, `${name}:${line} ${m[0]} → ${value}`)) return 1;
      }
    }
  }
  const substitutions = timed.length;
  const random = rng(seed);
  for (let n = 0; n < cases; n++) {
    const source = spaces[n % spaces.length]!;
    const semantic = random() < 0.7;
    let text = source.text;
    if (semantic) {
      for (let r = 1 + Math.floor(random() * 3); r > 0; r--) text = mutateMeaning(text, random, scale);
    } else text = mutateSyntax(text, random);
    if (!check(text, `seed ${seed} case ${n} (${semantic ? "semantic" : "syntactic"}, ${source.name})`)) {
      return 1;
    }
    if ((n + 1) % 1000 === 0) console.log(`${n + 1} of ${cases} mutations`);
  }
  timed.sort((a, b) => b.ms - a.ms);
  const slow = timed.filter((t) => t.ms >= BUDGET_MS);
  console.log(
    `${substitutions} substitutions and ${cases} mutations (seed ${seed}, scale ${scale}); slowest:\n` +
      timed.slice(0, 5).map((t) => `  ${t.ms.toFixed(0)} ms  ${t.what}, ${t.length} characters`).join("\n"),
  );
  if (slow.length > 0) {
    console.error(`${slow.length} took a second or more`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));

// Property test: mutated versions of the spaces/ files never make compileSpace() throw, and every
// failed compile explains itself with an error located inside the text. Syntactic mutations (token
// deletions, duplications, swaps, random bytes, truncations) and semantic ones (numbers replaced by 0,
// −1, fractions and huge values; lists and blocks repeated; deep extends chains; long names). Fixed
// seed: failures reproduce. `deno task soak` runs many more, larger ones, and times each.
import { assert } from "./deps.ts";
import { judge, mutateMeaning, mutateSyntax, rng, shippedSpaces } from "./_fuzz.ts";

const SYNTACTIC = 3000;
const SEMANTIC = 7000;
const SEED = 20240607;
/** Repetitions of a list, line or block stay below this here; the soak goes far higher. */
const SCALE = 40;

Deno.test(`compileSpace() never throws on ${SYNTACTIC} token-level mutations and locates every error inside the text`, () => {
  const sources = shippedSpaces().map((s) => s.text);
  assert.ok(sources.length >= 3);
  const random = rng(SEED);
  let failed = 0;
  for (let n = 0; n < SYNTACTIC; n++) {
    const text = mutateSyntax(sources[n % sources.length]!, random);
    const { problem, compiled } = judge(text);
    assert.equal(problem, null, `case ${n}: ${problem}\n--- text ---\n${text}`);
    if (!compiled) failed++;
  }
  // The mutations must actually break most texts, or the test proves little.
  assert.ok(failed > SYNTACTIC / 2, `only ${failed} of ${SYNTACTIC} mutated texts failed to compile`);
});

Deno.test(`compileSpace() compiles or refuses ${SEMANTIC} semantic mutations (odd and huge numbers, repeated lists and blocks, deep extends, long names)`, () => {
  const sources = shippedSpaces().map((s) => s.text);
  const random = rng(SEED + 1);
  const outcomes = { compiled: 0, refused: 0 };
  for (let n = 0; n < SEMANTIC; n++) {
    let text = sources[n % sources.length]!;
    for (let r = 1 + Math.floor(random() * 2); r > 0; r--) text = mutateMeaning(text, random, SCALE);
    const { problem, compiled } = judge(text);
    assert.equal(problem, null, `case ${n}: ${problem}\n--- text ---\n${text.slice(0, 4000)}`);
    outcomes[compiled ? "compiled" : "refused"]++;
  }
  // Both outcomes must be common, or the mutations test only one side.
  assert.ok(outcomes.compiled > SEMANTIC / 20 && outcomes.refused > SEMANTIC / 4, JSON.stringify(outcomes));
});

// Property test: mutated versions of the spaces/ files (token deletions, duplications, swaps,
// random bytes, truncations) never make compileSpace() throw, and every failed compile explains
// itself with an error located inside the text. Fixed seed: failures reproduce.
import { assert } from "./deps.ts";
import { compileSpace, irToJson, parseIr } from "../dsl/mod.ts";

const CASES = 2400;
const SEED = 20240607;

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tokens(text: string): string[] {
  return text.match(/\s+|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:e-?\d+)?|\/\/[^\n]*|->|./g) ?? [];
}

function mutate(text: string, random: () => number): string {
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

Deno.test(`compileSpace() never throws on ${CASES} mutated spaces and locates every error inside the text`, async () => {
  const folder = new URL("../spaces/", import.meta.url);
  const sources: string[] = [];
  for (const entry of Deno.readDirSync(folder)) {
    if (entry.name.endsWith(".space")) sources.push(await Deno.readTextFile(new URL(entry.name, folder)));
  }
  assert.ok(sources.length >= 3);
  const random = rng(SEED);
  let failed = 0;
  for (let n = 0; n < CASES; n++) {
    const text = mutate(sources[n % sources.length]!, random);
    let result;
    try {
      result = compileSpace(text, "fuzz.space");
    } catch (error) {
      throw new Error(`compileSpace() threw on case ${n}: ${error}\n--- text ---\n${text}`);
    }
    const { ir, diagnostics } = result;
    assert.ok(
      !diagnostics.some((d) => d.code === "internal-error"),
      `case ${n}: ${diagnostics[0]?.message}\n${text}`,
    );
    const errors = diagnostics.filter((d) => d.severity === "error");
    assert.equal(ir === null, errors.length > 0, `case ${n}`);
    if (ir) {
      assert.deepEqual(parseIr(irToJson(ir)), ir);
      continue;
    }
    failed++;
    const lines = text.split(/\r\n|\r|\n/);
    for (const d of diagnostics) {
      const { line, column, offset } = d.span;
      assert.ok(line >= 1 && line <= lines.length, `case ${n}: line ${line} of ${lines.length}`);
      assert.ok(
        column >= 1 && column <= lines[line - 1]!.length + 1,
        `case ${n}: column ${column} on line ${line}`,
      );
      assert.ok(offset >= 0 && offset <= text.length, `case ${n}: offset ${offset}`);
    }
  }
  // The mutations must actually break most texts, or the test proves little.
  assert.ok(failed > CASES / 2, `only ${failed} of ${CASES} mutated texts failed to compile`);
});

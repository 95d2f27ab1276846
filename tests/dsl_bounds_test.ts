// Size limits (dsl/bounds.ts): a size past its limit is refused at its value, with a hint that names
// the limit and why, before anything grows with it; every real space stays within the limits; and
// every one-number substitution (1e5, 1e9) of every file in spaces/ compiles or is refused.
// `deno task soak` times the same substitutions (each must take under a second) and many more mutations.
import { assert } from "./deps.ts";
import { compileSpace, summarize } from "../dsl/mod.ts";
import { LIMITS } from "../dsl/bounds.ts";
import { judge, NUMBER, shippedSpaces } from "./_fuzz.ts";

/** A DARTS-like space with `overrides` spliced into its blocks. */
function space(cell: string, supernet: string, evaluate = ""): string {
  return `space s {
  operation skip = identity
  operation sep = sep_conv(kernel: 3)
  operation pool = max_pool(kernel: 3)
  cell normal { ${cell} candidates: skip, sep, pool }
  cell reduction extends normal { reduction: true }
  supernet { ${supernet} }
  evaluate { ${evaluate} }
}`;
}

function refusal(text: string, value: string) {
  const { ir, diagnostics } = compileSpace(text, "s.space");
  assert.equal(ir, null);
  const d = diagnostics.find((d) => d.code === "out-of-range");
  assert.ok(d, diagnostics.map((d) => d.message).join("; "));
  assert.equal(text.slice(d.span.offset, d.span.offset + d.span.length), value, d.message);
  assert.match(d.hint ?? "", /^the limit is [\d,]+: /);
  return d;
}

Deno.test("compileSpace() refuses nodes: 20000 at the value, naming the limit of 64 and why", () => {
  const d = refusal(space("nodes: 20000", ""), "20000");
  assert.equal(d.message, '"nodes" must be at most 64 but is 20000');
  assert.match(d.hint!, /the limit is 64: all_previous edges grow with the square of the nodes/);
});

Deno.test("compileSpace() refuses a supernet of 10,000,000 cells and of 1e9 channels at their values", () => {
  refusal(space("nodes: 4", "cells: 10000000"), "10000000");
  refusal(space("nodes: 4", "channels: 1000000000"), "1000000000");
  refusal(space("nodes: 4", "", "channels: 1e9"), "1e9");
});

Deno.test("compileSpace() refuses channels that the reductions double past the widest limit", () => {
  const d = refusal(
    space("nodes: 4", "channels: 4096 cells: 8 reductions: [1, 2, 3, 4, 5]"),
    "reductions: [1, 2, 3, 4, 5]",
  );
  assert.match(d.message, /4096 · 2\^5 = 131,072/);
});

Deno.test("compileSpace() refuses kernels, dilations and lists past their limits", () => {
  const kernel = space("nodes: 4", "").replace("sep_conv(kernel: 3)", "sep_conv(kernel: 1001)");
  refusal(kernel, "1001");
  const dilated = space("nodes: 4", "").replace("sep_conv(kernel: 3)", "dil_conv(kernel: 31, dilation: 9)");
  assert.match(
    refusal(dilated, "31").message,
    /span of "dil_conv"'s kernel must be at most 255 but is 271 pixels/,
  );
  const inputs = Array.from({ length: 40 }, (_, i) => `i${i}`).join(", ");
  refusal(space(`inputs: ${inputs} nodes: 4`, ""), "i16");
});

Deno.test("compileSpace() refuses a file over 100,000 characters without parsing it", () => {
  const text = space("nodes: 4", "") + `// ${"x".repeat(LIMITS.source.max)}`;
  const { ir, diagnostics } = compileSpace(text, "big.space");
  assert.equal(ir, null);
  assert.equal(diagnostics.length, 1);
  assert.match(diagnostics[0]!.message, /a \.space file must be at most 100,000 but is 100,\d{3} characters/);
});

Deno.test("compileSpace() accepts the sizes of NAS-Bench-201, ENAS, DARTS on ImageNet and 20-cell evaluation at C = 50", () => {
  const sizes = [
    ["nodes: 3 inputs: prev", "channels: 16 cells: 17 reductions: [5, 11]", "cells: 17 channels: 16"], // NB201
    ["nodes: 5", "channels: 20 cells: 6", "cells: 15 channels: 36"], // ENAS
    ["nodes: 4", "channels: 48 cells: 14 stem_multiplier: 3", "cells: 14 channels: 48"], // DARTS ImageNet
    ["nodes: 4", "channels: 16 cells: 8", "cells: 20 channels: 50"],
    ["nodes: 8", "channels: 64 cells: 32", "cells: 100 channels: 128"], // larger than any of them
  ];
  for (const [cell, supernet, evaluate] of sizes) {
    const { ir, diagnostics } = compileSpace(space(cell!, supernet!, evaluate), "s.space");
    assert.ok(ir, diagnostics.map((d) => d.message).join("; "));
  }
});

Deno.test("every one-number substitution (1e5, 1e9) of every file in spaces/ compiles or is refused with a diagnostic", () => {
  let cases = 0;
  let refused = 0;
  for (const { name, text } of shippedSpaces()) {
    for (const m of text.matchAll(NUMBER)) {
      for (const value of ["1e5", "1e9"]) {
        const mutated = text.slice(0, m.index) + value + text.slice(m.index! + m[0].length);
        const where = `${name}:${text.slice(0, m.index).split("\n").length} ${m[0]} → ${value}`;
        const { problem, compiled } = judge(mutated);
        assert.equal(problem, null, where);
        cases++;
        if (!compiled) {
          refused++;
          continue;
        }
        // What compiles can also be summarized, with finite sizes.
        const summary = summarize(compileSpace(mutated, name).ir!);
        assert.ok(Number.isFinite(summary.weightParams) && summary.weightParams < 1e15, where);
      }
    }
  }
  assert.ok(cases > 400 && refused > 100, `${cases} cases, ${refused} refused`);
});

Deno.test("LANGUAGE.md lists every size limit with the number dsl/bounds.ts enforces", async () => {
  const doc = await Deno.readTextFile(new URL("../dsl/LANGUAGE.md", import.meta.url));
  const section = doc.slice(doc.indexOf("## Size limits"), doc.indexOf("## Diagnostics"));
  const listed = [...section.matchAll(/\| ([\d,; ]+?) *\|$/gm)].flatMap((m) => m[1]!.split(";"))
    .map((n) => Number(n.trim().replaceAll(",", "")));
  const enforced = Object.values(LIMITS).map((l) => l.max);
  assert.deepEqual([...listed].sort((a, b) => a - b), [...enforced].sort((a, b) => a - b));
});

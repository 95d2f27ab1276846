// The README's examples stay true: its `.space` example compiles and its error example is what the
// compiler prints.
import { assert } from "./deps.ts";
import { compileSpace, renderDiagnostics } from "../dsl/mod.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** The fenced blocks that follow a heading, in order. */
function blocksAfter(heading: string): string[] {
  const section = readme.slice(readme.indexOf(heading));
  return [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

Deno.test("the README's .space example compiles", () => {
  const [example] = blocksAfter("## The `.space` language");
  const { ir, diagnostics } = compileSpace(example!, "README.md");
  assert.ok(ir, renderDiagnostics(diagnostics, example!));
  assert.deepEqual(ir.cellTypes.map((c) => c.name), ["normal", "reduction"]);
});

Deno.test("the README's diagnostic example is what the compiler prints for that typo", () => {
  const [, printed] = blocksAfter("## The `.space` language");
  const text = typoFixture();
  const { diagnostics } = compileSpace(text, "spaces/x.space");
  assert.equal(renderDiagnostics(diagnostics, text).trim(), printed!.trim());
});

/** A file whose line 7 holds the typo the README shows. */
function typoFixture(): string {
  return `space x {
  operation skip_connect = identity
  operation sep_conv_3x3 = sep_conv(kernel: 3)
  cell normal {
    inputs: prev
    nodes: 1
    candidates: skip_connect, sep_conv_9x9
  }
  supernet { cells: 3  reductions: [] }
}
`;
}

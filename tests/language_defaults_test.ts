// dsl/LANGUAGE.md's tables of defaults against the compiler: a space that sets nothing, printed back
// (the printer writes every setting), must show each default the reference states.
import { assert } from "./deps.ts";
import { compileSpace, printSpace } from "../dsl/mod.ts";

const LANGUAGE = new URL("../dsl/LANGUAGE.md", import.meta.url);

/** The `entry | default | …` rows of one `## section` of LANGUAGE.md. */
function defaultsTable(markdown: string, section: string): Map<string, string> {
  const start = markdown.indexOf(`\n## ${section}\n`);
  assert.ok(start >= 0, `LANGUAGE.md has a "## ${section}" section`);
  const end = markdown.indexOf("\n## ", start + 1);
  const rows = new Map<string, string>();
  for (const line of markdown.slice(start, end < 0 ? undefined : end).split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const entry = /^`(\w+)`/.exec(cells[1] ?? "")?.[1];
    if (entry && cells[2] !== undefined) rows.set(entry, cells[2]);
  }
  return rows;
}

/** The default an algorithm gets from a table cell such as "asap: `x`; others: `y`". */
function defaultFor(cell: string, algorithm: string): string | null {
  const labels = { asap: "asap", darts: "others", magnitude: "baselines" } as const;
  const parts = cell.split(";").map((p) => p.trim());
  const labelled = parts.filter((p) => /^\w+:\s/.test(p) && !p.startsWith("`"));
  const text = labelled.length === 0
    ? cell
    : labelled.find((p) => p.startsWith(`${labels[algorithm as keyof typeof labels]}:`))?.replace(
      /^\w+:\s*/,
      "",
    );
  if (text === undefined) return null;
  const code = /`([^`]+)`/.exec(text)?.[1] ?? text;
  return /^[\w.\-/\[\], ():]+$/.test(code) ? code : null;
}

/** Numbers written the same way (3e-4 and 0.0003 are one value). */
function normalize(text: string): string {
  return text.replace(/-?\d+(?:\.\d+)?(?:e-?\d+)?/g, (n) => String(Number(n))).replace(/\s+/g, " ").trim();
}

/** A block's `key: value` lines in printed `.space` text. */
function printedBlock(printed: string, header: RegExp): Map<string, string> {
  const lines = printed.split("\n");
  const from = lines.findIndex((l) => header.test(l));
  const out = new Map<string, string>();
  for (const line of lines.slice(from + 1)) {
    if (line.trim() === "}") break;
    const m = /^\s*(\w+): (.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

const SPACE = (algorithm: string) =>
  `space s {
  operation skip = identity
  cell normal { nodes: 2 candidates: skip }
  cell reduction extends normal { reduction: true }
  search ${algorithm} { }
}`;

Deno.test("every default in LANGUAGE.md's supernet, search and evaluate tables is the compiler's", async () => {
  const markdown = await Deno.readTextFile(LANGUAGE);
  let compared = 0;
  for (const algorithm of ["asap", "darts", "magnitude"]) {
    const { ir, diagnostics } = compileSpace(SPACE(algorithm), "s.space");
    assert.ok(ir, diagnostics.map((d) => d.message).join("; "));
    const printed = printSpace(ir);
    for (
      const [section, header] of [["supernet", /^\s*supernet \{/], ["search", /^\s*search \w+ \{/], [
        "evaluate",
        /^\s*evaluate \{/,
      ]] as const
    ) {
      const block = printedBlock(printed, header);
      for (const [entry, cell] of defaultsTable(markdown, section)) {
        const expected = defaultFor(cell, algorithm);
        if (expected === null || !block.has(entry)) continue;
        let actual = block.get(entry)!;
        // Reductions are written as fractions of the stack and printed as the cell indices they resolve to.
        const fractions = [...expected.matchAll(/(\d+)\/(\d+)/g)];
        if (entry === "reductions" && fractions.length > 0) {
          const cells = Number(block.get("cells"));
          const resolved = fractions.map((f) => Math.floor((cells * Number(f[1])) / Number(f[2])));
          assert.equal(actual, `[${resolved.join(", ")}]`, `${section} ${entry} (${algorithm})`);
        } else {
          if (entry === "normal" || entry === "reduction") actual = actual.trim();
          assert.equal(
            normalize(actual),
            normalize(expected),
            `${section} ${entry} (${algorithm}): LANGUAGE.md says ${cell}`,
          );
        }
        compared++;
      }
    }
  }
  // The tables were read: supernet (7), search (10 for asap), evaluate (11) and more.
  assert.ok(compared >= 40, `${compared} defaults compared`);
});

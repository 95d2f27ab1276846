// DARTS-format genotypes: the published DARTS_V2 string reads into the same space as
// spaces/darts_v2.space (3,349,342 parameters), typos get located diagnostics, and found cells
// that fit the form are written back in it.
import { assert } from "./deps.ts";
import { compileSpace } from "../dsl/compile.ts";
import { renderDiagnostics } from "../dsl/diagnostics.ts";
import { formatDartsGenotype, parseDartsGenotype, readDartsGenotype } from "../dsl/darts_genotype.ts";
import { inferEvaluation } from "../dsl/infer.ts";
import { fixedCells, type GenotypeCell, type SpaceIR } from "../dsl/ir.ts";
import { main as compileCli } from "../dsl/cli.ts";
import { main as evaluate } from "../runtime/cli/evaluate.ts";
import { writeFinalOutputs } from "../runtime/report/run_folder.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { mutateSyntax, rng } from "./_fuzz.ts";

/** DARTS_V2 as DARTS' genotypes.py publishes it. */
const DARTS_V2 =
  "DARTS_V2 = Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), " +
  "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], " +
  "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), " +
  "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], " +
  "reduce_concat=[2, 3, 4, 5])";

function compileFile(name: string): SpaceIR {
  const path = new URL(`../spaces/${name}`, import.meta.url);
  const { ir, diagnostics } = compileSpace(Deno.readTextFileSync(path), name);
  assert.ok(ir, JSON.stringify(diagnostics));
  return ir;
}

function cellsOf(ir: SpaceIR): GenotypeCell[] {
  const fixed = fixedCells(ir);
  assert.ok("cells" in fixed, "the space's cells are not fixed");
  return fixed.cells;
}

/** The IR without what only names where it came from (spans, the space's name and file). */
function shape(ir: SpaceIR): unknown {
  return JSON.parse(
    JSON.stringify({ ...ir, name: "", source: "" }, (key, value) => key === "span" ? undefined : value),
  );
}

Deno.test("readDartsGenotype() reads the published DARTS_V2 into spaces/darts_v2.space: 3,349,342 parameters", () => {
  const { ir, diagnostics } = readDartsGenotype(DARTS_V2, "<genotype>");
  assert.deepEqual(diagnostics, []);
  assert.ok(ir);
  assert.equal(ir.name, "darts_v2");
  const options = { inputSize: 32, inputChannels: 3, classes: 10, auxiliary: false };
  assert.equal(inferEvaluation(ir, cellsOf(ir), options).params, 3_349_342);
  // Not only the count: the same operations, cells, settings and evaluation as the shipped file.
  assert.deepEqual(shape(ir), shape(compileFile("darts_v2.space")));
});

Deno.test("a DARTS genotype with a typo gets a located diagnostic with a hint, rendered like the compiler's", () => {
  const typo = DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_cnov_3x3', 2)");
  const { ir, diagnostics } = readDartsGenotype(typo, "published.txt");
  assert.equal(ir, null);
  assert.equal(diagnostics.length, 1);
  const column = typo.indexOf("'dil_cnov_3x3'") + 1;
  assert.equal(
    renderDiagnostics(diagnostics, typo).split("\n")[0],
    `published.txt:1:${column} error[unknown-op]: operation "dil_cnov_3x3" is not one of DARTS' operations`,
  );
  assert.equal(diagnostics[0]!.hint, 'did you mean "dil_conv_3x3"?');
  const caret = renderDiagnostics(diagnostics, typo).split("\n")[2]!;
  assert.equal(caret.indexOf("^"), "1 | ".length + column - 1);
  assert.match(caret, new RegExp(`\\| +\\^{${"'dil_cnov_3x3'".length}}$`));
});

Deno.test("parseDartsGenotype() locates syntax errors, unknown fields and impossible cells", () => {
  const cases: [string, string, RegExp][] = [
    // A missing comma between two entries, on the second line.
    [
      DARTS_V2.replace(
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 0)",
        "('sep_conv_3x3', 1)\n ('sep_conv_3x3', 0)",
      ),
      "parse-error",
      /^g:2:2 error\[parse-error\]: expected ',' or '\]' but found '\('$/,
    ],
    [DARTS_V2.replace("normal_concat", "normal_concta"), "unknown-field", /unknown field "normal_concta"/],
    [DARTS_V2.replace("Genotype(", "Genotpye("), "parse-error", /expected 'Genotype' but found 'Genotpye'/],
    [
      DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),
      "bad-input",
      /node 3 of "normal" cannot read input 5: it reads 0 \(prev_prev\), 1 \(prev\), 2 \(node 0\), 3 \(node 1\) or 4 \(node 2\)/,
    ],
    [
      DARTS_V2.replace(", ('dil_conv_3x3', 2)", ""),
      "odd-entries",
      /"normal" has 7 entries; a DARTS cell has two per node/,
    ],
    [
      DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 3, 6]"),
      "bad-concat",
      /names 6, which is not a node/,
    ],
    [DARTS_V2.replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing-field", /has no "reduce_concat"/],
    [
      DARTS_V2.replace(
        "('skip_connect', 0), ('dil_conv_3x3', 2)",
        "('skip_connect', 2), ('dil_conv_3x3', 2)",
      ),
      "duplicate-edge",
      /node 3 of "normal" reads input 2 twice/,
    ],
  ];
  for (const [text, code, message] of cases) {
    const { genotype, diagnostics } = parseDartsGenotype(text, "g");
    assert.equal(genotype, null, text);
    assert.equal(diagnostics[0]?.code, code, JSON.stringify(diagnostics));
    assert.match(renderDiagnostics(diagnostics, text).split("\n")[0]!, message);
  }
  const hinted = parseDartsGenotype(DARTS_V2.replace("normal_concat", "normal_concta"), "g").diagnostics[0];
  assert.equal(hinted?.hint, 'did you mean "normal_concat"?');
});

Deno.test("range() concat lists, comments and a trailing comma read as DARTS' own files write them", () => {
  const text =
    `# from genotypes.py\nPC_DARTS = Genotype(\n  normal=[('sep_conv_3x3', 1), ('skip_connect', 0),],\n` +
    `  normal_concat=range(2, 3),\n  reduce=[("sep_conv_5x5", 1), ("max_pool_3x3", 0)],\n  reduce_concat=range(2, 3),\n)\n`;
  const { ir, diagnostics } = readDartsGenotype(text, "pc.txt");
  assert.deepEqual(diagnostics, []);
  assert.equal(ir?.name, "pc_darts");
  assert.deepEqual(ir?.cellTypes.map((cell) => cell.output.nodes), [[0], [0]]);
});

Deno.test("formatDartsGenotype() writes DARTS_V2 back, and says why cells that do not fit the form are not written", () => {
  const ir = compileFile("darts_v2.space");
  const written = formatDartsGenotype(ir, cellsOf(ir));
  assert.ok("text" in written, JSON.stringify(written));
  // Entries are listed by input within a node; read back, they give the same space.
  assert.deepEqual(shape(readDartsGenotype(written.text, "<genotype>").ir!), shape(ir));
  assert.match(written.text, /^Genotype\(normal=\[\('sep_conv_3x3', 0\), \('sep_conv_3x3', 1\), /);
  assert.match(written.text, /normal_concat=\[2, 3, 4, 5\], reduce=\[\('max_pool_3x3', 0\), /);
  // ASAP's cells keep every edge (one op per edge): nodes read more than two inputs.
  const asap = compileFile("asap.space");
  const allEdges = asap.cellTypes.map((cell) => ({
    cellType: cell.name,
    edges: cell.edges.map((edge) => ({ from: edge.from, to: edge.to, op: edge.candidates[0]! })),
  }));
  const refused = formatDartsGenotype(asap, allEdges);
  assert.ok("reason" in refused);
  assert.match(refused.reason, /keeps \d+ edges, not 2/);
});

Deno.test("evaluate and compile take a DARTS genotype as the argument or in a file; a typo exits 1 with its location", async () => {
  await withTempDir(async (dir) => {
    // An empty folder is read as CIFAR-10 (32×32×3, 10 classes); --dry-run loads no images.
    const io = captureIo();
    assert.equal(await evaluate([DARTS_V2, "--dry-run", "--data", dir], io), 0, io.stderr());
    assert.match(io.stdout(), /^parameters: 3,349,342 without the auxiliary head/m);
    const file = `${dir}/genotype.txt`;
    await Deno.writeTextFile(file, `${DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3' 2)")}\n`);
    const typo = captureIo();
    assert.equal(await evaluate([file, "--dry-run", "--data", dir], typo), 1);
    const column = DARTS_V2.indexOf("('dil_conv_3x3', 2)") + "('dil_conv_3x3' ".length + 1;
    assert.equal(
      typo.stderr().split("\n")[0],
      `${file}:1:${column} error[parse-error]: expected ',' but found '2'`,
    );
    assert.match(typo.stderr(), /^error: ".*genotype\.txt" is not a valid DARTS genotype$/m);
    const lines: string[] = [];
    const out = { stdout: (text: string) => lines.push(text), stderr: (text: string) => lines.push(text) };
    assert.equal(await compileCli([DARTS_V2], out), 0, lines.join("\n"));
    assert.equal(JSON.parse(lines[0]!).name, "darts_v2");
  });
});

Deno.test("a run folder whose cells fit the DARTS form holds them in genotype.txt and genotype.json's darts", async () => {
  await withTempDir(async (dir) => {
    const ir = compileFile("darts_v2.space");
    const genotype = {
      version: 1 as const,
      space: ir,
      spaceHash: "0".repeat(64),
      seed: 0,
      algorithm: ir.search.algorithm,
      cells: cellsOf(ir),
      alpha: {},
      versions: {},
    };
    const written = await writeFinalOutputs(dir, genotype);
    assert.ok(written.includes("genotype.txt"), written.join());
    const text = (await Deno.readTextFile(`${dir}/genotype.txt`)).trim();
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/genotype.json`)).darts, text);
    assert.deepEqual(shape(readDartsGenotype(text, "genotype.txt").ir!), shape(ir));
  });
});

Deno.test("the README's DARTS genotype examples are true: the command reads, the typo prints what it shows", () => {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("### DARTS-format genotypes, both ways"));
  const [command, file, printed] = [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const published = /"(DARTS_V2 = Genotype\(.*\))"/.exec(command!)?.[1];
  assert.ok(published && readDartsGenotype(published, "<genotype>").ir, command);
  const { diagnostics } = readDartsGenotype(file!, "genotype.txt");
  assert.equal(renderDiagnostics(diagnostics, file!), printed);
});

Deno.test("parseDartsGenotype() never throws on 3,000 mutated genotypes, every diagnostic points into the text, and what it accepts compiles", () => {
  const random = rng(20);
  for (let n = 0; n < 3000; n++) {
    const text = mutateSyntax(DARTS_V2, random);
    const { genotype, diagnostics } = parseDartsGenotype(text, "fuzz");
    assert.ok((genotype === null) === (diagnostics.length > 0), text);
    // What the checks accept, the compiler accepts: no "internal-error" from the space it becomes.
    if (genotype !== null) assert.ok(readDartsGenotype(text, "fuzz").ir, text);
    for (const d of diagnostics) {
      assert.ok(d.span.offset >= 0 && d.span.offset + d.span.length <= text.length, `${d.message}: ${text}`);
      assert.ok(!d.message.includes("\n"), d.message);
    }
  }
  const long =
    parseDartsGenotype(DARTS_V2.replace("[2, 3, 4, 5]", "range(0, 1000000000)"), "g").diagnostics[0];
  assert.match(long?.message ?? "", /is longer than a cell/);
});

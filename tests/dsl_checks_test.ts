// Semantic checks, diagnostics rendering and the compile CLI.
import { assert } from "./deps.ts";
import { compileSpace, type Diagnostic, didYouMean, editDistance, renderDiagnostics } from "../dsl/mod.ts";
import { main } from "../dsl/cli.ts";

const BASE = `
  operation none = zero
  operation skip_connect = identity
  operation sep_conv_3x3 = sep_conv(kernel: 3)
  cell reduction extends normal { reduction: true }
`;

function diagnosticsOf(body: string): Diagnostic[] {
  const result = compileSpace(`space s {${BASE}${body}\n}`, "s.space");
  assert.equal(result.ir === null, result.diagnostics.some((d) => d.severity === "error"));
  return [...result.diagnostics];
}

function codes(body: string): string[] {
  return diagnosticsOf(body).map((d) => d.code);
}

const CELL = "cell normal { nodes: 2 candidates: skip_connect, sep_conv_3x3 }";

Deno.test("compileSpace() reports a misspelt operation once, at its position, with the closest name", () => {
  const ds = diagnosticsOf("cell normal {\n nodes: 2\n candidates: skip_connect, sep_conv_9x9 }");
  assert.equal(ds.length, 1);
  const [d] = ds;
  assert.equal(d?.code, "unknown-op");
  assert.equal(d?.message, 'operation "sep_conv_9x9" is not declared');
  assert.equal(d?.hint, 'did you mean "sep_conv_3x3"?');
  assert.deepEqual([d?.span.line, d?.span.column, d?.span.length], [8, 28, 12]);
});

Deno.test("compileSpace() reports a duplicate node with its location", () => {
  const ds = diagnosticsOf("cell normal { inputs: x nodes: a, x candidates: skip_connect }");
  assert.deepEqual(ds.map((d) => [d.code, d.span.column]), [["duplicate-node", 35]]);
});

Deno.test("compileSpace() reports edges that end at an input or come from a later node or the node itself", () => {
  const body =
    "cell normal { nodes: 2 candidates: skip_connect edges { prev -> n0 n0 -> prev n1 -> n0 n0 -> n1 n1 -> n1 } }";
  assert.deepEqual(codes(body), ["edge-order", "edge-order", "edge-order"]);
});

Deno.test("compileSpace() reports a node without incoming edges and an edge declared twice", () => {
  assert.deepEqual(codes("cell normal { nodes: 2 candidates: skip_connect edges { prev -> n0 } }"), [
    "missing-edge",
  ]);
  assert.deepEqual(
    codes("cell normal { nodes: 1 candidates: skip_connect edges { prev -> n0 prev -> n0 } }"),
    [
      "duplicate-edge",
    ],
  );
});

Deno.test("compileSpace() requires nodes and candidates unless every edge has its own", () => {
  assert.deepEqual(codes("cell normal { candidates: skip_connect }"), ["missing-setting"]);
  assert.deepEqual(codes("cell normal { nodes: 1 }"), ["missing-setting"]);
  assert.deepEqual(
    codes("cell normal { nodes: 1 edges { prev -> n0 [none] prev_prev -> n0 [skip_connect] } }"),
    [],
  );
  assert.deepEqual(codes("cell normal { nodes: 1 edges { prev -> n0 [] } }"), ["empty-candidates"]);
});

Deno.test("compileSpace() reports an edge whose candidates derivation all excludes", () => {
  const body = "cell normal { nodes: 1 candidates: none derive: top_k(1, exclude: none) }";
  assert.deepEqual(codes(body), ["empty-candidates"]);
});

Deno.test("compileSpace() checks primitive parameters: kernel odd, dilation and groups positive, no unknown ones", () => {
  const op = (def: string) => codes(`operation x = ${def}\n${CELL}`);
  assert.deepEqual(op("conv(kernel: 4)"), ["out-of-range"]);
  assert.deepEqual(op("conv(kernel: 3, dilation: 0)"), ["out-of-range"]);
  assert.deepEqual(op("conv(kernel: 3, groups: 0)"), ["out-of-range"]);
  assert.deepEqual(op("conv(kernel: 3.5)"), ["wrong-type"]);
  assert.deepEqual(op("conv(kernel: 3, stride: 2)"), ["unknown-parameter"]);
  assert.deepEqual(op("conv"), ["missing-parameter"]);
  assert.deepEqual(op("conv(3, 1, 1, 1)"), ["too-many-arguments"]);
  assert.deepEqual(op("conv(kernel: 3, 2)"), ["positional-after-named"]);
  assert.deepEqual(op("conv(kernel: 3, kernel: 5)"), ["duplicate-parameter"]);
  assert.deepEqual(op("batch_norm(affine: yes)"), ["wrong-type"]);
  assert.deepEqual(op("relu > convolution(kernel: 3)"), ["unknown-primitive"]);
  assert.deepEqual(op("conv(kernel: 3, groups: 3)"), ["out-of-range"]);
});

Deno.test("compileSpace() checks the ranges of search and evaluation settings", () => {
  const search = (s: string) => codes(`${CELL}\nsearch asap { ${s} }`);
  assert.deepEqual(search("temperature: exponential(t0: 1.6, beta: 1)"), ["out-of-range"]);
  assert.deepEqual(search("temperature: exponential(t0: -1)"), ["out-of-range"]);
  assert.deepEqual(search("grace_temperature: 0"), ["out-of-range"]);
  assert.deepEqual(search("weights: sgd(momentum: 1)"), ["out-of-range"]);
  assert.deepEqual(search("weights: sgd(lr: 0)"), ["out-of-range"]);
  assert.deepEqual(search("weights: sgd(lr: 0.01, lr_min: 0.1)"), ["out-of-range"]);
  assert.deepEqual(search("batch_size: 0"), ["out-of-range"]);
  assert.deepEqual(search("threshold: 0.4"), ["wrong-type"]);
  assert.deepEqual(search("threshold: 0.4 / M"), ["wrong-type"]);
  assert.deepEqual(search("grace_temperature: 1 grace_epochs: 2"), ["conflicting-settings"]);
  assert.deepEqual(search("max_epochs: 15 max_epochs: 16"), ["duplicate-setting"]);
  assert.deepEqual(search("max_epoch: 15"), ["unknown-setting"]);
  const evaluate = (s: string) => codes(`${CELL}\nevaluate { ${s} }`);
  assert.deepEqual(evaluate("drop_path: 1.5"), ["out-of-range"]);
  assert.deepEqual(evaluate("label_smoothing: 1"), ["out-of-range"]);
  assert.deepEqual(evaluate("cells: 6 reductions: [6]"), ["reduction-outside-stack"]);
});

Deno.test("compileSpace() reports grace that never ends, for a constant temperature or too few epochs", () => {
  const search = (s: string) => codes(`${CELL}\nsearch asap { ${s} }`);
  assert.deepEqual(search("temperature: constant(1) grace_temperature: 1"), ["grace-never-ends"]);
  // Epoch e = 1, 2, … runs at 1.6 · 0.95^e: 9 grace epochs, the 10th is the first to train α.
  assert.deepEqual(search("temperature: exponential(t0: 1.6, beta: 0.95) max_epochs: 9"), [
    "grace-never-ends",
  ]);
  assert.deepEqual(search("temperature: exponential(t0: 1.6, beta: 0.95) max_epochs: 10"), []);
  assert.deepEqual(search("max_epochs: 5"), ["grace-never-ends"]);
  assert.deepEqual(search("max_epochs: 6"), []);
  assert.deepEqual(search("grace_epochs: 50"), ["grace-never-ends"]);
});

Deno.test("compileSpace() warns about settings the algorithm ignores and still compiles", () => {
  const result = compileSpace(`space s {${BASE}${CELL}\nsearch darts { threshold: 0.3 / N } }`, "s.space");
  assert.ok(result.ir);
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.severity]), [["ignored-setting", "warning"]]);
});

Deno.test("compileSpace() reports reductions outside the stack, given twice, or without a reduction cell", () => {
  assert.deepEqual(codes(`${CELL}\nsupernet { cells: 4 reductions: [1/4, 4/4] }`), [
    "reduction-outside-stack",
  ]);
  assert.deepEqual(codes(`${CELL}\nsupernet { cells: 4 reductions: [1/2, 2] }`), ["duplicate-reduction"]);
  const ds = compileSpace(
    `space s { operation skip = identity cell normal { nodes: 1 candidates: skip } }`,
    "s.space",
  );
  assert.deepEqual(ds.diagnostics.map((d) => d.code), ["missing-reduction-cell"]);
  const none = compileSpace(`space s { operation skip = identity cell normal { nodes: 1 candidates: skip }
    supernet { reductions: [] } }`);
  assert.ok(none.ir);
});

Deno.test("compileSpace() reports a reduction cell type used at normal positions and the other way round", () => {
  assert.deepEqual(codes(`${CELL}\nsupernet { reduction: normal }`), ["reduction-cell-mismatch"]);
});

Deno.test("compileSpace() reports unknown and cyclic cell types", () => {
  assert.deepEqual(codes(`${CELL}\ncell other extends nrmal { }`), ["unknown-cell"]);
  assert.deepEqual(codes(`${CELL}\ncell a extends b { } cell b extends a { }`).sort(), [
    "cyclic-extends",
    "cyclic-extends",
  ]);
  assert.deepEqual(codes(`${CELL}\n${CELL}`), ["duplicate-cell"]);
});

Deno.test("compileSpace() skips checks of pieces that error recovery dropped", () => {
  // The broken `nodes` entry is a parse error only: no "missing nodes" on top of it.
  const ds = diagnosticsOf("cell normal { nodes: ) candidates: skip_connect }");
  assert.deepEqual(ds.map((d) => d.code), ["parse-error"]);
});

Deno.test("compileSpace() never throws and returns null IR with errors for any input", () => {
  for (
    const text of [
      "",
      "space",
      "}}}",
      "\u0000\uffff",
      "space s { cell c extends c {} }",
      "space s { search x { } }",
    ]
  ) {
    const { ir, diagnostics } = compileSpace(text);
    assert.equal(ir, null);
    assert.ok(diagnostics.some((d) => d.severity === "error"), text);
  }
});

Deno.test("renderDiagnostics() prints location, code, message, the source line, a caret of the span's length and the hint", () => {
  const text = "space s {\n\tcell normal { nodes: 2 candidates: sep_conv_9x9 } }";
  const { diagnostics } = compileSpace(text, "x.space");
  const unknownOp = diagnostics.filter((d) => d.code === "unknown-op");
  assert.equal(
    renderDiagnostics(unknownOp, text),
    [
      'x.space:2:37 error[unknown-op]: operation "sep_conv_9x9" is not declared',
      "2 | \tcell normal { nodes: 2 candidates: sep_conv_9x9 } }",
      "  | \t                                   ^^^^^^^^^^^^",
      "",
      "1 error",
      "",
    ].join("\n"),
  );
  assert.equal(renderDiagnostics([], text), "");
});

Deno.test("didYouMean() suggests a close name and nothing for a distant one", () => {
  assert.equal(editDistance("kernel", "kernal"), 1);
  assert.equal(editDistance("ab", "ba"), 1);
  assert.equal(didYouMean("sep_cnov_3x3", ["sep_conv_3x3", "sep_conv_5x5"]), 'did you mean "sep_conv_3x3"?');
  assert.equal(didYouMean("zzz", ["sep_conv_3x3"]), null);
});

function capture() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: { stdout: (t: string) => (out.stdout += t + "\n"), stderr: (t: string) => (out.stderr += t + "\n") },
  };
}

Deno.test("cli main() exits 0 with the IR on stdout for a valid space", async () => {
  const { out, io } = capture();
  assert.equal(await main(["spaces/tiny.space"], io), 0);
  assert.equal(JSON.parse(out.stdout).name, "tiny");
  assert.equal(out.stderr, "");
});

Deno.test("cli main() exits 1 with rendered diagnostics for an invalid space or an unreadable file", async () => {
  const { out, io } = capture();
  assert.equal(await main(["tests/fixtures/invalid/op_typo.space"], io), 1);
  assert.match(out.stderr, /error\[unknown-op\]/);
  assert.equal(out.stdout, "");
  const missing = capture();
  assert.equal(await main(["no/such/file.space"], missing.io), 1);
  assert.match(missing.out.stderr, /cannot read "no\/such\/file.space": no such file/);
});

Deno.test("cli main() exits 2 with a usage line for no file, two files or an unknown flag", async () => {
  for (const args of [[], ["a.space", "b.space"], ["--frobnicate", "spaces/tiny.space"]]) {
    const { out, io } = capture();
    assert.equal(await main(args, io), 2, args.join(" "));
    assert.match(out.stderr, /usage: deno task compile <file.space> \[--summary\]/);
  }
});

Deno.test("deno task compile --summary prints the supernet's sizes as JSON", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "dsl/cli.ts", "spaces/darts.space", "--summary"],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout } = await command.output();
  assert.equal(code, 0);
  const summary = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(summary.space, "darts");
  assert.equal(summary.archParams, 224);
  assert.deepEqual(summary.edgesPerCell, { normal: 14, reduction: 14 });
  // The memory of a search step at the space's batch size (dsl/memory.ts): weights, slots, activations.
  const { memory } = summary;
  assert.equal(memory.batchSize, 64);
  assert.equal(memory.weightBytes, 4 * (1_930_618 + 224));
  assert.ok(memory.perSample.recomputed < memory.perSample.kept);
  assert.equal(memory.total.recomputed, memory.fixedBytes + 64 * memory.perSample.recomputed);
});

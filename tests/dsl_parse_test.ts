// The parser, the AST and the lowering to the IR.
import { assert } from "./deps.ts";
import { compileSpace, parseSpace, type SpaceIR } from "../dsl/mod.ts";

function compiled(text: string): SpaceIR {
  const { ir, diagnostics } = compileSpace(text, "t.space");
  assert.deepEqual(diagnostics.map((d) => d.message), []);
  assert.ok(ir);
  return ir;
}

const OPS = `
  operation none = zero
  operation skip = identity
  operation pool = max_pool(kernel: 3)
  operation sep = sep_conv(kernel: 5)
`;

Deno.test("parseSpace() gives every AST node the span of its source", () => {
  const text = "space s {\n  operation skip = identity\n  cell normal { nodes: 2 }\n}";
  const { ast, diagnostics } = parseSpace(text, "s.space");
  assert.deepEqual(diagnostics, []);
  assert.ok(ast);
  const [op, cell] = ast.declarations;
  assert.equal(op?.kind, "operation");
  assert.deepEqual(op?.kind === "operation" && op.name.span, {
    file: "s.space",
    line: 2,
    column: 13,
    offset: 22,
    length: 4,
  });
  assert.ok(cell?.kind === "cell");
  const nodes = cell.entries[0];
  assert.ok(nodes?.kind === "setting");
  assert.equal(nodes.key.text, "nodes");
  assert.deepEqual(nodes.values[0], {
    kind: "number",
    value: 2,
    text: "2",
    span: { file: "s.space", line: 3, column: 24, offset: 61, length: 1 },
  });
});

Deno.test("parseSpace() reads pipelines, ratios, lists and calls with flags", () => {
  const text = `space s {
    operation c = relu > conv(kernel: 3, groups: 2) > batch_norm(affine: true)
    cell normal { output: concat(n0, n1) project  derive: top_k(2, exclude: [none]) }
    search asap { threshold: 0.4 / N }
  }`;
  const { ast } = parseSpace(text, "s.space");
  const op = ast?.declarations[0];
  assert.ok(op?.kind === "operation" && op.definition?.kind === "pipeline");
  assert.deepEqual(op.definition.stages.map((s) => s.kind), ["nameValue", "call", "call"]);
  const cell = ast?.declarations[1];
  assert.ok(cell?.kind === "cell");
  const output = cell.entries[0];
  assert.ok(output?.kind === "setting" && output.values[0]?.kind === "call");
  assert.deepEqual(output.values[0].flags.map((f) => f.text), ["project"]);
  const derive = cell.entries[1];
  assert.ok(derive?.kind === "setting" && derive.values[0]?.kind === "call");
  assert.deepEqual(derive.values[0].args.map((a) => a.name?.text ?? null), [null, "exclude"]);
  const search = ast?.declarations[2];
  assert.ok(search?.kind === "section" && search.algorithm?.text === "asap");
  assert.equal(search.entries[0]?.kind === "setting" && search.entries[0].values[0]?.kind, "ratio");
});

Deno.test("parseSpace() keeps names that start with a keyword as names and ignores comments and separators", () => {
  const text = `space s { // comment
    /* block
       comment */ operation spaceship = identity; operation cellular = zero,
    cell normal_cell { nodes: 2; candidates: spaceship, cellular, }
  }`;
  const { ast, diagnostics } = parseSpace(text, "s.space");
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(ast?.declarations.map((d) => d.kind === "section" ? d.section : d.name.text), [
    "spaceship",
    "cellular",
    "normal_cell",
  ]);
});

Deno.test("parseSpace() reports a missing token at the end of the file at the last real token", () => {
  const text = "// a space\n\n  space  ";
  const { diagnostics } = parseSpace(text, "s.space");
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]?.code, "parse-error");
  assert.equal(diagnostics[0]?.message, "expected a name but found the end of the file");
  assert.deepEqual([diagnostics[0]?.span.line, diagnostics[0]?.span.column, diagnostics[0]?.span.length], [
    3,
    3,
    5,
  ]);
});

Deno.test("parseSpace() reports a block left open at its opening brace", () => {
  const text = "space s {\n  cell normal {\n    nodes: 2\n";
  const { diagnostics } = parseSpace(text, "s.space");
  assert.deepEqual(diagnostics.map((d) => [d.code, d.message, d.span.line, d.span.column]), [
    ["unterminated-block", 'block "cell normal" is not closed before the end of the file', 2, 15],
  ]);
});

Deno.test("parseSpace() refuses absurd nesting with one diagnostic instead of exhausting the stack", () => {
  const text = `space s { cell normal { nodes: ${"[".repeat(5000)} } }`;
  const { ast, diagnostics } = parseSpace(text, "s.space");
  assert.equal(ast, null);
  assert.deepEqual(diagnostics.map((d) => d.code), ["too-deep"]);
});

Deno.test("compileSpace() builds all_previous edges inputs first, at stride 2 from a reduction cell's inputs", () => {
  const ir = compiled(`space s { ${OPS}
    cell normal { nodes: 3 candidates: skip, pool }
    cell reduction extends normal { reduction: true } }`);
  const [normal, reduction] = ir.cellTypes;
  const edges = normal!.edges.map((e) => `${e.from.kind[0]}${e.from.index}->${e.to}`);
  assert.deepEqual(edges, ["i0->0", "i1->0", "i0->1", "i1->1", "n0->1", "i0->2", "i1->2", "n0->2", "n1->2"]);
  assert.deepEqual(normal!.edges.map((e) => e.stride), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(reduction!.edges.map((e) => e.stride), [2, 2, 2, 2, 1, 2, 2, 1, 1]);
  assert.deepEqual(normal!.inputs.map((i) => i.name), ["prev_prev", "prev"]);
  assert.deepEqual(normal!.nodes.map((n) => n.name), ["n0", "n1", "n2"]);
  assert.deepEqual(normal!.output.nodes, [0, 1, 2]);
  assert.equal(normal!.derive.kind, "one_op_per_edge");
});

Deno.test("compileSpace() keeps candidates in operation declaration order and sorts explicit edges by target", () => {
  const ir = compiled(`space s { ${OPS}
    cell normal {
      inputs: x
      nodes: a, b
      candidates: sep, skip
      edges { a -> b [pool, none]  x -> b  x -> a }
    }
    supernet { reductions: [] } }`);
  const edges = ir.cellTypes[0]!.edges;
  assert.deepEqual(edges.map((e) => [e.from, e.to]), [
    [{ kind: "input", index: 0 }, 0],
    [{ kind: "input", index: 0 }, 1],
    [{ kind: "node", index: 0 }, 1],
  ]);
  assert.deepEqual(edges.map((e) => e.candidates), [["skip", "sep"], ["skip", "sep"], ["none", "pool"]]);
});

Deno.test("compileSpace() lowers composites to primitive steps as DARTS", () => {
  const ir = compiled(`space s {
    operation sep = sep_conv(kernel: 3)
    operation dil = dil_conv(kernel: 5)
    operation rcb = relu_conv_bn(kernel: 1)
    operation bn = batch_norm(affine: false) > identity
    cell normal { nodes: 1 candidates: sep, dil, rcb, bn }
    supernet { reductions: [] } }`);
  const kinds = (name: string) => ir.operations.find((o) => o.name === name)!.steps;
  assert.deepEqual(kinds("sep").map((s) => s.kind), [
    "relu",
    "dw_conv",
    "conv_1x1",
    "batch_norm",
    "relu",
    "dw_conv",
    "conv_1x1",
    "batch_norm",
  ]);
  assert.deepEqual(kinds("dil")[1], { kind: "dw_conv", kernel: 5, dilation: 2 });
  assert.deepEqual(kinds("rcb")[1], { kind: "conv", kernel: 1, dilation: 1, groups: 1 });
  assert.deepEqual(kinds("bn"), [{ kind: "batch_norm", affine: false }, { kind: "identity" }]);
  assert.deepEqual(kinds("sep")[3], { kind: "batch_norm" });
});

Deno.test("compileSpace() resolves reductions as floor(cells·p/q) and doubles channels from each reduction on", () => {
  const ir = compiled(`space s { ${OPS}
    cell normal { nodes: 1 candidates: skip }
    cell reduction extends normal { reduction: true }
    supernet { channels: 10 cells: 8 reductions: [2/3, 1/3] }
    evaluate { cells: 20 reductions: 1/3, 2/3 } }`);
  assert.deepEqual(ir.supernet.reductions, [2, 5]);
  assert.deepEqual(ir.supernet.cells.map((c) => c.channels), [10, 10, 20, 20, 20, 40, 40, 40]);
  assert.deepEqual(ir.supernet.cells.map((c) => c.cellType[0]).join(""), "nnrnnrnn");
  assert.deepEqual(ir.evaluate.reductions, [6, 13]);
});

Deno.test("compileSpace() applies each algorithm's search defaults", () => {
  const search = (algo: string) =>
    compiled(`space s { ${OPS} cell normal { nodes: 1 candidates: skip }
    cell reduction extends normal { reduction: true } search ${algo} { } }`).search;
  const asap = search("");
  assert.equal(asap.algorithm, "asap");
  assert.deepEqual(asap.temperature, { kind: "exponential", t0: 1.3, beta: 0.95 });
  assert.deepEqual(asap.grace, { kind: "temperature", tau: 1 });
  assert.deepEqual(asap.threshold, { kind: "fixed", c: 0.4 });
  assert.equal(asap.sparsity, null);
  const darts = search("darts");
  assert.deepEqual(darts.temperature, { kind: "constant", value: 1 });
  assert.deepEqual(darts.grace, { kind: "epochs", epochs: 0 });
  const magnitude = search("magnitude");
  assert.deepEqual(magnitude.sparsity, {
    final: 1,
    initial: 0,
    start: 20,
    interval: 1,
    steps: 30,
    power: 3,
  });
  assert.deepEqual(search("accumulated_gradient").sparsity, magnitude.sparsity);
  assert.deepEqual(asap.weightOptimizer, {
    lr: 0.025,
    lrMin: 0.001,
    momentum: 0.9,
    nesterov: false,
    weightDecay: 3e-4,
    gradClip: 5,
  });
  assert.deepEqual(asap.archOptimizer, { lr: 1e-3, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3 });
  assert.deepEqual([asap.maxEpochs, asap.batchSize, asap.trainFraction, asap.scheduleUnit], [
    50,
    96,
    0.5,
    "epoch",
  ]);
});

Deno.test("compileSpace() fills evaluation defaults and merges partial optimizer settings with them", () => {
  const ir = compiled(`space s { ${OPS} cell normal { nodes: 1 candidates: skip }
    cell reduction extends normal { reduction: true } evaluate { weights: sgd(lr: 0.1) } }`);
  const e = ir.evaluate;
  assert.deepEqual(
    [e.cells, e.channels, e.auxiliaryWeight, e.dropPath, e.cutout, e.labelSmoothing, e.epochs, e.batchSize],
    [20, 36, 0.4, 0.2, 16, 0.1, 1500, 128],
  );
  assert.deepEqual(e.lrSchedule, { kind: "cyclic", cycles: 5, decay: 0.5 });
  assert.deepEqual(e.weightOptimizer, {
    lr: 0.1,
    lrMin: 0,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 3e-4,
    gradClip: 5,
  });
});

Deno.test("compileSpace() lowers darts.space to 8 ops and top-2 derivation excluding none", async () => {
  const text = await Deno.readTextFile(new URL("../spaces/darts.space", import.meta.url));
  const ir = compiled(text);
  assert.equal(ir.operations.length, 8);
  assert.equal(ir.search.algorithm, "darts");
  for (const cell of ir.cellTypes) {
    assert.equal(cell.edges.length, 14);
    assert.deepEqual(cell.derive.kind === "top_k" && [cell.derive.k, cell.derive.exclude], [2, ["none"]]);
  }
});

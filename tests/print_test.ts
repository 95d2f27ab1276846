import { assert } from "./deps.ts";
import { stripSpans } from "./_helpers.ts";
import { compileSpace } from "../dsl/compile.ts";
import { inferEvaluation } from "../dsl/infer.ts";
import { formatOperation, printFoundSpace, printSpace } from "../dsl/print.ts";
import type { Operation, SpaceIR } from "../dsl/ir.ts";
import {
  asapSpace,
  BUILDER_SPAN,
  chainSpace,
  DARTS_V2,
  dartsSpace,
  dartsSpaceWithoutNone,
  tinySpace,
} from "./_ir_builders.ts";

/** The lines of `text` with their indentation removed. */
const lines = (text: string) => text.split("\n").map((l) => l.trim());

/** The lines of the block `cell name { … }`. */
function cellBlock(text: string, name: string): string[] {
  const raw = text.split("\n");
  const start = raw.indexOf(`  cell ${name} {`);
  assert.ok(start >= 0, `no cell ${name} in:\n${text}`);
  return raw.slice(start, raw.indexOf("  }", start) + 1).map((l) => l.trim());
}

Deno.test("printSpace() writes DARTS' ops as the composite calls they were lowered from", () => {
  const text = lines(printSpace(dartsSpace()));
  for (
    const expected of [
      "operation none         = zero",
      "operation max_pool_3x3 = max_pool(kernel: 3)",
      "operation skip_connect = identity",
      "operation sep_conv_5x5 = sep_conv(kernel: 5)",
      "operation dil_conv_3x3 = dil_conv(kernel: 3, dilation: 2)",
    ]
  ) assert.ok(text.includes(expected), expected);
});

Deno.test("printSpace() writes an all_previous cell with its shared candidates and derivation", () => {
  const text = printSpace(dartsSpace());
  const normal = cellBlock(text, "normal");
  assert.deepEqual(normal.slice(0, 4), [
    "cell normal {",
    "inputs: prev_prev, prev",
    "nodes: 4",
    "edges: all_previous",
  ]);
  const candidates = normal.slice(4, 6).join(" ");
  assert.equal(
    candidates,
    "candidates: none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5",
  );
  assert.ok(normal.includes("output: concat(nodes)"));
  assert.ok(normal.includes("derive: top_k(2, exclude: none)"));
  assert.ok(!normal.includes("reduction: true"));
  assert.ok(cellBlock(text, "reduction").includes("reduction: true"));
  // Every line fits the project's width.
  assert.ok(text.split("\n").every((l) => l.length <= 110));
});

Deno.test("printSpace() writes every setting of supernet, search and evaluate", () => {
  const text = lines(printSpace(asapSpace()));
  for (
    const expected of [
      "space asap_cifar {",
      "channels: 16",
      "cells: 8",
      "reductions: [2, 5]",
      "stem_multiplier: 3",
      "channel_doubling: true",
      "normal: normal",
      "reduction: reduction",
      "search asap {",
      "temperature: exponential(t0: 1.6, beta: 0.95)",
      "grace_temperature: 1",
      "threshold: 0.4 / N",
      "schedule_unit: epoch",
      "max_epochs: 50",
      "batch_size: 64",
      "train_fraction: 0.5",
      "weights: sgd(lr: 0.025, lr_min: 0.001, momentum: 0.9, nesterov: false, weight_decay: 0.0003, grad_clip: 5)",
      "alpha: adam(lr: 0.001, beta1: 0.5, beta2: 0.999, weight_decay: 0.001)",
      "reductions: [6, 13]",
      "lr_schedule: cyclic(cycles: 5, decay: 0.5)",
      "weights: sgd(lr: 0.025, lr_min: 0, momentum: 0.9, nesterov: true, weight_decay: 0.0003, grad_clip: 5)",
      "output: concat(nodes) project",
      "derive: one_op_per_edge",
    ]
  ) assert.ok(text.includes(expected), expected);
  assert.ok(!text.some((l) => l.startsWith("sparsity:")), "asap has no sparsity schedule");
});

Deno.test("printSpace() writes explicit edges, named nodes, a single output node and PAC settings", () => {
  const text = printSpace(chainSpace());
  assert.deepEqual(cellBlock(text, "block"), [
    "cell block {",
    "inputs: x",
    "nodes: a, b, c",
    "edges {",
    "x -> a [skip, sep3, grouped]",
    "a -> b [dil, rcb]",
    "x -> c [mixed]",
    "b -> c [skip, fr]",
    "}",
    "output: c",
    "derive: top_k(1, exclude: [skip, dil])",
    "}",
  ]);
  const all = lines(text);
  for (
    const expected of [
      "operation grouped = relu > conv(kernel: 3, groups: 4) > batch_norm(affine: true)",
      "operation rcb     = relu_conv_bn(kernel: 5)",
      "operation mixed   = conv_1x1 > max_pool(kernel: 5) > batch_norm(affine: false)",
      "operation fr      = factorized_reduce",
      "operation dil     = dil_conv(kernel: 3, dilation: 4)",
      "search magnitude {",
      "temperature: pac(eta: 0.5, lipschitz: 2, delta: 0.1, nu: 0.2)",
      "grace_epochs: 0",
      "threshold: pac(nu: 0.2)",
      "sparsity: schedule(final: 0.8, initial: 0, start: 20, interval: 1, steps: 30, power: 3)",
      "schedule_unit: step",
      "reductions: []",
      "lr_schedule: cosine",
    ]
  ) assert.ok(all.includes(expected), expected);
  assert.ok(!all.some((l) => l.startsWith("reduction:")), "no reduction type without reductions");
});

Deno.test("printSpace() writes a shared candidate list once above explicit edges", () => {
  const tiny = tinySpace();
  const normal = tiny.cellTypes[0]!;
  const ir: SpaceIR = {
    ...tiny,
    cellTypes: [
      { ...normal, edges: normal.edges.filter((e) => e.from.kind === "input") },
      tiny.cellTypes[1]!,
    ],
  };
  assert.deepEqual(cellBlock(printSpace(ir), "normal").slice(3, 10), [
    "candidates: skip, pool, conv",
    "edges {",
    "prev_prev -> n0",
    "prev -> n0",
    "prev_prev -> n1",
    "prev -> n1",
    "}",
  ]);
});

Deno.test("formatOperation() writes the primitives when the steps differ from a composite", () => {
  const sep = dartsSpace().operations.find((op) => op.name === "sep_conv_3x3")!;
  const affine: Operation = {
    ...sep,
    steps: sep.steps.map((s) => (s.kind === "batch_norm" ? { kind: "batch_norm", affine: true } : s)),
  };
  assert.equal(
    formatOperation(affine),
    "relu > dw_conv(kernel: 3) > conv_1x1 > batch_norm(affine: true) > " +
      "relu > dw_conv(kernel: 3) > conv_1x1 > batch_norm(affine: true)",
  );
  const mixedKernels: Operation = {
    name: "x",
    span: BUILDER_SPAN,
    steps: [
      ...sep.steps.slice(0, 4),
      ...dartsSpace().operations.find((o) => o.name === "sep_conv_5x5")!.steps.slice(4),
    ],
  };
  assert.ok(formatOperation(mixedKernels).startsWith("relu > dw_conv(kernel: 3) >"));
  assert.equal(
    formatOperation({
      name: "d",
      span: BUILDER_SPAN,
      steps: [{ kind: "conv", kernel: 3, dilation: 2, groups: 1 }],
    }),
    "conv(kernel: 3, dilation: 2)",
  );
});

Deno.test("printSpace() writes the header as comment lines", () => {
  const text = printSpace(tinySpace(), { header: ["found by asap", "seed 3"] });
  assert.ok(text.startsWith("// found by asap\n// seed 3\nspace tiny {\n"));
  assert.ok(text.endsWith("}\n"));
});

Deno.test("printSpace() refuses a supernet stack that .space cannot express", () => {
  const tiny = tinySpace();
  const cells = tiny.supernet.cells.map((c, i) => (i === 2 ? { ...c, cellType: "reduction" } : c));
  assert.throws(
    () => printSpace({ ...tiny, supernet: { ...tiny.supernet, cells } }),
    /supernet cell 2 \(type "reduction", 8 channels\) cannot be written as \.space/,
  );
});

Deno.test("printFoundSpace() fixes each cell type's edges to the genotype's, in all_previous order", () => {
  const text = printFoundSpace(dartsSpace(), DARTS_V2);
  assert.ok(text.startsWith('// the cells found in space "darts": one op per kept edge\n'));
  const normal = cellBlock(text, "normal");
  assert.deepEqual(normal.slice(3, 13), [
    "edges {",
    "prev_prev -> n0 [sep_conv_3x3]",
    "prev -> n0 [sep_conv_3x3]",
    "prev_prev -> n1 [sep_conv_3x3]",
    "prev -> n1 [sep_conv_3x3]",
    "prev_prev -> n2 [skip_connect]",
    "prev -> n2 [sep_conv_3x3]",
    "prev_prev -> n3 [skip_connect]",
    "n0 -> n3 [dil_conv_3x3]",
    "}",
  ]);
  assert.ok(!normal.some((l) => l.startsWith("candidates:")));
  const reduction = cellBlock(text, "reduction");
  assert.ok(reduction.includes("n0 -> n1 [skip_connect]"));
  assert.ok(reduction.includes("reduction: true"));
  // The operations stay declared, so the found space compiles on its own.
  assert.ok(lines(text).includes("operation sep_conv_5x5 = sep_conv(kernel: 5)"));
});

Deno.test("printFoundSpace() names an op the space does not declare", () => {
  const bad = [{
    cellType: "normal",
    edges: [{ from: { kind: "input" as const, index: 0 }, to: 0, op: "conv_9x9" }],
  }];
  assert.throws(
    () => printFoundSpace(dartsSpace(), bad),
    /operation "conv_9x9" is not in the IR of space "darts"/,
  );
});

/** Compiles `text`, failing with its diagnostics when it does not compile. */
function compiled(text: string, file: string): SpaceIR {
  const { ir, diagnostics } = compileSpace(text, file);
  assert.ok(
    ir,
    `${text}\n${
      diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.code}: ${d.message}`).join("\n")
    }`,
  );
  return ir;
}

for (const build of [dartsSpace, dartsSpaceWithoutNone, asapSpace, tinySpace, chainSpace]) {
  Deno.test(`compileSpace(printSpace(ir)) gives back the IR of ${build.name}()`, () => {
    const ir = build();
    assert.deepEqual(stripSpans(compiled(printSpace(ir), ir.source)), stripSpans(ir));
  });
}

Deno.test("printSpace() leaves out the threshold an algorithm ignores, so the text compiles without warnings", () => {
  for (const ir of [dartsSpace(), asapSpace(), tinySpace()]) {
    const text = printSpace(ir);
    assert.equal(lines(text).some((l) => l.startsWith("threshold:")), ir.search.algorithm === "asap");
    assert.deepEqual(compileSpace(text, ir.source).diagnostics, []);
  }
});

Deno.test("compileSpace(printFoundSpace(ir, genotype)) gives the space with the genotype's edges", () => {
  const ir = dartsSpace();
  const found = compiled(printFoundSpace(ir, DARTS_V2), ir.source);
  assert.deepEqual(stripSpans({ ...found, cellTypes: [] }), stripSpans({ ...ir, cellTypes: [] }));
  for (const cell of DARTS_V2) {
    const type = found.cellTypes.find((t) => t.name === cell.cellType)!;
    const edges = type.edges.map((e) => ({ from: e.from, to: e.to, op: e.candidates.join() }));
    const key = (e: { from: { kind: string; index: number }; to: number }) =>
      `${e.to}:${e.from.kind}${e.from.index}`;
    assert.deepEqual(edges.map(key), [...edges.map(key)].sort(), "in all_previous order");
    assert.deepEqual(
      [...edges].sort((a, b) => key(a).localeCompare(key(b))),
      [...cell.edges].sort((a, b) => key(a).localeCompare(key(b))),
    );
    assert.ok(type.edges.every((e) => e.stride === (type.reduction && e.from.kind === "input" ? 2 : 1)));
  }
  // The found space's evaluation network is the genotype's.
  const direct = inferEvaluation(ir, DARTS_V2).params;
  const fromFound = inferEvaluation(
    found,
    found.cellTypes.map((t) => ({
      cellType: t.name,
      edges: t.edges.map((e) => ({ from: e.from, to: e.to, op: e.candidates[0]! })),
    })),
  ).params;
  assert.equal(fromFound, direct);
});

Deno.test("every space in spaces/ prints to text that compiles back to the same IR", async () => {
  for await (const entry of Deno.readDir(new URL("../spaces/", import.meta.url))) {
    if (!entry.name.endsWith(".space")) continue;
    const file = `spaces/${entry.name}`;
    const ir = compiled(await Deno.readTextFile(new URL(`../${file}`, import.meta.url)), file);
    assert.deepEqual(stripSpans(compiled(printSpace(ir), file)), stripSpans(ir), file);
  }
});

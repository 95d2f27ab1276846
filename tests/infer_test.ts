import { assert } from "./deps.ts";
import { compileSpace } from "../dsl/compile.ts";
import { inferEvaluation, operationParams, summarize } from "../dsl/infer.ts";
import type { SpaceIR } from "../dsl/ir.ts";
import {
  allPreviousEdges,
  asapSpace,
  chainSpace,
  DARTS_V1,
  DARTS_V2,
  dartsSpace,
  dartsSpaceWithoutNone,
  tinySpace,
} from "./_ir_builders.ts";

Deno.test("summarize() counts the DARTS reference search network's weights and alphas", () => {
  const s = summarize(dartsSpace());
  // quark0/darts model_search.Network(C=16, layers=8): 1,930,618 weights, α 2 × 14 × 8.
  assert.equal(s.weightParams, 1930618);
  assert.equal(s.archParams, 224);
  assert.deepEqual(s.cellTypes, ["normal", "reduction"]);
  assert.deepEqual(s.edgesPerCell, { normal: 14, reduction: 14 });
  assert.deepEqual(s.candidatesPerEdge.normal, Array(14).fill(8));
  assert.equal(s.inputSize, 32);
  assert.equal(s.classes, 10);
});

Deno.test("summarize() of spaces/darts.space matches the DARTS reference search network", async () => {
  const file = "spaces/darts.space";
  const { ir, diagnostics } = compileSpace(
    await Deno.readTextFile(new URL(`../${file}`, import.meta.url)),
    file,
  );
  assert.ok(ir, diagnostics.map((d) => d.message).join("\n"));
  const s = summarize(ir);
  assert.equal(s.weightParams, 1930618);
  assert.equal(s.archParams, 224);
  // DARTS_V2 expanded from the compiled space: DARTS' 3,349,342 (its evaluate block may differ, so C and depth are given).
  assert.equal(
    inferEvaluation(ir, DARTS_V2, { channels: 36, cells: 20, reductions: [6, 13] }).params,
    3349342,
  );
});

Deno.test("summarize() without the none op keeps the weights and drops one alpha per edge", () => {
  const s = summarize(dartsSpaceWithoutNone());
  assert.equal(s.weightParams, 1930618);
  assert.equal(s.archParams, 196);
});

Deno.test("summarize() follows DARTS' channels, sizes and preprocessing through the stack", () => {
  const { cells, stemParams, classifierParams } = summarize(dartsSpace());
  assert.equal(stemParams, 3 * 48 * 9 + 2 * 48);
  assert.deepEqual(cells.map((c) => c.channels), [16, 16, 32, 32, 32, 64, 64, 64]);
  assert.deepEqual(cells.map((c) => c.outputChannels), [64, 64, 128, 128, 128, 256, 256, 256]);
  assert.deepEqual(cells.map((c) => c.outputSize), [32, 32, 16, 16, 16, 8, 8, 8]);
  assert.equal(classifierParams, 256 * 10 + 10);
  // The first cell reads the stem twice; the cell after a reduction reduces its older input.
  const first = cells[0]!;
  assert.deepEqual(first.inputs.map((i) => [i.source, i.channelsIn, i.preprocess]), [
    [-1, 48, "relu_conv_bn"],
    [-1, 48, "relu_conv_bn"],
  ]);
  assert.equal(first.inputs[0]!.params, 48 * 16);
  const afterReduction = cells[3]!;
  assert.deepEqual(afterReduction.inputs.map((i) => [i.source, i.sizeIn, i.preprocess, i.size]), [
    [1, 32, "factorized_reduce", 16],
    [2, 16, "relu_conv_bn", 16],
  ]);
  // FactorizedReduce(64 → 32), not affine in the supernet: two 1×1 convs 64 → 16.
  assert.equal(afterReduction.inputs[0]!.params, 2 * 64 * 16);
  const reduction = cells[2]!;
  assert.deepEqual(reduction.edges.map((e) => e.stride).slice(0, 5), [2, 2, 2, 2, 1]);
  assert.deepEqual(reduction.nodes.map((n) => [n.channels, n.size]), Array(4).fill([32, 16]));
});

Deno.test("operationParams() counts each DARTS op as DARTS' operations.py builds it", () => {
  const ir = dartsSpace();
  const at = (op: string, stride: 1 | 2) => operationParams(ir, op, 16, stride, false);
  assert.equal(at("none", 2), 0);
  assert.equal(at("max_pool_3x3", 2), 0);
  assert.equal(at("avg_pool_3x3", 1), 0);
  assert.equal(at("skip_connect", 1), 0);
  assert.equal(at("skip_connect", 2), 2 * 16 * 8);
  assert.equal(at("sep_conv_3x3", 2), 2 * (16 * 9 + 16 * 16));
  assert.equal(at("sep_conv_5x5", 1), 2 * (16 * 25 + 16 * 16));
  assert.equal(at("dil_conv_3x3", 1), 16 * 9 + 16 * 16);
  assert.equal(at("dil_conv_5x5", 2), 16 * 25 + 16 * 16);
  // With affine batch norms (evaluation) each BN adds 2C.
  assert.equal(operationParams(ir, "sep_conv_3x3", 16, 1, true), 2 * (16 * 9 + 16 * 16 + 32));
  assert.equal(operationParams(ir, "skip_connect", 16, 2, true), 2 * 16 * 8 + 32);
});

Deno.test("summarize() counts the tiny space as computed by hand", () => {
  // C = 4, cells [normal 4, reduction 8, normal 8]; ops skip (0), pool (0), conv (relu > 3×3 conv > bn).
  const stem = 3 * 12 * 9 + 2 * 12;
  const cell0 = 2 * (12 * 4) + 5 * (4 * 4 * 9);
  const cell1 = 12 * 8 + 8 * 8 + 4 * (2 * 8 * 4 + 8 * 8 * 9) + 8 * 8 * 9;
  const cell2 = 2 * 8 * 4 + 16 * 8 + 5 * (8 * 8 * 9);
  const classifier = 16 * 10 + 10;
  const s = summarize(tinySpace());
  assert.equal(s.weightParams, stem + cell0 + cell1 + cell2 + classifier);
  assert.equal(s.archParams, 2 * 5 * 3);
  assert.deepEqual(s.cells.map((c) => c.params), [cell0, cell1, cell2]);
});

Deno.test("summarize() honours one input, explicit edges, a single-node output and affine: true", () => {
  const s = summarize(chainSpace());
  const c = 8;
  const edges = [
    0 + 2 * (c * 9 + c * c) + (c * c * 9) / 4 + 2 * c, // skip, sep3, grouped (affine bn)
    c * 9 + c * c + c * c * 25, // dil, rcb
    c * c, // conv_1x1 > max_pool > batch_norm(affine: false)
    c * c, // skip, factorized_reduce at stride 1 (relu > conv_1x1 > bn)
  ];
  assert.deepEqual(s.cells[0]!.edges.map((e) => e.params), edges);
  const cell = c * c + edges.reduce((a, b) => a + b);
  assert.equal(s.weightParams, 3 * c * 9 + 2 * c + 3 * cell + (c * 10 + 10));
  assert.equal(s.archParams, 3 + 2 + 1 + 2);
  assert.deepEqual(s.cells.map((x) => x.outputChannels), [8, 8, 8]);
  assert.deepEqual(s.cells.map((x) => x.inputs[0]!.source), [-1, 0, 1]);
});

Deno.test("summarize() projects ASAP's concatenated output back to C", () => {
  const s = summarize(asapSpace());
  assert.deepEqual(s.cells.map((c) => c.outputChannels), [16, 16, 32, 32, 32, 64, 64, 64]);
  assert.deepEqual(s.cells.map((c) => c.projectParams), s.cells.map((c) => 4 * c.channels * c.channels));
  assert.equal(s.cells[1]!.inputs[1]!.params, 16 * 16);
  assert.equal(s.classifierParams, 64 * 10 + 10);
  assert.equal(s.archParams, 196);
});

Deno.test("summarize() takes input i of a k-input cell from the cell k - i places back", () => {
  const tiny = tinySpace();
  const inputs = ["a", "b", "c"].map((name) => ({ name, span: tiny.span }));
  const ir: SpaceIR = {
    ...tiny,
    cellTypes: tiny.cellTypes.map((t) => ({
      ...t,
      inputs,
      edges: allPreviousEdges(3, 2, ["skip", "conv"], t.reduction),
    })),
    supernet: {
      ...tiny.supernet,
      cells: [4, 8, 16, 16].map((channels, i) => ({
        cellType: i === 1 || i === 2 ? "reduction" : "normal",
        channels,
      })),
      reductions: [1, 2],
    },
  };
  const { cells } = summarize(ir);
  assert.deepEqual(cells.map((c) => c.inputs.map((i) => i.source)), [[-1, -1, -1], [-1, -1, 0], [-1, 0, 1], [
    0,
    1,
    2,
  ]]);
  const last = cells[3]!;
  assert.deepEqual(last.inputs.map((i) => [i.sizeIn, i.halvings, i.size]), [[32, 2, 8], [16, 1, 8], [
    8,
    0,
    8,
  ]]);
  // Two halvings: FactorizedReduce(8 → 16) then FactorizedReduce(16 → 16).
  assert.equal(last.inputs[0]!.params, 2 * 8 * 8 + 2 * 16 * 8);
  assert.equal(last.edges.length, 3 + 4);
});

Deno.test("inferEvaluation() gives DARTS_V2 at C = 36, 20 cells DARTS' 3,349,342 parameters", () => {
  const e = inferEvaluation(dartsSpace(), DARTS_V2);
  // DARTS' train.py logs "param size = 3.349342MB" (auxiliary head excluded).
  assert.equal(e.params, 3349342);
  // AuxiliaryHeadCIFAR(576): 1×1 conv 576 → 128, BN, 2×2 conv 128 → 768, BN, linear 768 → 10.
  const head = 576 * 128 + 256 + 128 * 768 * 4 + 2 * 768 + 768 * 10 + 10;
  assert.equal(e.auxiliaryParams, head);
  assert.equal(e.paramsWithAuxiliary, 3349342 + head);
  assert.deepEqual(e.auxiliary, { after: 13, channelsIn: 576, sizeIn: 8, sizeOut: 1, params: head });
  assert.deepEqual(e.reductions, [6, 13]);
  assert.deepEqual(
    e.cells.map((c) => c.channels),
    [...Array(6).fill(36), ...Array(7).fill(72), ...Array(7).fill(144)],
  );
  assert.equal(e.stemParams, 3 * 108 * 9 + 2 * 108);
  assert.equal(e.classifierParams, 576 * 10 + 10);
});

Deno.test("inferEvaluation() counts one op per kept edge with affine batch norms", () => {
  const ir = dartsSpace();
  const e = inferEvaluation(ir, DARTS_V1, { auxiliary: false });
  const reduction = e.cells[6]!;
  // DARTS_V1's reduction cell: pools, skip_connect between nodes: no weights on its edges.
  assert.deepEqual(reduction.edges.map((x) => x.params), Array(8).fill(0));
  const normal = e.cells[0]!;
  const sep = 2 * (36 * 9 + 36 * 36 + 72);
  assert.deepEqual(normal.edges.map((x) => x.params), [sep, sep, 0, sep, 0, sep, sep, 0]);
  assert.equal(e.auxiliary, null);
  assert.equal(e.paramsWithAuxiliary, e.params);
  assert.equal(e.auxiliaryParams, 0);
});

Deno.test("inferEvaluation() places reductions at cells // 3 and 2 * cells // 3 when the depth changes", () => {
  const e = inferEvaluation(dartsSpace(), DARTS_V2, { cells: 8, channels: 16 });
  assert.deepEqual(e.reductions, [2, 5]);
  assert.deepEqual(e.cells.map((c) => c.cellType), [
    "normal",
    "normal",
    "reduction",
    "normal",
    "normal",
    "reduction",
    "normal",
    "normal",
  ]);
  assert.equal(e.auxiliary?.after, 5);
});

Deno.test("inferEvaluation() names the cell type a genotype lacks", () => {
  assert.throws(
    () => inferEvaluation(dartsSpace(), DARTS_V2.filter((c) => c.cellType === "normal")),
    /the genotype has no cell of type "reduction"/,
  );
});

import { assert } from "./deps.ts";
import { cellToDot, cellToSvg, curvesToSvg, supernetToSvg } from "../runtime/report/render.ts";
import type { CellType, GenotypeCell, GenotypeEdge, NodeRef } from "../dsl/ir.ts";

const span = { file: "test.space", line: 1, column: 1, offset: 0, length: 1 };
const DARTS_OPS = [
  "none",
  "max_pool_3x3",
  "avg_pool_3x3",
  "skip_connect",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "dil_conv_3x3",
  "dil_conv_5x5",
];

/** The DARTS cell type: inputs prev_prev, prev; nodes n0..n3; all_previous edges; concat output. */
function dartsCell(name = "normal", project = false): CellType {
  const edges = [];
  for (let j = 0; j < 4; j++) {
    const sources: NodeRef[] = [
      { kind: "input", index: 0 },
      { kind: "input", index: 1 },
      ...Array.from({ length: j }, (_, i): NodeRef => ({ kind: "node", index: i })),
    ];
    for (const from of sources) edges.push({ from, to: j, candidates: DARTS_OPS, stride: 1 as const, span });
  }
  return {
    name,
    reduction: name === "reduction",
    span,
    inputs: [{ name: "prev_prev", span }, { name: "prev", span }],
    nodes: [0, 1, 2, 3].map((j) => ({ name: `n${j}`, span })),
    edges,
    output: { nodes: [0, 1, 2, 3], project, span },
    derive: { kind: "top_k", k: 2, exclude: ["none"], span },
  };
}

/** DARTS_V2's normal cell (DARTS' genotypes.py): (op, source) pairs, two per node. */
function dartsV2Normal(): GenotypeCell {
  const pairs: [string, number][] = [
    ["sep_conv_3x3", 0],
    ["sep_conv_3x3", 1],
    ["sep_conv_3x3", 0],
    ["sep_conv_3x3", 1],
    ["sep_conv_3x3", 1],
    ["skip_connect", 0],
    ["skip_connect", 0],
    ["dil_conv_3x3", 2],
  ];
  const edges: GenotypeEdge[] = pairs.map(([op, source], k) => ({
    from: source < 2 ? { kind: "input", index: source } : { kind: "node", index: source - 2 },
    to: Math.floor(k / 2),
    op,
  }));
  return { cellType: "normal", edges };
}

/**
 * Checks that `xml` is well formed as far as tags go: every element closes in order, attributes
 * are quoted, and text holds no raw `<` or stray `&`. Returns the element names seen.
 */
function checkXml(xml: string): string[] {
  const stack: string[] = [];
  const seen: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let root = 0;
  for (const m of xml.matchAll(token)) {
    const [, closing, name, , selfClosing, text, stray] = m;
    if (stray) throw new Error(`malformed tag at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`unescaped & in "${text}"`);
      if (stack.length === 0 && text.trim() !== "") throw new Error(`text outside the root: "${text}"`);
      continue;
    }
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
      continue;
    }
    seen.push(name as string);
    if (stack.length === 0) root++;
    if (!selfClosing) stack.push(name as string);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join("> <")}>`);
  if (root !== 1) throw new Error(`expected one root element, found ${root}`);
  return seen;
}

Deno.test("checkXml() itself rejects unbalanced tags and raw ampersands", () => {
  assert.throws(() => checkXml("<svg><g></svg>"), /closes/);
  assert.throws(() => checkXml("<svg><text>a & b</text></svg>"), /unescaped &/);
  assert.throws(() => checkXml("<svg><rect x=1/></svg>"), /malformed/);
  assert.deepEqual(checkXml('<svg a="1"><g/><text>x &amp; y</text></svg>'), ["svg", "g", "text"]);
});

Deno.test("cellToSvg() draws DARTS_V2's normal cell as well-formed SVG with every op and node name", () => {
  const svg = cellToSvg(dartsCell(), dartsV2Normal());
  const elements = checkXml(svg);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  for (const name of ["prev_prev", "prev", "n0", "n1", "n2", "n3", "concat"]) {
    assert.match(svg, new RegExp(`>${name}<`));
  }
  for (const op of ["sep_conv_3x3", "skip_connect", "dil_conv_3x3"]) assert.match(svg, new RegExp(`>${op}<`));
  assert.equal(svg.match(/class="label"/g)?.length, 8, "one label per edge");
  assert.ok(elements.filter((e) => e === "path").length >= 8 + 4, "8 edges and 4 output edges");
  assert.ok(!svg.includes("NaN") && !svg.includes("undefined"));
});

Deno.test("cellToSvg() escapes names and handles a one-input cell whose output is its last node", () => {
  const cellType: CellType = {
    name: "chain<&>",
    reduction: false,
    span,
    inputs: [{ name: "x", span }],
    nodes: [{ name: "first", span }, { name: "second", span }],
    edges: [
      { from: { kind: "input", index: 0 }, to: 0, candidates: ["a&b"], stride: 1, span },
      { from: { kind: "node", index: 0 }, to: 1, candidates: ["conv"], stride: 1, span },
      { from: { kind: "input", index: 0 }, to: 1, candidates: ["skip"], stride: 1, span },
    ],
    output: { nodes: [1], project: false, span },
    derive: { kind: "one_op_per_edge", span },
  };
  const cell: GenotypeCell = {
    cellType: "chain<&>",
    edges: cellType.edges.map((e) => ({ from: e.from, to: e.to, op: e.candidates[0] as string })),
  };
  const svg = cellToSvg(cellType, cell);
  checkXml(svg);
  for (
    const text of ["x", "first", "second", "output", "a&amp;b", "conv", "skip", "chain&lt;&amp;&gt; cell"]
  ) {
    assert.ok(svg.includes(`>${text}<`), `missing ${text}`);
  }
  assert.ok(!svg.includes("NaN"));
});

Deno.test("cellToSvg() labels the output of a projected cell and marks a reduction cell", () => {
  const svg = cellToSvg(dartsCell("reduction", true), { ...dartsV2Normal(), cellType: "reduction" });
  checkXml(svg);
  assert.ok(svg.includes(">concat → 1×1 conv<"));
  assert.ok(svg.includes(">reduction cell (reduction)<"));
});

Deno.test("cellToDot() lists every node and every edge with its op", () => {
  const dot = cellToDot(dartsCell(), dartsV2Normal());
  assert.match(dot, /^digraph "normal" \{\n {2}rankdir=LR;/);
  assert.match(dot, /"prev_prev" -> "n0" \[label="sep_conv_3x3"\];/);
  assert.match(dot, /"prev_prev" -> "n3" \[label="skip_connect"\];/);
  assert.match(dot, /"n0" -> "n3" \[label="dil_conv_3x3"\];/);
  assert.equal(dot.match(/\[label="[a-z_0-9]+"\];/g)?.length, 8);
  for (let j = 0; j < 4; j++) assert.ok(dot.includes(`"n${j}" -> "output" [style=dashed];`));
  assert.ok(dot.trimEnd().endsWith("}"));
});

Deno.test("supernetToSvg() draws every remaining candidate with a width that grows with Φ", () => {
  const cellType = dartsCell();
  const candidates = cellType.edges.map((_, i) => DARTS_OPS.filter((_, k) => (k + i) % 3 !== 0));
  const alpha = candidates.map((ops) => ops.map((_, k) => k * 0.5));
  const svg = supernetToSvg(cellType, alpha, candidates, 0.5);
  checkXml(svg);
  for (const op of DARTS_OPS) assert.ok(svg.includes(`>${op}<`), `legend lacks ${op}`);
  const paths = [...svg.matchAll(/stroke-width="([\d.]+)"><title>([a-z_0-9]+) Φ=([\d.]+)</g)];
  assert.equal(paths.length, candidates.flat().length);
  const byPhi = paths.map((m) => [Number(m[3]), Number(m[1])] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < byPhi.length; i++) assert.ok((byPhi[i]?.[1] ?? 0) >= (byPhi[i - 1]?.[1] ?? 0) - 0.11);
  assert.ok(svg.includes("T = 0.500"));
  assert.ok(!svg.includes("NaN"));
});

Deno.test("an op keeps its colour as other ops are pruned, and the derived cell draws it in the same colour", () => {
  const cellType = dartsCell();
  const colourOf = (svg: string, op: string) =>
    svg.match(new RegExp(`stroke="(#[0-9a-f]{6})"[^>]*><title>${op}[ <]`))?.[1];
  const all = cellType.edges.map((e) => e.candidates);
  const pruned = all.map(() => ["sep_conv_5x5", "dil_conv_5x5"]); // six ops gone from every edge
  const before = supernetToSvg(cellType, all.map((ops) => ops.map(() => 0)), all, 1);
  const after = supernetToSvg(cellType, pruned.map(() => [0, 0]), pruned, 1);
  const derived = cellToSvg(cellType, {
    cellType: "normal",
    edges: cellType.edges.map((e) => ({ from: e.from, to: e.to, op: "dil_conv_5x5" })),
  });
  for (const op of ["sep_conv_5x5", "dil_conv_5x5"]) {
    assert.ok(colourOf(before, op), `no colour for ${op}`);
    assert.equal(colourOf(after, op), colourOf(before, op), op);
  }
  assert.equal(colourOf(derived, "dil_conv_5x5"), colourOf(before, "dil_conv_5x5"));
  assert.notEqual(colourOf(before, "sep_conv_5x5"), colourOf(before, "dil_conv_5x5"));
});

Deno.test("curvesToSvg() draws five panels with ticks, labels and one line per cell type", () => {
  const telemetry = Array.from({ length: 30 }, (_, epoch) => ({
    epoch,
    temperature: 1.6 * 0.95 ** epoch,
    threshold: 0.05,
    sparsity: Math.min(0.8, epoch / 30),
    epochMs: 10_000 - epoch * 200,
    entropy: { normal: 1 - epoch / 40, reduction: 1 - epoch / 35 },
  }));
  const svg = curvesToSvg(telemetry);
  checkXml(svg);
  assert.equal(svg.match(/class="panel"/g)?.length, 5);
  for (
    const title of ["Temperature T", "Pruning threshold θ", "Normalized entropy", "Sparsity", "Epoch time"]
  ) {
    assert.ok(svg.includes(`>${title}<`), `missing ${title}`);
  }
  for (const name of ["normal", "reduction"]) assert.ok(svg.includes(`>${name}<`));
  assert.equal(svg.match(/>epoch</g)?.length, 5);
  for (const tick of [">0<", ">10<", ">20<", ">1.5<"]) assert.ok(svg.includes(tick), `missing tick ${tick}`);
  assert.ok(!svg.includes("NaN") && !svg.includes("Infinity"));
});

Deno.test("curvesToSvg() draws empty and single-epoch telemetry without NaN", () => {
  const empty = curvesToSvg([]);
  checkXml(empty);
  assert.ok(empty.includes(">no data<"));
  assert.ok(!empty.includes("NaN"));
  const one = curvesToSvg([{
    epoch: 0,
    temperature: 1,
    threshold: 0.05,
    sparsity: 0,
    epochMs: 5,
    entropy: {},
  }]);
  checkXml(one);
  assert.ok(!one.includes("NaN") && !one.includes("Infinity"));
});

/**
 * Pictures of a run as plain strings, with no dependencies: the derived cell as Graphviz DOT and as
 * SVG (inputs on the left, intermediate nodes in layers, the output on the right, each edge
 * labelled with its op), the supernet cell with each candidate drawn with a width ∝ Φ, and the
 * curves of a search (T, θ, normalized entropy, sparsity, epoch time vs epoch: the paper's Fig. 3
 * and Fig. 7 for one run).
 *
 * @module
 */

import type { CellType, GenotypeCell, NodeRef } from "../../dsl/ir.ts";
import { softmaxWithTemperature } from "../loops/schedules.ts";

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Escapes text for XML content and attribute values. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A number as short SVG coordinate text. */
function f(v: number): string {
  return String(Math.round(v * 10) / 10);
}

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/** An estimate of the width of `text` at `size` px in a sans-serif font. */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.6;
}

/** A palette that stays distinguishable for up to 10 ops (Tableau 10). */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/**
 * Each op's colour: by its place among the cell type's candidates, so an op keeps its colour as others
 * are pruned, and the derived cell draws it as the supernet did.
 */
function opColors(cellType: CellType, fallback: string): (op: string) => string {
  const all = [...new Set(cellType.edges.flatMap((e) => e.candidates))];
  return (op) => {
    const k = all.indexOf(op);
    return k < 0 ? fallback : PALETTE[k % PALETTE.length] ?? fallback;
  };
}

function svgOpen(width: number, height: number, minX = 0, minY = 0): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f(width)}" height="${f(height)}" ` +
    `viewBox="${f(minX)} ${f(minY)} ${f(width)} ${f(height)}" font-family="${FONT}">\n`;
}

// ---------------------------------------------------------------------------------------------
// Cell layout: layered, left to right

interface Point {
  readonly x: number;
  readonly y: number;
}

interface Box {
  readonly id: string;
  readonly label: string;
  readonly kind: "input" | "node" | "output";
  x: number;
  y: number;
  readonly w: number;
  readonly h: number;
}

interface RoutedEdge {
  readonly from: Box;
  readonly to: Box;
  /** Control points of the cubic Bézier curve. */
  readonly p: readonly [Point, Point, Point, Point];
}

interface CellLayout {
  readonly boxes: readonly Box[];
  readonly edges: readonly RoutedEdge[];
  readonly outputEdges: readonly RoutedEdge[];
}

const NODE_H = 36;
const ROW_GAP = 100;

function bezier(p: readonly [Point, Point, Point, Point], t: number): Point {
  const u = 1 - t;
  const a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
  return {
    x: a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x,
    y: a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y,
  };
}

function pathOf(p: readonly [Point, Point, Point, Point], dy = 0): string {
  return `M${f(p[0].x)},${f(p[0].y + dy)} C${f(p[1].x)},${f(p[1].y + dy)} ${f(p[2].x)},${f(p[2].y + dy)} ` +
    `${f(p[3].x)},${f(p[3].y + dy)}`;
}

function hits(box: Box, point: Point, margin: number): boolean {
  return Math.abs(point.x - box.x) < box.w / 2 + margin && Math.abs(point.y - box.y) < box.h / 2 + margin;
}

/**
 * Lays out a cell: inputs in layer 0, node j in 1 + the deepest layer among its sources, the output
 * after the deepest node. `labels` are the widest edge labels (they set the column gap).
 */
function layoutCell(
  cellType: CellType,
  edges: readonly { readonly from: NodeRef; readonly to: number }[],
  labelWidth: number,
  outputLabel: string,
): CellLayout {
  const inputs: Box[] = cellType.inputs.map((input, i) => ({
    id: `i${i}`,
    label: input.name,
    kind: "input",
    x: 0,
    y: 0,
    w: Math.max(70, textWidth(input.name, 13) + 22),
    h: NODE_H,
  }));
  const nodes: Box[] = cellType.nodes.map((node, j) => ({
    id: `n${j}`,
    label: node.name,
    kind: "node",
    x: 0,
    y: 0,
    w: Math.max(44, textWidth(node.name, 13) + 22),
    h: NODE_H,
  }));
  const output: Box = {
    id: "out",
    label: outputLabel,
    kind: "output",
    x: 0,
    y: 0,
    w: Math.max(70, textWidth(outputLabel, 13) + 22),
    h: NODE_H,
  };
  const boxOf = (ref: NodeRef): Box => (ref.kind === "input" ? inputs[ref.index] : nodes[ref.index]) as Box;

  // Layers.
  const layer = new Map<Box, number>(inputs.map((b) => [b, 0]));
  for (let j = 0; j < nodes.length; j++) {
    let depth = 0;
    for (const e of edges) {
      if (e.to === j) depth = Math.max(depth, layer.get(boxOf(e.from)) ?? 0);
    }
    layer.set(nodes[j] as Box, depth + 1);
  }
  const outLayer = Math.max(0, ...nodes.map((n) => layer.get(n) ?? 1)) + 1;
  layer.set(output, outLayer);
  const columns: Box[][] = Array.from({ length: outLayer + 1 }, () => []);
  for (const [box, l] of layer) columns[l]?.push(box);

  // Positions: columns left to right; within a column evenly spaced about y = 0. Single boxes in
  // neighbouring columns zig-zag a little so that straight chains do not hide longer edges.
  const widest = Math.max(...[...layer.keys()].map((b) => b.w));
  const step = widest + Math.max(150, labelWidth + 70);
  columns.forEach((column, l) => {
    column.forEach((box, k) => {
      box.x = l * step;
      box.y = (k - (column.length - 1) / 2) * ROW_GAP * (l === 0 ? 1.6 : 1);
      if (column.length === 1 && l > 0 && l < outLayer) box.y += l % 2 === 0 ? 40 : -40;
    });
  });
  const allBoxes = [...inputs, ...nodes, output];

  // Ports spread along the right side (outgoing) and left side (incoming) of each box.
  const pending = [
    ...edges.map((e) => ({ from: boxOf(e.from), to: nodes[e.to] as Box })),
    ...cellType.output.nodes.map((j) => ({ from: nodes[j] as Box, to: output })),
  ];
  const portY = (box: Box, side: "in" | "out", other: Box): number => {
    const peers = pending.filter((e) => (side === "in" ? e.to === box : e.from === box))
      .map((e) => (side === "in" ? e.from : e.to))
      .sort((a, b) => a.y - b.y || a.x - b.x);
    const k = peers.indexOf(other);
    const spread = Math.min(7, (box.h - 10) / Math.max(1, peers.length - 1));
    return box.y + (k - (peers.length - 1) / 2) * spread;
  };
  const route = (from: Box, to: Box, index: number): RoutedEdge => {
    const start = { x: from.x + from.w / 2, y: portY(from, "out", to) };
    const end = { x: to.x - to.w / 2 - 2, y: portY(to, "in", from) };
    const dx = end.x - start.x;
    const obstacles = allBoxes.filter((b) => b !== from && b !== to);
    let best: RoutedEdge | null = null;
    for (let k = 0; k <= 8; k++) {
      const sign = k === 0 ? 0 : (from.y < 0 || (from.y === 0 && index % 2 === 0) ? -1 : 1);
      const bow = sign * 34 * k;
      const p: [Point, Point, Point, Point] = [
        start,
        { x: start.x + dx * 0.35, y: start.y + bow * 1.25 },
        { x: end.x - dx * 0.35, y: end.y + bow * 1.25 },
        end,
      ];
      best = { from, to, p };
      let clear = true;
      for (let s = 1; s < 40 && clear; s++) {
        const q = bezier(p, s / 40);
        if (obstacles.some((b) => hits(b, q, 10))) clear = false;
      }
      if (clear) break;
    }
    return best as RoutedEdge;
  };
  const routed = edges.map((e, i) => route(boxOf(e.from), nodes[e.to] as Box, i));
  const outputEdges = cellType.output.nodes.map((j, i) => route(nodes[j] as Box, output, i));
  return { boxes: allBoxes, edges: routed, outputEdges };
}

const BOX_STYLE = {
  input: { fill: "#dbe9f6", stroke: "#4e79a7", rx: 6 },
  node: { fill: "#fdf1d6", stroke: "#c48a1a", rx: 18 },
  output: { fill: "#dff0d8", stroke: "#59a14f", rx: 6 },
} as const;

function drawBox(box: Box): string {
  const s = BOX_STYLE[box.kind];
  return `<g class="${box.kind}"><rect x="${f(box.x - box.w / 2)}" y="${f(box.y - box.h / 2)}" ` +
    `width="${f(box.w)}" height="${f(box.h)}" rx="${s.rx}" fill="${s.fill}" stroke="${s.stroke}" ` +
    `stroke-width="1.5"/><text x="${f(box.x)}" y="${f(box.y + 4.5)}" font-size="13" ` +
    `text-anchor="middle" fill="#222">${esc(box.label)}</text></g>\n`;
}

interface Label {
  readonly text: string;
  readonly color: string;
  readonly edge: RoutedEdge;
}

/** Places edge labels on their curves, moving each along its curve until it overlaps nothing. */
function drawLabels(labels: readonly Label[], boxes: readonly Box[]): string {
  const placed: { x: number; y: number; w: number; h: number }[] = [];
  const overlaps = (r: { x: number; y: number; w: number; h: number }) =>
    placed.some((o) =>
      Math.abs(o.x - r.x) < (o.w + r.w) / 2 + 2 && Math.abs(o.y - r.y) < (o.h + r.h) / 2 + 1
    ) ||
    boxes.some((b) => Math.abs(b.x - r.x) < (b.w + r.w) / 2 + 2 && Math.abs(b.y - r.y) < (b.h + r.h) / 2 + 2);
  const ts = [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8];
  let out = "";
  for (const label of labels) {
    const w = textWidth(label.text, 11) + 8, h = 15;
    let rect = { ...bezier(label.edge.p, 0.5), w, h };
    for (const t of ts) {
      const candidate = { ...bezier(label.edge.p, t), w, h };
      if (!overlaps(candidate)) {
        rect = candidate;
        break;
      }
    }
    placed.push(rect);
    out += `<g class="label"><rect x="${f(rect.x - w / 2)}" y="${f(rect.y - h / 2)}" width="${f(w)}" ` +
      `height="${h}" rx="3" fill="#fff" fill-opacity="0.92" stroke="${label.color}" stroke-width="1.2"/>` +
      `<text x="${f(rect.x)}" y="${f(rect.y + 3.8)}" font-size="11" text-anchor="middle" ` +
      `fill="#222">${esc(label.text)}</text></g>\n`;
  }
  return out;
}

/** The bounding box of everything drawn, with a margin, as [minX, minY, width, height]. */
function bounds(layout: CellLayout, extraTop: number): [number, number, number, number] {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const add = (x: number, y: number) => {
    minX = Math.min(minX, x), maxX = Math.max(maxX, x), minY = Math.min(minY, y), maxY = Math.max(maxY, y);
  };
  for (const b of layout.boxes) add(b.x - b.w / 2, b.y - b.h / 2), add(b.x + b.w / 2, b.y + b.h / 2);
  for (const e of [...layout.edges, ...layout.outputEdges]) {
    for (let s = 0; s <= 20; s++) {
      const q = bezier(e.p, s / 20);
      add(q.x, q.y - 12), add(q.x, q.y + 12);
    }
  }
  const m = 16;
  return [minX - m, minY - m - extraTop, maxX - minX + 2 * m, maxY - minY + 2 * m + extraTop];
}

function outputLabelOf(cellType: CellType): string {
  if (cellType.output.nodes.length === 1 && !cellType.output.project) return "output";
  return cellType.output.project ? "concat → 1×1 conv" : "concat";
}

function markerId(cellType: CellType, suffix: string): string {
  return `arrow-${cellType.name.replace(/[^A-Za-z0-9_-]/g, "_")}-${suffix}`;
}

function arrowMarker(id: string, color: string): string {
  return `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" ` +
    `orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${color}"/></marker>`;
}

// ---------------------------------------------------------------------------------------------
// The derived cell

/**
 * The derived cell as an SVG picture: inputs on the left (their names), intermediate nodes in
 * layers, the output (concat) on the right; each kept edge is a curve with an arrowhead, labelled
 * with its op.
 *
 * @param cellType The cell type of the space (its inputs, node names and output).
 * @param cell The derived cell (one op per kept edge).
 * @returns A standalone SVG document.
 * @example
 * ```ts
 * import { cellToSvg } from "./render.ts";
 * import type { CellType } from "../../dsl/ir.ts";
 * const span = { file: "x.space", line: 1, column: 1, offset: 0, length: 1 };
 * const cellType: CellType = {
 *   name: "normal", reduction: false, span,
 *   inputs: [{ name: "prev", span }], nodes: [{ name: "n0", span }],
 *   edges: [{ from: { kind: "input", index: 0 }, to: 0, candidates: ["skip"], stride: 1, span }],
 *   output: { nodes: [0], project: false, span }, derive: { kind: "one_op_per_edge", span },
 * };
 * const svg = cellToSvg(cellType, { cellType: "normal", edges: [{ from: { kind: "input", index: 0 }, to: 0, op: "skip" }] });
 * svg.startsWith("<svg"); // true
 * ```
 */
export function cellToSvg(cellType: CellType, cell: GenotypeCell): string {
  const labelWidth = Math.max(0, ...cell.edges.map((e) => textWidth(e.op, 11) + 8));
  const layout = layoutCell(cellType, cell.edges, labelWidth, outputLabelOf(cellType));
  const [minX, minY, width, height] = bounds(layout, 26);
  const arrow = markerId(cellType, "derived");
  const ops = [...new Set(cell.edges.map((e) => e.op))];
  const color = opColors(cellType, "#555");
  let svg = svgOpen(width, height, minX, minY);
  svg += `<defs>${arrowMarker(arrow, "#555")}${
    ops.map((op, k) => arrowMarker(`${arrow}-${k}`, color(op))).join("")
  }</defs>\n`;
  svg += `<rect x="${f(minX)}" y="${f(minY)}" width="${f(width)}" height="${f(height)}" fill="#fff"/>\n`;
  svg += `<text x="${f(minX + 14)}" y="${f(minY + 22)}" font-size="14" font-weight="bold" fill="#222">` +
    `${esc(cellType.name)} cell${cellType.reduction ? " (reduction)" : ""}</text>\n`;
  layout.edges.forEach((e, i) => {
    const op = cell.edges[i]?.op ?? "";
    svg += `<path d="${pathOf(e.p)}" fill="none" stroke="${color(op)}" stroke-width="1.8" ` +
      `marker-end="url(#${arrow}-${ops.indexOf(op)})"><title>${esc(op)}</title></path>\n`;
  });
  for (const e of layout.outputEdges) {
    svg += `<path d="${pathOf(e.p)}" fill="none" stroke="#999" stroke-width="1.2" stroke-dasharray="5 4" ` +
      `marker-end="url(#${arrow})"/>\n`;
  }
  for (const box of layout.boxes) svg += drawBox(box);
  svg += drawLabels(
    cell.edges.map((e, i) => ({ text: e.op, color: color(e.op), edge: layout.edges[i] as RoutedEdge })),
    layout.boxes,
  );
  return svg + "</svg>\n";
}

function dotQuote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The derived cell as a Graphviz DOT graph (left to right; inputs, nodes, output; edges labelled
 * with their ops), e.g. for `dot -Tpng`.
 *
 * @param cellType The cell type of the space.
 * @param cell The derived cell.
 * @returns DOT source.
 * @example
 * ```ts
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { cellTypeOf } from "../../dsl/ir.ts";
 * import { cellToDot } from "./render.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const cell = {
 *   cellType: "normal",
 *   edges: [
 *     { from: { kind: "input" as const, index: 0 }, to: 0, op: "pool" },
 *     { from: { kind: "node" as const, index: 0 }, to: 1, op: "skip" },
 *   ],
 * };
 * const dot = cellToDot(cellTypeOf(ir!, "normal"), cell);
 * if (!dot.startsWith('digraph "normal" {') || !dot.includes('"prev_prev" -> "n0" [label="pool"];')) {
 *   throw new Error(dot);
 * }
 * ```
 */
export function cellToDot(cellType: CellType, cell: GenotypeCell): string {
  const name = (ref: NodeRef) =>
    ref.kind === "input"
      ? cellType.inputs[ref.index]?.name ?? `input${ref.index}`
      : nodeName(cellType, ref.index);
  const lines = [
    `digraph ${dotQuote(cellType.name)} {`,
    "  rankdir=LR;",
    '  node [fontname="Helvetica", style="filled,rounded", shape=box];',
    '  edge [fontname="Helvetica", fontsize=11];',
  ];
  for (const input of cellType.inputs) lines.push(`  ${dotQuote(input.name)} [fillcolor="#dbe9f6"];`);
  for (const node of cellType.nodes) {
    lines.push(`  ${dotQuote(node.name)} [fillcolor="#fdf1d6", shape=ellipse];`);
  }
  lines.push(`  "output" [label=${dotQuote(outputLabelOf(cellType))}, fillcolor="#dff0d8"];`);
  lines.push(`  { rank=source; ${cellType.inputs.map((i) => dotQuote(i.name)).join("; ")}; }`);
  lines.push('  { rank=sink; "output"; }');
  for (const e of cell.edges) {
    lines.push(
      `  ${dotQuote(name(e.from))} -> ${dotQuote(nodeName(cellType, e.to))} [label=${dotQuote(e.op)}];`,
    );
  }
  for (const j of cellType.output.nodes) {
    lines.push(`  ${dotQuote(nodeName(cellType, j))} -> "output" [style=dashed];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function nodeName(cellType: CellType, index: number): string {
  return cellType.nodes[index]?.name ?? `n${index}`;
}

// ---------------------------------------------------------------------------------------------
// The supernet cell

/**
 * The supernet cell during the search: every edge of the cell type drawn as a bundle of its
 * remaining candidates, each with a stroke width ∝ Φ = softmax(α / T) and a colour per op (legend
 * below). Each edge is labelled with its strongest op and its Φ.
 *
 * @param cellType The cell type of the space.
 * @param alpha α per edge (aligned with `cellType.edges`), one entry per remaining candidate.
 * @param candidatesPerEdge The remaining candidates' names per edge, aligned with `alpha`.
 * @param temperature The temperature T of Φ.
 * @returns A standalone SVG document.
 * @example
 * ```ts
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { cellTypeOf } from "../../dsl/ir.ts";
 * import { supernetToSvg } from "./render.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const normal = cellTypeOf(ir!, "normal");
 * // α = (0, ln 3) on every edge: at T = 1, Φ = (0.25, 0.75), so "pool 0.75" labels each edge.
 * const alpha = normal.edges.map(() => [0, Math.log(3)]);
 * const candidates = normal.edges.map((e) => e.candidates);
 * const svg = supernetToSvg(normal, alpha, candidates, 1);
 * if (!svg.startsWith("<svg") || !svg.includes("pool 0.75")) throw new Error(svg);
 * ```
 */
export function supernetToSvg(
  cellType: CellType,
  alpha: readonly (readonly number[])[],
  candidatesPerEdge: readonly (readonly string[])[],
  temperature: number,
): string {
  const ops = [...new Set(candidatesPerEdge.flat())];
  const color = opColors(cellType, "#888");
  const phi = cellType.edges.map((_, i) => softmaxWithTemperature(alpha[i] ?? [], temperature));
  const strongest = cellType.edges.map((_, i) => {
    const p = phi[i] ?? [];
    const k = p.indexOf(Math.max(...p));
    return { op: candidatesPerEdge[i]?.[k] ?? "", phi: p[k] ?? 0 };
  });
  const labelText = (i: number) => {
    const s = strongest[i] as { op: string; phi: number };
    return `${s.op} ${s.phi.toFixed(2)}`;
  };
  const labelWidth = Math.max(0, ...cellType.edges.map((_, i) => textWidth(labelText(i), 11) + 8));
  const layout = layoutCell(cellType, cellType.edges, labelWidth, outputLabelOf(cellType));
  const [minX, minY, width, boxHeight] = bounds(layout, 26);
  const legendRows = Math.ceil(ops.length / 4);
  const height = boxHeight + 14 + legendRows * 20;
  const arrow = markerId(cellType, "supernet");
  let svg = svgOpen(Math.max(width, 4 * 170 + 20), height, minX, minY);
  svg += `<defs>${arrowMarker(arrow, "#999")}</defs>\n`;
  svg += `<rect x="${f(minX)}" y="${f(minY)}" width="${f(Math.max(width, 700))}" height="${f(height)}" ` +
    `fill="#fff"/>\n`;
  svg += `<text x="${f(minX + 14)}" y="${f(minY + 22)}" font-size="14" font-weight="bold" fill="#222">` +
    `${esc(cellType.name)} supernet cell, T = ${esc(temperature.toPrecision(3))}</text>\n`;
  layout.edges.forEach((e, i) => {
    const names = candidatesPerEdge[i] ?? [];
    const p = phi[i] ?? [];
    names.forEach((op, k) => {
      const dy = (k - (names.length - 1) / 2) * 2.2;
      svg += `<path d="${pathOf(e.p, dy)}" fill="none" stroke="${color(op)}" stroke-opacity="0.85" ` +
        `stroke-width="${f(0.4 + 7 * (p[k] ?? 0))}"><title>${esc(op)} Φ=${
          (p[k] ?? 0).toFixed(3)
        }</title></path>\n`;
    });
  });
  for (const e of layout.outputEdges) {
    svg += `<path d="${pathOf(e.p)}" fill="none" stroke="#999" stroke-width="1.2" stroke-dasharray="5 4" ` +
      `marker-end="url(#${arrow})"/>\n`;
  }
  for (const box of layout.boxes) svg += drawBox(box);
  svg += drawLabels(
    layout.edges.map((edge, i) => ({ text: labelText(i), color: color(strongest[i]?.op ?? ""), edge })),
    layout.boxes,
  );
  ops.forEach((op, k) => {
    const x = minX + 16 + (k % 4) * 170;
    const y = minY + boxHeight + 8 + Math.floor(k / 4) * 20;
    svg += `<g class="legend"><rect x="${f(x)}" y="${f(y)}" width="18" height="8" fill="${color(op)}"/>` +
      `<text x="${f(x + 24)}" y="${f(y + 8)}" font-size="11" fill="#222">${esc(op)}</text></g>\n`;
  });
  return svg + "</svg>\n";
}

// ---------------------------------------------------------------------------------------------
// Curves of a run

/** One epoch of telemetry, as far as the curves need it. */
export interface CurvePoint {
  readonly epoch: number;
  readonly temperature: number;
  readonly threshold: number;
  readonly sparsity: number;
  readonly epochMs: number;
  /** Normalized entropy per cell type. */
  readonly entropy: Readonly<Record<string, number>>;
}

interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

/** About five round tick values covering [lo, hi]. */
function niceTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

function tickText(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** The range a series' values span, widened when flat and to include 0 for non-negative data. */
function valueRange(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values), hi = Math.max(...values);
  if (lo >= 0 && lo < hi * 0.5) lo = 0;
  if (hi - lo < 1e-12) {
    const pad = Math.abs(hi) > 0 ? Math.abs(hi) * 0.5 : 1;
    lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    hi += pad;
  }
  return [lo, hi];
}

const PANEL_W = 330, PANEL_H = 220;
const PAD = { left: 58, right: 14, top: 28, bottom: 40 };

function panel(title: string, yLabel: string, series: readonly Series[], ox: number, oy: number): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1Raw] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const x1 = x1Raw > x0 ? x1Raw : x0 + 1;
  const [y0, y1] = valueRange(ys);
  const xTicks = niceTicks(x0, x1), yTicks = niceTicks(y0, y1);
  const lo = Math.min(y0, yTicks[0] ?? y0), hi = Math.max(y1, yTicks.at(-1) ?? y1);
  const w = PANEL_W - PAD.left - PAD.right, h = PANEL_H - PAD.top - PAD.bottom;
  const px = (x: number) => ox + PAD.left + ((x - x0) / (x1 - x0)) * w;
  const py = (y: number) => oy + PAD.top + h - ((y - lo) / (hi - lo || 1)) * h;
  let out = `<g class="panel">\n<text x="${f(ox + PAD.left + w / 2)}" y="${f(oy + 17)}" font-size="13" ` +
    `font-weight="bold" text-anchor="middle" fill="#222">${esc(title)}</text>\n`;
  out +=
    `<rect x="${f(ox + PAD.left)}" y="${f(oy + PAD.top)}" width="${f(w)}" height="${f(h)}" fill="none" ` +
    `stroke="#bbb"/>\n`;
  for (const t of xTicks) {
    out +=
      `<line x1="${f(px(t))}" y1="${f(oy + PAD.top + h)}" x2="${f(px(t))}" y2="${f(oy + PAD.top + h + 4)}" ` +
      `stroke="#444"/><text x="${f(px(t))}" y="${f(oy + PAD.top + h + 16)}" font-size="10" ` +
      `text-anchor="middle" fill="#333">${esc(tickText(t))}</text>\n`;
  }
  for (const t of yTicks) {
    out +=
      `<line x1="${f(ox + PAD.left - 4)}" y1="${f(py(t))}" x2="${f(ox + PAD.left + w)}" y2="${f(py(t))}" ` +
      `stroke="#eee"/><text x="${f(ox + PAD.left - 7)}" y="${f(py(t) + 3.5)}" font-size="10" ` +
      `text-anchor="end" fill="#333">${esc(tickText(t))}</text>\n`;
  }
  out +=
    `<text x="${f(ox + PAD.left + w / 2)}" y="${f(oy + PANEL_H - 6)}" font-size="11" text-anchor="middle" ` +
    `fill="#333">epoch</text>\n`;
  out += `<text transform="translate(${f(ox + 13)},${f(oy + PAD.top + h / 2)}) rotate(-90)" font-size="11" ` +
    `text-anchor="middle" fill="#333">${esc(yLabel)}</text>\n`;
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${f(px(p[0]))},${f(py(p[1]))}`).join(" ");
    out += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>\n`;
    if (s.points.length === 1) {
      const p = s.points[0] as readonly [number, number];
      out += `<circle cx="${f(px(p[0]))}" cy="${f(py(p[1]))}" r="2.5" fill="${s.color}"/>\n`;
    }
  }
  if (series.length > 1) {
    series.forEach((s, k) => {
      const y = oy + PAD.top + 10 + k * 14;
      const x = ox + PAD.left + w - 8;
      out +=
        `<line x1="${f(x - 40)}" y1="${f(y - 3.5)}" x2="${f(x - 26)}" y2="${
          f(y - 3.5)
        }" stroke="${s.color}" ` +
        `stroke-width="2"/><text x="${f(x - 44)}" y="${f(y)}" font-size="10" text-anchor="end" ` +
        `fill="#222">${esc(s.name)}</text>\n`;
    });
  }
  if (xs.length === 0) {
    out += `<text x="${f(ox + PAD.left + w / 2)}" y="${f(oy + PAD.top + h / 2)}" font-size="11" ` +
      `text-anchor="middle" fill="#999">no data</text>\n`;
  }
  return out + "</g>\n";
}

/**
 * The curves of a run as small multiples: temperature T, threshold θ, normalized entropy per cell
 * type, sparsity, and epoch time, each against the epoch, with axes, ticks and labels.
 *
 * @param telemetry One entry per epoch.
 * @returns A standalone SVG document.
 * @example
 * ```ts
 * import { curvesToSvg } from "./render.ts";
 * const svg = curvesToSvg([
 *   { epoch: 0, temperature: 1.6, threshold: 0.05, sparsity: 0, epochMs: 900, entropy: { normal: 1 } },
 *   { epoch: 1, temperature: 1.52, threshold: 0.05, sparsity: 0.1, epochMs: 800, entropy: { normal: 0.9 } },
 * ]);
 * svg.includes("temperature"); // true
 * ```
 */
export function curvesToSvg(telemetry: readonly CurvePoint[]): string {
  const line = (key: "temperature" | "threshold" | "sparsity"): Series[] => [
    { name: key, color: PALETTE[0] as string, points: telemetry.map((t) => [t.epoch, t[key]]) },
  ];
  const cellTypes = [...new Set(telemetry.flatMap((t) => Object.keys(t.entropy)))];
  const entropy: Series[] = cellTypes.map((name, k) => ({
    name,
    color: PALETTE[k % PALETTE.length] as string,
    points: telemetry.filter((t) => name in t.entropy).map((t) => [t.epoch, t.entropy[name] ?? 0]),
  }));
  const panels: [string, string, Series[]][] = [
    ["Temperature T", "T", line("temperature")],
    ["Pruning threshold θ", "θ", line("threshold")],
    ["Normalized entropy", "H / ln |O|", entropy],
    ["Sparsity", "fraction of ops pruned", line("sparsity")],
    ["Epoch time", "seconds", [{
      name: "epoch time",
      color: PALETTE[0] as string,
      points: telemetry.map((t) => [t.epoch, t.epochMs / 1000]),
    }]],
  ];
  const columns = 3;
  const width = columns * PANEL_W + 20, height = Math.ceil(panels.length / columns) * PANEL_H + 20;
  let svg = svgOpen(width, height);
  svg += `<rect width="${width}" height="${height}" fill="#fff"/>\n`;
  panels.forEach(([title, yLabel, series], k) => {
    svg += panel(title, yLabel, series, 10 + (k % columns) * PANEL_W, 10 + Math.floor(k / columns) * PANEL_H);
  });
  return svg + "</svg>\n";
}

/**
 * Writes an IR back as `.space` text: operations as primitive pipelines (or the composite call
 * whose lowering they are), cells in full (no `extends`), every setting written out so the text
 * compiles to the same IR on its own. {@linkcode printFoundSpace} writes a run's `found.space`:
 * the space with each cell type's edges fixed to the genotype's.
 *
 * @module
 */

import type {
  CellType,
  Derivation,
  Edge,
  EvaluateSettings,
  GenotypeCell,
  NodeRef,
  Operation,
  SearchSettings,
  SpaceIR,
  Step,
  Supernet,
  WeightOptimizer,
} from "./ir.ts";
import { cellTypeOf, operationOf } from "./ir.ts";

/** Options of {@linkcode printSpace}. */
export interface PrintOptions {
  /** Comment lines written above the space (each prefixed with `// `). */
  readonly header?: string | readonly string[];
}

const INDENT = "  ";
/** Lists longer than this are wrapped, one continuation line per overflow (the project's fmt width). */
const LINE_WIDTH = 110;

/** A number as the lexer reads it back exactly (`String` gives the shortest round-tripping form). */
function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot write the number ${value} in .space text`);
  return String(value);
}

/** `key: a, b, c`, wrapped under the first item when it would exceed the line width. */
function listSetting(indent: string, key: string, items: readonly string[]): string {
  const head = `${indent}${key}: `;
  const lines: string[] = [];
  let line = head;
  items.forEach((item, i) => {
    const piece = item + (i < items.length - 1 ? "," : "");
    if (line.length > head.length && line.length + 1 + piece.length > LINE_WIDTH) {
      lines.push(line);
      line = " ".repeat(head.length) + piece;
    } else {
      line += (line.length > head.length ? " " : "") + piece;
    }
  });
  lines.push(line);
  return lines.join("\n");
}

/** Named arguments `(a: 1, b: 2)`. */
function args(entries: readonly (readonly [string, string])[]): string {
  return `(${entries.map(([k, v]) => `${k}: ${v}`).join(", ")})`;
}

/**
 * One primitive call as `.space` text; optional parameters at their defaults are left out, `kernel`
 * is always written.
 *
 * @param step A primitive step.
 * @returns E.g. `conv(kernel: 3, groups: 4)` or `batch_norm(affine: true)`.
 * @example
 * ```ts
 * import { formatStep } from "./print.ts";
 * // dilation 1 is the default and is left out; groups 4 is not.
 * const text = formatStep({ kind: "conv", kernel: 3, dilation: 1, groups: 4 });
 * if (text !== "conv(kernel: 3, groups: 4)") throw new Error(text);
 * ```
 */
export function formatStep(step: Step): string {
  switch (step.kind) {
    case "conv": {
      const a: [string, string][] = [["kernel", num(step.kernel)]];
      if (step.dilation !== 1) a.push(["dilation", num(step.dilation)]);
      if (step.groups !== 1) a.push(["groups", num(step.groups)]);
      return `conv${args(a)}`;
    }
    case "dw_conv": {
      const a: [string, string][] = [["kernel", num(step.kernel)]];
      if (step.dilation !== 1) a.push(["dilation", num(step.dilation)]);
      return `dw_conv${args(a)}`;
    }
    case "batch_norm":
      return step.affine === undefined
        ? "batch_norm"
        : `batch_norm${args([["affine", String(step.affine)]])}`;
    case "max_pool":
    case "avg_pool":
      return `${step.kind}${args([["kernel", num(step.kernel)]])}`;
    case "relu":
    case "identity":
    case "zero":
    case "conv_1x1":
    case "factorized_reduce":
      return step.kind;
  }
}

/** The kernel of `relu > dw_conv(k, d) > conv_1x1 > batch_norm` at `steps[at]`, or null. */
function reluDwPw(steps: readonly Step[], at: number): { kernel: number; dilation: number } | null {
  const [relu, dw, pw, bn] = steps.slice(at, at + 4);
  if (relu?.kind !== "relu" || dw?.kind !== "dw_conv" || pw?.kind !== "conv_1x1") return null;
  if (bn?.kind !== "batch_norm" || bn.affine !== undefined) return null;
  return { kernel: dw.kernel, dilation: dw.dilation };
}

/** The composite call whose lowering is exactly `steps`, or null. */
function compositeOf(steps: readonly Step[]): string | null {
  if (steps.length === 8) {
    const first = reluDwPw(steps, 0);
    const second = reluDwPw(steps, 4);
    if (first && second && first.dilation === 1 && second.dilation === 1 && first.kernel === second.kernel) {
      return `sep_conv${args([["kernel", num(first.kernel)]])}`;
    }
  }
  if (steps.length === 4) {
    const only = reluDwPw(steps, 0);
    if (only) return `dil_conv${args([["kernel", num(only.kernel)], ["dilation", num(only.dilation)]])}`;
  }
  const [relu, conv, bn] = steps;
  if (
    steps.length === 3 && relu?.kind === "relu" && conv?.kind === "conv" && conv.dilation === 1 &&
    conv.groups === 1 && bn?.kind === "batch_norm" && bn.affine === undefined
  ) {
    return `relu_conv_bn${args([["kernel", num(conv.kernel)]])}`;
  }
  return null;
}

/**
 * The right-hand side of an `operation` declaration: the composite call when the steps are
 * exactly its lowering, else the primitive pipeline.
 *
 * @param op A lowered operation.
 * @returns E.g. `sep_conv(kernel: 3)` or `relu > conv(kernel: 3, groups: 4) > batch_norm(affine: true)`.
 * @example
 * ```ts
 * import { formatOperation } from "./print.ts";
 * const span = { file: "x", line: 1, column: 1, offset: 0, length: 0 };
 * const text = formatOperation({ name: "skip", steps: [{ kind: "identity" }], span });
 * if (text !== "identity") throw new Error(text);
 * ```
 */
export function formatOperation(op: Operation): string {
  if (op.steps.length === 0) throw new Error(`operation "${op.name}" has no steps`);
  return compositeOf(op.steps) ?? op.steps.map(formatStep).join(" > ");
}

function refName(cell: CellType, ref: NodeRef): string {
  const named = ref.kind === "input" ? cell.inputs[ref.index] : cell.nodes[ref.index];
  if (!named) throw new Error(`cell "${cell.name}" has no ${ref.kind} ${ref.index}`);
  return named.name;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** True when the edges are exactly what `all_previous` builds, all with one candidate list. */
function isAllPrevious(cell: CellType): boolean {
  const first = cell.edges[0];
  if (!first) return false;
  let i = 0;
  for (let to = 0; to < cell.nodes.length; to++) {
    const froms: NodeRef[] = [
      ...cell.inputs.map((_, index): NodeRef => ({ kind: "input", index })),
      ...Array.from({ length: to }, (_, index): NodeRef => ({ kind: "node", index })),
    ];
    for (const from of froms) {
      const e = cell.edges[i++];
      if (!e || e.to !== to || e.from.kind !== from.kind || e.from.index !== from.index) return false;
      if (!sameList(e.candidates, first.candidates)) return false;
    }
  }
  return i === cell.edges.length;
}

/** The stride `.space` gives an edge: 2 when it leaves an input of a reduction cell. */
function impliedStride(cell: CellType, from: NodeRef): 1 | 2 {
  return cell.reduction && from.kind === "input" ? 2 : 1;
}

function formatDerive(derive: Derivation): string {
  if (derive.kind === "one_op_per_edge") return "one_op_per_edge";
  const [only, ...rest] = derive.exclude;
  if (only === undefined) return `top_k(${num(derive.k)})`;
  const exclude = rest.length === 0 ? only : `[${derive.exclude.join(", ")}]`;
  return `top_k(${num(derive.k)}, exclude: ${exclude})`;
}

function formatCell(cell: CellType): string {
  const i2 = INDENT + INDENT;
  for (const e of cell.edges) {
    if (e.stride !== impliedStride(cell, e.from)) {
      throw new Error(
        `cell "${cell.name}": edge ${refName(cell, e.from)} -> ${
          refName(cell, { kind: "node", index: e.to })
        } ` +
          `has stride ${e.stride}, which .space cannot express (only edges leaving a reduction cell's inputs have stride 2)`,
      );
    }
  }
  const lines = [`${INDENT}cell ${cell.name} {`];
  lines.push(listSetting(i2, "inputs", cell.inputs.map((x) => x.name)));
  const numbered = cell.nodes.every((n, i) => n.name === `n${i}`);
  lines.push(
    numbered ? `${i2}nodes: ${cell.nodes.length}` : listSetting(i2, "nodes", cell.nodes.map((n) => n.name)),
  );
  const first = cell.edges[0];
  if (first && isAllPrevious(cell)) {
    lines.push(`${i2}edges: all_previous`);
    lines.push(listSetting(i2, "candidates", first.candidates));
  } else {
    const shared = first !== undefined && cell.edges.every((e) => sameList(e.candidates, first.candidates));
    if (shared) lines.push(listSetting(i2, "candidates", first.candidates));
    lines.push(`${i2}edges {`);
    for (const e of cell.edges) {
      const own = shared ? "" : ` [${e.candidates.join(", ")}]`;
      lines.push(
        `${i2}${INDENT}${refName(cell, e.from)} -> ${refName(cell, { kind: "node", index: e.to })}${own}`,
      );
    }
    lines.push(`${i2}}`);
  }
  const out = cell.output.nodes;
  const all = out.length === cell.nodes.length && out.every((n, i) => n === i);
  const node = (index: number) => refName(cell, { kind: "node", index });
  const [single] = out;
  const output = all && out.length > 1
    ? "concat(nodes)"
    : out.length === 1 && single !== undefined
    ? node(single)
    : `concat(${out.map(node).join(", ")})`;
  lines.push(`${i2}output: ${output}${cell.output.project ? " project" : ""}`);
  lines.push(`${i2}derive: ${formatDerive(cell.derive)}`);
  if (cell.reduction) lines.push(`${i2}reduction: true`);
  lines.push(`${INDENT}}`);
  return lines.join("\n");
}

/** The supernet block; throws when the placements are not what `normal`/`reduction` would build. */
function formatSupernet(ir: SpaceIR, supernet: Supernet): string {
  const { cells, reductions } = supernet;
  const normal = cells.find((_, i) => !reductions.includes(i))?.cellType;
  const reduction = cells.find((_, i) => reductions.includes(i))?.cellType;
  let c = supernet.channels;
  cells.forEach((p, i) => {
    const isReduction = reductions.includes(i);
    if (isReduction && supernet.channelDoubling) c *= 2;
    const expected = isReduction ? reduction : normal;
    if (p.cellType !== expected || p.channels !== c) {
      throw new Error(
        `space "${ir.name}": supernet cell ${i} (type "${p.cellType}", ${p.channels} channels) cannot be written ` +
          `as .space, which places "${expected}" with ${c} channels there`,
      );
    }
  });
  const i2 = INDENT + INDENT;
  const lines = [
    `${INDENT}supernet {`,
    `${i2}channels: ${num(supernet.channels)}`,
    `${i2}cells: ${cells.length}`,
    `${i2}reductions: [${reductions.map(num).join(", ")}]`,
    `${i2}stem_multiplier: ${num(supernet.stemMultiplier)}`,
    `${i2}channel_doubling: ${supernet.channelDoubling}`,
  ];
  if (normal !== undefined) lines.push(`${i2}normal: ${normal}`);
  if (reduction !== undefined) lines.push(`${i2}reduction: ${reduction}`);
  lines.push(`${INDENT}}`);
  return lines.join("\n");
}

function formatSgd(w: WeightOptimizer): string {
  return `sgd${
    args([
      ["lr", num(w.lr)],
      ["lr_min", num(w.lrMin)],
      ["momentum", num(w.momentum)],
      ["nesterov", String(w.nesterov)],
      ["weight_decay", num(w.weightDecay)],
      ["grad_clip", num(w.gradClip)],
    ])
  }`;
}

function formatSearch(s: SearchSettings): string {
  const i2 = INDENT + INDENT;
  const t = s.temperature;
  const temperature = t.kind === "exponential"
    ? `exponential${args([["t0", num(t.t0)], ["beta", num(t.beta)]])}`
    : t.kind === "constant"
    ? `constant(${num(t.value)})`
    : `pac${
      args([["eta", num(t.eta)], ["lipschitz", num(t.lipschitz)], ["delta", num(t.delta)], ["nu", num(t.nu)]])
    }`;
  const grace = s.grace.kind === "temperature"
    ? `grace_temperature: ${num(s.grace.tau)}`
    : `grace_epochs: ${num(s.grace.epochs)}`;
  const threshold = s.threshold.kind === "fixed"
    ? `${num(s.threshold.c)} / N`
    : `pac(nu: ${num(s.threshold.nu)})`;
  const lines = [`${INDENT}search ${s.algorithm} {`, `${i2}temperature: ${temperature}`, `${i2}${grace}`];
  // Only asap prunes by a threshold; the others still hold the default (fixed c 0.4), which
  // writing would only draw an "ignored-setting" warning.
  const defaultThreshold = s.threshold.kind === "fixed" && s.threshold.c === 0.4;
  if (s.algorithm === "asap" || !defaultThreshold) lines.push(`${i2}threshold: ${threshold}`);
  const sp = s.sparsity;
  if (sp) {
    lines.push(
      `${i2}sparsity: schedule${
        args([
          ["final", num(sp.final)],
          ["initial", num(sp.initial)],
          ["start", num(sp.start)],
          ["interval", num(sp.interval)],
          ["steps", num(sp.steps)],
          ["power", num(sp.power)],
        ])
      }`,
    );
  }
  const a = s.archOptimizer;
  lines.push(
    `${i2}schedule_unit: ${s.scheduleUnit}`,
    `${i2}max_epochs: ${num(s.maxEpochs)}`,
    `${i2}batch_size: ${num(s.batchSize)}`,
    `${i2}train_fraction: ${num(s.trainFraction)}`,
    `${i2}weights: ${formatSgd(s.weightOptimizer)}`,
    `${i2}alpha: adam${
      args([["lr", num(a.lr)], ["beta1", num(a.beta1)], ["beta2", num(a.beta2)], [
        "weight_decay",
        num(a.weightDecay),
      ]])
    }`,
    `${INDENT}}`,
  );
  return lines.join("\n");
}

function formatEvaluate(e: EvaluateSettings): string {
  const i2 = INDENT + INDENT;
  const lr = e.lrSchedule.kind === "cosine"
    ? "cosine"
    : `cyclic${args([["cycles", num(e.lrSchedule.cycles)], ["decay", num(e.lrSchedule.decay)]])}`;
  return [
    `${INDENT}evaluate {`,
    `${i2}cells: ${num(e.cells)}`,
    `${i2}channels: ${num(e.channels)}`,
    `${i2}reductions: [${e.reductions.map(num).join(", ")}]`,
    `${i2}auxiliary_weight: ${num(e.auxiliaryWeight)}`,
    `${i2}drop_path: ${num(e.dropPath)}`,
    `${i2}cutout: ${num(e.cutout)}`,
    `${i2}label_smoothing: ${num(e.labelSmoothing)}`,
    `${i2}auto_augment: ${e.autoAugment}`,
    `${i2}epochs: ${num(e.epochs)}`,
    `${i2}batch_size: ${num(e.batchSize)}`,
    `${i2}lr_schedule: ${lr}`,
    `${i2}weights: ${formatSgd(e.weightOptimizer)}`,
    `${INDENT}}`,
  ].join("\n");
}

/**
 * Writes a space's IR as `.space` text that compiles back to the same IR (spans aside).
 *
 * @param ir The compiled space.
 * @param options A comment header.
 * @returns The text, ending with a newline.
 * @throws Error when the IR holds something `.space` cannot express (a supernet stack that is not
 *   normal/reduction cells by position with the rule's channels, an edge stride against the rule).
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { irToJson } from "./ir.ts";
 * import { printSpace } from "./print.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const text = printSpace(ir!, { header: "every setting written out" });
 * // The printed space compiles back to the same IR, spans aside.
 * const back = compileSpace(text).ir!;
 * const noSpans = (json: string) => json.replace(/"span": \{[^}]*\}/g, "");
 * if (noSpans(irToJson({ ...back, source: ir!.source })) !== noSpans(irToJson(ir!))) throw new Error(text);
 * ```
 */
export function printSpace(ir: SpaceIR, options: PrintOptions = {}): string {
  const header = options.header === undefined
    ? []
    : typeof options.header === "string"
    ? [options.header]
    : options.header;
  const parts: string[] = header.flatMap((h) => h.split("\n")).map((line) => `// ${line}`.trimEnd());
  parts.push(`space ${ir.name} {`);
  const width = Math.max(0, ...ir.operations.map((op) => op.name.length));
  for (const op of ir.operations) {
    parts.push(`${INDENT}operation ${op.name.padEnd(width)} = ${formatOperation(op)}`);
  }
  for (const cell of ir.cellTypes) parts.push("", formatCell(cell));
  parts.push(
    "",
    formatSupernet(ir, ir.supernet),
    "",
    formatSearch(ir.search),
    "",
    formatEvaluate(ir.evaluate),
    "}",
  );
  return parts.join("\n") + "\n";
}

function refOrder(cell: CellType, ref: NodeRef): number {
  return ref.kind === "input" ? ref.index : cell.inputs.length + ref.index;
}

/**
 * Writes the space with each cell type's edges fixed to a genotype's: one candidate per kept edge
 * (`n0 -> n1 [sep_conv_3x3]`), in `all_previous` order. Cell types without a genotype cell keep
 * their searched edges. This is a run's `found.space`.
 *
 * @param ir The space the genotype was found in.
 * @param cells The derived cells.
 * @param options A comment header (default: a line naming the space).
 * @returns The text, ending with a newline.
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * import { fixedCells } from "./ir.ts";
 * import { printFoundSpace } from "./print.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation conv = sep_conv(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, conv }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * const prev = { kind: "input" as const, index: 1 };
 * const edges = [{ from: prev, to: 0, op: "conv" }, { from: prev, to: 1, op: "skip" }];
 * const text = printFoundSpace(ir!, [{ cellType: "normal", edges }, { cellType: "reduction", edges }]);
 * // found.space compiles, and every edge of it has one candidate left.
 * const found = fixedCells(compileSpace(text).ir!);
 * if (!("cells" in found) || found.cells[0]?.edges[1]?.op !== "skip") throw new Error(text);
 * ```
 */
export function printFoundSpace(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
  options: PrintOptions = {},
): string {
  const cellTypes = ir.cellTypes.map((cell): CellType => {
    const found = cells.find((g) => g.cellType === cell.name);
    if (!found) return cell;
    const edges = found.edges.map((g): Edge => {
      operationOf(ir, g.op);
      const searched = cell.edges.find((e) =>
        e.from.kind === g.from.kind && e.from.index === g.from.index && e.to === g.to
      );
      return {
        from: g.from,
        to: g.to,
        candidates: [g.op],
        stride: searched?.stride ?? impliedStride(cell, g.from),
        span: searched?.span ?? cell.span,
      };
    });
    edges.sort((a, b) => a.to - b.to || refOrder(cell, a.from) - refOrder(cell, b.from));
    return { ...cell, edges };
  });
  for (const g of cells) cellTypeOf(ir, g.cellType);
  const header = options.header ?? `the cells found in space "${ir.name}": one op per kept edge`;
  return printSpace({ ...ir, cellTypes }, { header });
}

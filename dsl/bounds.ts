/**
 * The size limits of the language, checked on the AST before anything that grows with a size is
 * expanded (node lists, all_previous edges, the stack of placed cells, parameter counts). A value past
 * its limit is an `out-of-range` diagnostic at the value, with a hint that names the limit and why it
 * exists, and the space is not resolved further: `nodes: 20000` is refused at once instead of building
 * two hundred million edges.
 *
 * Every limit is generous for the spaces people search: NAS-Bench-201 (3 nodes, 5 ops, 17 cells),
 * ENAS (5 nodes), DARTS on CIFAR-10 and ImageNet (4 nodes, 8 ops, C = 16 … 48, 8 … 20 cells) and
 * 20-cell evaluation networks at C = 50.
 *
 * @module
 */
import type { Entry, SectionDecl, SpaceFile, Value } from "./ast.ts";
import { diagnostic } from "./diagnostics.ts";
import type { SpaceIR, Span } from "./ir.ts";
import { PRIMITIVES } from "./primitives.ts";
import type { Report } from "./read.ts";

/** A largest allowed value and why it exists (shown in the diagnostic's hint). */
export interface Limit {
  readonly max: number;
  readonly why: string;
}

const ROOM = "far above any published space";

/** The limits, each with the reason a larger value is refused. */
export const LIMITS = {
  /** Characters of a `.space` file. */
  source: {
    max: 100_000,
    why: "a hand-written space is a few kilobytes (DARTS' is 2 KB); larger files are refused so a " +
      "compile stays under a second",
  },
  operations: { max: 256, why: `every operation can be a candidate of every edge; ${ROOM} (DARTS: 8)` },
  cellTypes: { max: 16, why: `each cell type gets its own α; ${ROOM} (DARTS: 2)` },
  /** Steps of one operation's pipeline. */
  steps: { max: 64, why: "an operation is a short pipeline of primitives (sep_conv: 8 steps)" },
  inputs: { max: 16, why: `every node may take an edge from every input; ${ROOM} (DARTS: 2)` },
  nodes: {
    max: 64,
    why: `all_previous edges grow with the square of the nodes; ${ROOM} (DARTS: 4, ENAS: 5)`,
  },
  edges: { max: 4096, why: `each edge is a mixed op of every candidate; ${ROOM} (DARTS: 14)` },
  candidates: { max: 256, why: `each candidate is an op on every edge of every cell; ${ROOM} (DARTS: 8)` },
  cells: {
    max: 512,
    why: `every cell holds its edges' weights and activations; ${ROOM} (DARTS: 8 to search, 20 to evaluate)`,
  },
  channels: {
    max: 8192,
    why: `weights grow with the square of the channels; ${ROOM} (DARTS: 16 to search, 36 … 48 to evaluate)`,
  },
  /** Channels after the doublings at the reductions. */
  widestChannels: {
    max: 65_536,
    why: "each reduction doubles the channels, and weights grow with their square",
  },
  reductions: {
    max: 16,
    why: "each reduction halves the feature map (and doubles the channels): 16 take 65,536 pixels to one",
  },
  stemMultiplier: { max: 64, why: `the stem's width is stem_multiplier · C; ${ROOM} (DARTS: 3)` },
  kernel: {
    max: 63,
    why: `a kernel wider than the feature map only adds zeros; ${ROOM} (DARTS: 5; ImageNet stems: 7)`,
  },
  dilation: { max: 32, why: `a dilated kernel spans (kernel − 1) · dilation + 1 pixels; ${ROOM} (DARTS: 2)` },
  /** Pixels a dilated kernel spans, (kernel − 1) · dilation + 1. */
  span: { max: 255, why: "a kernel spanning more than a 224-pixel ImageNet image only adds zeros" },
  groups: { max: 65_536, why: "groups must divide the channels, which are at most 65,536" },
  batchSize: {
    max: 65_536,
    why: "activations grow with the batch; the search and the evaluation check the memory at their batch",
  },
  cutout: { max: 1024, why: "cutout's square is cut from an image of at most 1,024 pixels a side" },
  /** Candidate ops over every placed cell of the supernet: the ops the runtime builds. */
  placedCandidates: {
    max: 200_000,
    why: "the runtime builds every candidate of every edge of every cell (DARTS: 896)",
  },
  /** Entries of α over all cell types. */
  archParams: { max: 100_000, why: "α has one entry per candidate per edge per cell type (DARTS: 224)" },
} as const satisfies Record<string, Limit>;

/** The limit of a primitive parameter, by name. */
const PARAMETER_LIMITS: Readonly<Record<string, Limit>> = {
  kernel: LIMITS.kernel,
  dilation: LIMITS.dilation,
  groups: LIMITS.groups,
};

/**
 * The refusal of a value past its limit.
 *
 * @param what how the value is named, e.g. `"nodes"`
 * @param value its spelling in the source
 * @param limit the limit it exceeds
 * @param span where it is
 * @returns an `out-of-range` error whose hint names the limit and why it exists
 */
export function tooLarge(what: string, value: string, limit: Limit, span: Span) {
  return diagnostic(
    "out-of-range",
    `${what} must be at most ${limit.max.toLocaleString("en-US")} but is ${value}`,
    span,
    `the limit is ${limit.max.toLocaleString("en-US")}: ${limit.why}`,
  );
}

/** The values of a list-like setting: `a, b` or `[a, b]`. */
function items(entry: Entry): readonly Value[] {
  if (entry.kind !== "setting") return [];
  const first = entry.values[0];
  return entry.values.length === 1 && first?.kind === "list" ? first.items : entry.values;
}

/** The single number of a setting, when it is one. */
function numberOf(entry: Entry | undefined): { value: number; text: string; span: Span } | null {
  if (entry?.kind !== "setting" || entry.values.length !== 1) return null;
  const v = entry.values[0]!;
  return v.kind === "number" && Number.isFinite(v.value) ? v : null;
}

/** Whether a setting says `false` (for channel_doubling). */
function saysFalse(entry: Entry | undefined): boolean {
  const v = entry?.kind === "setting" && entry.values.length === 1 ? entry.values[0] : undefined;
  return v?.kind === "nameValue" && v.name.text === "false";
}

class Bounds {
  ok = true;
  constructor(readonly report: Report) {}

  /** Reports `n` when it exceeds `limit`; true when it does not. */
  check(what: string, n: number, text: string, limit: Limit, span: Span): boolean {
    if (n <= limit.max) return true;
    this.ok = false;
    this.report(tooLarge(what, text, limit, span));
    return false;
  }

  /** A numeric setting. */
  number(entry: Entry | undefined, what: string, limit: Limit): void {
    const n = numberOf(entry);
    if (n) this.check(what, n.value, n.text, limit, n.span);
  }

  /** The length of a list-like setting (reported at its first item past the limit). */
  count(entry: Entry | undefined, what: string, limit: Limit): void {
    if (!entry) return;
    const list = items(entry);
    const past = list[limit.max];
    if (past) this.check(what, list.length, String(list.length), limit, past.span);
  }

  operation(value: Value | null): void {
    if (!value) return;
    const stages = value.kind === "pipeline" ? value.stages : [value];
    const past = stages[LIMITS.steps.max];
    if (past) {
      this.check("an operation's pipeline", stages.length, `${stages.length} steps`, LIMITS.steps, past.span);
    }
    for (const stage of stages) {
      if (stage.kind !== "call") continue;
      const spec = PRIMITIVES.find((p) => p.name === stage.callee.text);
      if (!spec) continue;
      const given = new Map<string, { value: number; text: string; span: Span }>();
      stage.args.forEach((arg, i) => {
        const name = arg.name?.text ?? spec.params[i]?.name;
        if (name === undefined || arg.value.kind !== "number" || !Number.isFinite(arg.value.value)) return;
        given.set(name, arg.value);
        const limit = PARAMETER_LIMITS[name];
        if (limit) {
          this.check(`"${name}" of "${spec.name}"`, arg.value.value, arg.value.text, limit, arg.value.span);
        }
      });
      const k = given.get("kernel");
      const d = given.get("dilation")?.value ?? (spec.name === "dil_conv" ? 2 : 1);
      if (k && k.value <= LIMITS.kernel.max && d <= LIMITS.dilation.max) {
        const span = (k.value - 1) * d + 1;
        this.check(`the span of "${spec.name}"'s kernel`, span, `${span} pixels`, LIMITS.span, k.span);
      }
    }
  }

  cell(entries: readonly Entry[]): void {
    for (const entry of entries) {
      const key = entry.key.text;
      if (key === "inputs") this.count(entry, '"inputs"', LIMITS.inputs);
      else if (key === "candidates") this.count(entry, '"candidates"', LIMITS.candidates);
      else if (key === "nodes") {
        if (numberOf(entry)) this.number(entry, '"nodes"', LIMITS.nodes);
        else this.count(entry, '"nodes"', LIMITS.nodes);
      } else if (key === "edges" && entry.kind === "edgeBlock") {
        const past = entry.edges[LIMITS.edges.max];
        if (past) {
          this.check('"edges"', entry.edges.length, `${entry.edges.length} edges`, LIMITS.edges, past.span);
        }
        for (const edge of entry.edges) {
          const list = edge.candidates?.items ?? [];
          const over = list[LIMITS.candidates.max];
          if (over) {
            this.check(
              "an edge's candidates",
              list.length,
              String(list.length),
              LIMITS.candidates,
              over.span,
            );
          }
        }
      }
    }
  }

  /** `cells`, `channels`, `reductions` of the supernet or the evaluation, and their doublings. */
  stack(section: SectionDecl | null, doubling: boolean): void {
    const get = (key: string) => section?.entries.find((e) => e.key.text === key);
    this.number(get("cells"), '"cells"', LIMITS.cells);
    const channels = numberOf(get("channels"));
    const okChannels = channels === null ||
      this.check('"channels"', channels.value, channels.text, LIMITS.channels, channels.span);
    const reductions = get("reductions");
    this.count(reductions, '"reductions"', LIMITS.reductions);
    const count = reductions ? items(reductions).length : 2;
    // With the default C the resolved space is checked (checkTotals); here the written C, at its value.
    if (!doubling || !okChannels || !channels || count > LIMITS.reductions.max) return;
    const widest = channels.value * 2 ** count;
    this.check(
      "the widest cell's channels (C · 2^reductions)",
      widest,
      `${channels.text} · 2^${count} = ${widest.toLocaleString("en-US")}`,
      LIMITS.widestChannels,
      reductions?.span ?? channels.span,
    );
  }
}

/**
 * Checks every size of a parsed space against {@linkcode LIMITS}, before anything grows with it.
 *
 * @param ast the parsed file
 * @param report receives an `out-of-range` error for each value past its limit
 * @returns true when every size is within its limit (the space may be resolved)
 * @example
 * ```ts
 * import { parseSpace } from "./parse.ts";
 * import { checkBounds } from "./bounds.ts";
 * const { ast } = parseSpace("space s { cell normal { nodes: 20000 candidates: x } }", "s.space");
 * const found: string[] = [];
 * if (checkBounds(ast!, (d) => found.push(d.hint ?? "")) || !found[0]?.startsWith("the limit is 64")) {
 *   throw new Error(found.join());
 * }
 * ```
 */
export function checkBounds(ast: SpaceFile, report: Report): boolean {
  const b = new Bounds(report);
  const decls = ast.declarations;
  const operations = decls.filter((d) => d.kind === "operation");
  const cells = decls.filter((d) => d.kind === "cell");
  const pastOp = operations[LIMITS.operations.max];
  if (pastOp) {
    b.check(
      "the number of operations",
      operations.length,
      String(operations.length),
      LIMITS.operations,
      pastOp.name.span,
    );
  }
  const pastCell = cells[LIMITS.cellTypes.max];
  if (pastCell) {
    b.check(
      "the number of cell types",
      cells.length,
      String(cells.length),
      LIMITS.cellTypes,
      pastCell.name.span,
    );
  }
  for (const op of operations) b.operation(op.definition);
  for (const cell of cells) b.cell(cell.entries);
  const sections = decls.filter((d): d is SectionDecl => d.kind === "section");
  const supernet = sections.find((s) => s.section === "supernet") ?? null;
  const doubling = !saysFalse(supernet?.entries.find((e) => e.key.text === "channel_doubling"));
  for (const section of sections) {
    const get = (key: string) => section.entries.find((e) => e.key.text === key);
    if (section.section === "supernet") {
      b.stack(section, doubling);
      b.number(get("stem_multiplier"), '"stem_multiplier"', LIMITS.stemMultiplier);
    } else if (section.section === "evaluate") {
      b.stack(section, doubling);
      b.number(get("batch_size"), '"batch_size"', LIMITS.batchSize);
      b.number(get("cutout"), '"cutout"', LIMITS.cutout);
    } else b.number(get("batch_size"), '"batch_size"', LIMITS.batchSize);
  }
  return b.ok;
}

/**
 * Checks the sizes that only the resolved space knows: candidate ops over the placed cells, and α.
 *
 * @param ir the resolved space (every per-declaration size within its limit)
 * @param report receives the problems
 * @returns true when both are within their limits
 */
export function checkTotals(ir: SpaceIR, report: Report): boolean {
  const perType = new Map(
    ir.cellTypes.map((t) => [t.name, t.edges.reduce((n, e) => n + e.candidates.length, 0)]),
  );
  const placed = ir.supernet.cells.reduce((n, p) => n + (perType.get(p.cellType) ?? 0), 0);
  const arch = [...new Set(ir.supernet.cells.map((p) => p.cellType))].reduce(
    (n, t) => n + (perType.get(t) ?? 0),
    0,
  );
  const b = new Bounds(report);
  const text = (n: number) => n.toLocaleString("en-US");
  const what = "the widest cell's channels (C · 2^reductions)";
  const searched = Math.max(0, ...ir.supernet.cells.map((p) => p.channels));
  b.check(what, searched, text(searched), LIMITS.widestChannels, ir.supernet.span);
  const doublings = ir.supernet.channelDoubling ? ir.evaluate.reductions.length : 0;
  const evaluated = ir.evaluate.channels * 2 ** doublings;
  b.check(what, evaluated, text(evaluated), LIMITS.widestChannels, ir.evaluate.span);
  b.check(
    "the supernet's candidate ops (cells × edges × candidates)",
    placed,
    text(placed),
    LIMITS.placedCandidates,
    ir.supernet.span,
  );
  b.check(
    "α's entries (edges × candidates over the cell types)",
    arch,
    text(arch),
    LIMITS.archParams,
    ir.supernet.span,
  );
  return b.ok;
}

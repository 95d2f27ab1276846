/**
 * Cell types: `extends` merging, then inputs, nodes, edges (`all_previous` or explicit), candidates,
 * output and derivation, checked and resolved into the IR's `CellType`.
 *
 * @module
 */
import type { CellDecl, EdgeDecl, Entry, Name, Value } from "./ast.ts";
import { diagnostic } from "./diagnostics.ts";
import type { CellInput, CellNode, CellOutput, CellType, Derivation, Edge, NodeRef, Span } from "./ir.ts";
import { PRIMITIVES } from "./primitives.ts";
import {
  type CallSpec,
  describe,
  num,
  ranges,
  readBool,
  readCall,
  readChoice,
  readNumber,
  type Report,
} from "./read.ts";
import { collectEntries, single } from "./settings.ts";
import { didYouMean } from "./suggest.ts";

/** The keys a cell accepts. */
export const CELL_KEYS: readonly string[] = [
  "inputs",
  "nodes",
  "edges",
  "candidates",
  "output",
  "derive",
  "reduction",
  "description",
];

/** Derivation rules. */
export const DERIVATIONS: readonly CallSpec[] = [
  { name: "one_op_per_edge", params: [], doc: "keep every edge with its strongest op (ASAP, Algorithm 1)" },
  {
    name: "top_k",
    params: [
      { name: "k", type: "int", range: ranges.atLeastOne, doc: "≥ 1" },
      { name: "exclude", type: "names", optional: true, doc: "operations never chosen, e.g. none" },
    ],
    doc: "per node keep the k strongest incoming edges, each with its strongest op (DARTS)",
  },
];

/**
 * A cell's entries after `extends`: the base's (recursively), overridden key by key by its own.
 * Reports unknown bases and cycles.
 *
 * @param decl the cell
 * @param cells every cell declaration by name (the first of each name)
 * @param report receives the problems
 * @returns the entries by key, or null when the base cannot be resolved
 */
export function effectiveEntries(
  decl: CellDecl,
  cells: ReadonlyMap<string, CellDecl>,
  report: Report,
): Map<string, Entry> | null {
  const chain: CellDecl[] = [decl];
  let current = decl;
  while (current.base) {
    const base = cells.get(current.base.text);
    if (!base) {
      const hint = didYouMean(current.base.text, cells.keys());
      report(
        diagnostic(
          "unknown-cell",
          `cell type "${current.base.text}" is not declared`,
          current.base.span,
          hint,
        ),
      );
      return null;
    }
    if (chain.includes(base)) {
      report(
        diagnostic(
          "cyclic-extends",
          `cell "${decl.name.text}" extends itself through "${current.base.text}"`,
          current.base.span,
        ),
      );
      return null;
    }
    chain.push(base);
    current = base;
  }
  const merged = new Map<string, Entry>();
  for (const cell of chain.reverse()) {
    for (const [key, entry] of collectEntries(cell.entries, CELL_KEYS, `cell "${cell.name.text}"`, report)) {
      merged.set(key, entry);
    }
  }
  return merged;
}

/** What a cell needs to know about the space. */
export interface CellContext {
  /** Declared operation names, in declaration order. */
  readonly operations: readonly string[];
  /** Whether the cell (or its base chain) lost entries to error recovery. */
  readonly incomplete: boolean;
}

/** The values of a list-like setting: `a, b` or `[a, b]`. */
function listItems(entry: Entry): readonly Value[] {
  if (entry.kind !== "setting") return [];
  const first = entry.values[0];
  return entry.values.length === 1 && first?.kind === "list" ? first.items : entry.values;
}

function names(entry: Entry, what: string, report: Report): Name[] | null {
  const out: Name[] = [];
  for (const v of listItems(entry)) {
    if (v.kind !== "nameValue") {
      report(diagnostic("wrong-type", `${what} must be names but ${describe(v)} is not one`, v.span));
      return null;
    }
    out.push(v.name);
  }
  return out;
}

class CellResolver {
  ok = true;
  readonly inputs: CellInput[] = [];
  readonly nodes: CellNode[] = [];

  constructor(
    readonly decl: CellDecl,
    readonly entries: ReadonlyMap<string, Entry>,
    readonly ctx: CellContext,
    readonly report: Report,
  ) {}

  fail(code: string, message: string, span: Span, hint?: string | null) {
    this.ok = false;
    this.report(diagnostic(code, message, span, hint));
  }

  get where(): string {
    return `cell "${this.decl.name.text}"`;
  }

  /** Inputs and nodes; names unique across both. */
  declareNames() {
    const seen = new Map<string, Name>();
    const add = (name: Name, list: { name: string; span: Span }[]) => {
      const first = seen.get(name.text);
      if (first) {
        this.fail(
          "duplicate-node",
          `"${name.text}" is declared twice in ${this.where}`,
          name.span,
          `first declared at line ${first.span.line}`,
        );
        return;
      }
      seen.set(name.text, name);
      list.push({ name: name.text, span: name.span });
    };
    const inputs = this.entries.get("inputs");
    if (inputs) {
      const list = names(inputs, '"inputs"', this.report);
      if (list === null) this.ok = false;
      else for (const n of list) add(n, this.inputs);
    } else {
      const span = this.decl.name.span;
      add({ kind: "name", text: "prev_prev", span }, this.inputs);
      add({ kind: "name", text: "prev", span }, this.inputs);
    }
    const nodes = this.entries.get("nodes");
    if (!nodes) {
      if (!this.ctx.incomplete && !this.decl.base) {
        this.fail(
          "missing-setting",
          `${this.where} does not say its nodes`,
          this.decl.name.span,
          'add "nodes: 4" (named n0..n3) or "nodes: a, b, c, d"',
        );
      } else this.ok = false;
      return;
    }
    const first = nodes.kind === "setting" ? nodes.values[0] : undefined;
    if (nodes.kind === "setting" && nodes.values.length === 1 && first?.kind === "number") {
      const count = readNumber(first, '"nodes"', { integer: true, range: ranges.atLeastOne }, this.report);
      if (count === null) this.ok = false;
      else for (let i = 0; i < count; i++) add({ kind: "name", text: `n${i}`, span: first.span }, this.nodes);
      return;
    }
    const list = names(nodes, '"nodes"', this.report);
    if (list === null) this.ok = false;
    else for (const n of list) add(n, this.nodes);
    if (list?.length === 0) {
      this.fail("out-of-range", `${this.where} must have at least one node`, nodes.span);
    }
  }

  /** Resolves a name to an input or a node. */
  ref(name: Name): NodeRef | null {
    const input = this.inputs.findIndex((i) => i.name === name.text);
    if (input >= 0) return { kind: "input", index: input };
    const node = this.nodes.findIndex((n) => n.name === name.text);
    if (node >= 0) return { kind: "node", index: node };
    const known = [...this.inputs, ...this.nodes].map((n) => n.name);
    this.fail(
      "unknown-node",
      `${this.where} has no input or node "${name.text}"`,
      name.span,
      didYouMean(name.text, known),
    );
    return null;
  }

  /** Operation names checked against the declarations (duplicates and unknown names reported). */
  candidates(items: readonly Name[], where: Span): string[] | null {
    if (items.length === 0) {
      this.fail("empty-candidates", "the candidate list is empty", where, "list at least one operation");
      return null;
    }
    const out: string[] = [];
    let ok = true;
    for (const name of items) {
      if (!this.ctx.operations.includes(name.text)) {
        ok = false;
        const primitive = PRIMITIVES.some((p) => p.name === name.text);
        const hint = didYouMean(name.text, this.ctx.operations) ??
          (primitive
            ? `"${name.text}" is a primitive: declare an operation, e.g. "operation my_op = ${name.text}"`
            : null);
        this.fail("unknown-op", `operation "${name.text}" is not declared`, name.span, hint);
      } else if (out.includes(name.text)) {
        ok = false;
        this.fail("duplicate-candidate", `operation "${name.text}" is listed twice`, name.span);
      } else out.push(name.text);
    }
    // The IR keeps candidates in declaration order (the order of α's entries).
    return ok ? this.ctx.operations.filter((o) => out.includes(o)) : null;
  }

  edges(cellCandidates: string[] | null | undefined, reduction: boolean): Edge[] {
    const entry = this.entries.get("edges");
    const stride = (from: NodeRef): 1 | 2 => (reduction && from.kind === "input" ? 2 : 1);
    const missingCandidates = () => {
      if (cellCandidates === undefined && !this.ctx.incomplete && !this.decl.base) {
        this.fail(
          "missing-setting",
          `${this.where} does not say its candidates`,
          this.decl.name.span,
          'add "candidates: op, op, …" or a list on every edge: "a -> b [op, …]"',
        );
      }
      this.ok = false;
    };
    if (!entry || entry.kind === "setting") {
      if (entry) {
        const v = single(entry, this.report);
        if (v === null || readChoice(v, '"edges"', ["all_previous"], this.report) === null) {
          this.ok = false;
          return [];
        }
      }
      if (!cellCandidates) {
        missingCandidates();
        return [];
      }
      const span = entry?.span ?? this.decl.name.span;
      const edges: Edge[] = [];
      this.nodes.forEach((_, to) => {
        const froms: NodeRef[] = [
          ...this.inputs.map((_, index): NodeRef => ({ kind: "input", index })),
          ...Array.from({ length: to }, (_, index): NodeRef => ({ kind: "node", index })),
        ];
        for (const from of froms) {
          edges.push({ from, to, candidates: cellCandidates, stride: stride(from), span });
        }
      });
      return edges;
    }
    const edges: Edge[] = [];
    // By "from to", so that a cell of thousands of edges is checked in linear time.
    const declared = new Map<string, Edge>();
    for (const e of entry.edges) {
      const edge = this.edge(e, cellCandidates, stride, missingCandidates);
      if (!edge) continue;
      const key = `${edge.from.kind} ${edge.from.index} ${edge.to}`;
      const twice = declared.get(key);
      if (twice) {
        this.fail(
          "duplicate-edge",
          `edge "${e.from.text} -> ${e.to.text}" is declared twice`,
          e.span,
          `first declared at line ${twice.span.line}`,
        );
      } else {
        declared.set(key, edge);
        edges.push(edge);
      }
    }
    const reached = new Set(edges.map((e) => e.to));
    this.nodes.forEach((node, to) => {
      if (this.ok && !reached.has(to)) {
        this.fail(
          "missing-edge",
          `node "${node.name}" has no incoming edge`,
          entry.key.span,
          `add an edge such as "${this.inputs[0]?.name ?? "prev"} -> ${node.name}"`,
        );
      }
    });
    const rank = (r: NodeRef) => (r.kind === "input" ? r.index : this.inputs.length + r.index);
    return edges.sort((a, b) => a.to - b.to || rank(a.from) - rank(b.from));
  }

  edge(
    e: EdgeDecl,
    cellCandidates: string[] | null | undefined,
    stride: (from: NodeRef) => 1 | 2,
    missingCandidates: () => void,
  ): Edge | null {
    const from = this.ref(e.from);
    const toInput = this.inputs.findIndex((i) => i.name === e.to.text);
    let to: number | null = null;
    if (toInput >= 0) {
      this.fail(
        "edge-order",
        `edge "${e.from.text} -> ${e.to.text}" ends at input "${e.to.text}"`,
        e.to.span,
        "edges end at a node",
      );
    } else {
      const ref = this.ref(e.to);
      if (ref?.kind === "node") to = ref.index;
    }
    if (from === null || to === null) return null;
    if (from.kind === "node" && from.index >= to) {
      const message = from.index === to
        ? `edge "${e.from.text} -> ${e.to.text}" connects node "${e.to.text}" to itself`
        : `edge "${e.from.text} -> ${e.to.text}" comes from the later node "${e.from.text}"`;
      this.fail("edge-order", message, e.span, "an edge comes from an input or an earlier node");
      return null;
    }
    let candidates: string[] | null;
    if (e.candidates) {
      const items: Name[] = [];
      for (const v of e.candidates.items) {
        if (v.kind === "nameValue") items.push(v.name);
        else this.fail("wrong-type", `a candidate must be an operation name but is ${describe(v)}`, v.span);
      }
      candidates = this.candidates(items, e.candidates.span);
    } else {
      if (!cellCandidates) {
        missingCandidates();
        return null;
      }
      candidates = cellCandidates;
    }
    return candidates ? { from, to, candidates, stride: stride(from), span: e.span } : null;
  }

  output(): CellOutput | null {
    const entry = this.entries.get("output");
    const all = this.nodes.map((_, i) => i);
    if (!entry) return { nodes: all, project: false, span: this.decl.name.span };
    const v = single(entry, this.report);
    if (v === null) return null;
    const nodeIndex = (name: Name): number | null => {
      const ref = this.ref(name);
      if (ref?.kind === "input") {
        this.fail("unknown-node", `the output takes nodes, and "${name.text}" is an input`, name.span);
        return null;
      }
      return ref ? ref.index : null;
    };
    if (v.kind === "nameValue") {
      const i = nodeIndex(v.name);
      return i === null ? null : { nodes: [i], project: false, span: v.span };
    }
    if (v.kind !== "call" || v.callee.text !== "concat") {
      const hint = v.kind === "call" ? didYouMean(v.callee.text, ["concat"]) : null;
      this.fail("wrong-type", `"output" must be "concat(…)" or a node but is ${describe(v)}`, v.span, hint);
      return null;
    }
    let project = false;
    for (const flag of v.flags) {
      if (flag.text === "project" && !project) project = true;
      else {this.fail(
          "unknown-value",
          `"${flag.text}" cannot follow "concat(…)"`,
          flag.span,
          didYouMean(flag.text, ["project"]) ?? 'only "project" can',
        );}
    }
    const args = v.args;
    const onlyArg = args[0];
    if (
      args.length === 1 && onlyArg?.name === null && onlyArg.value.kind === "nameValue" &&
      onlyArg.value.name.text === "nodes"
    ) {
      return { nodes: all, project, span: v.span };
    }
    const nodes: number[] = [];
    for (const arg of args) {
      if (arg.name || arg.value.kind !== "nameValue") {
        this.fail("wrong-type", '"concat" takes node names, or "nodes" for all of them', arg.span);
        continue;
      }
      const i = nodeIndex(arg.value.name);
      if (i === null) continue;
      if (nodes.includes(i)) {
        this.fail("duplicate-node", `node "${arg.value.name.text}" is concatenated twice`, arg.span);
      } else nodes.push(i);
    }
    if (args.length === 0) {
      this.fail(
        "empty-candidates",
        '"concat()" needs at least one node',
        v.span,
        'write "concat(nodes)" for all of them',
      );
    }
    return { nodes, project, span: v.span };
  }

  derive(): Derivation | null {
    const entry = this.entries.get("derive");
    if (!entry) return { kind: "one_op_per_edge", span: this.decl.name.span };
    const v = single(entry, this.report);
    if (v === null) return null;
    const call = readCall(v, DERIVATIONS, { what: "derivation", unknownCode: "unknown-value" }, this.report);
    if (!call) return null;
    if (call.spec.name === "one_op_per_edge") return { kind: "one_op_per_edge", span: v.span };
    const excluded = call.args.get("exclude");
    const exclude: string[] = [];
    for (const name of Array.isArray(excluded) ? (excluded as readonly Name[]) : []) {
      if (this.ctx.operations.includes(name.text)) exclude.push(name.text);
      else {this.fail(
          "unknown-op",
          `operation "${name.text}" is not declared`,
          name.span,
          didYouMean(name.text, this.ctx.operations),
        );}
    }
    return { kind: "top_k", k: num(call, "k"), exclude, span: v.span };
  }
}

/**
 * Resolves a cell type from its effective entries.
 *
 * @param decl the cell declaration (names and spans)
 * @param entries its entries after `extends`
 * @param ctx the declared operations and whether recovery dropped entries
 * @param report receives the problems
 * @returns the IR cell type, or null when something is wrong
 */
export function resolveCell(
  decl: CellDecl,
  entries: ReadonlyMap<string, Entry>,
  ctx: CellContext,
  report: Report,
): CellType | null {
  const r = new CellResolver(decl, entries, ctx, report);
  r.declareNames();
  const reductionEntry = entries.get("reduction");
  let reduction = false;
  if (reductionEntry) {
    const v = single(reductionEntry, report);
    const b = v === null ? null : readBool(v, '"reduction"', report);
    if (b === null) r.ok = false;
    else reduction = b;
  }
  const candidatesEntry = entries.get("candidates");
  let cellCandidates: string[] | null | undefined = undefined;
  if (candidatesEntry) {
    const list = names(candidatesEntry, '"candidates"', report);
    cellCandidates = list === null ? null : r.candidates(list, candidatesEntry.span);
    if (cellCandidates === null) r.ok = false;
  }
  const edges = r.edges(cellCandidates, reduction);
  const output = r.output();
  const derive = r.derive();
  if (derive?.kind === "top_k" && derive.exclude.length > 0) {
    for (const edge of edges) {
      if (edge.candidates.every((c) => derive.exclude.includes(c))) {
        r.fail(
          "empty-candidates",
          `every candidate of an edge into node "${r.nodes[edge.to]?.name}" is excluded by "derive"`,
          entries.get("edges")?.kind === "edgeBlock" ? edge.span : derive.span,
          "keep at least one candidate that derivation may choose",
        );
        break;
      }
    }
  }
  if (!r.ok || !output || !derive) return null;
  return {
    name: decl.name.text,
    inputs: r.inputs,
    nodes: r.nodes,
    edges,
    output,
    derive,
    reduction,
    span: decl.name.span,
  };
}

/**
 * DARTS-format genotypes, both ways. The DARTS family of codebases writes a found cell as
 * `Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=[2, 3, 4, 5], reduce=[…], reduce_concat=[…])`:
 * two entries per node, each an operation and an input numbered 0 = prev_prev, 1 = prev, 2… = the
 * cell's nodes. {@linkcode readDartsGenotype} turns such a string (as published in a paper, or
 * `DARTS_V2 = Genotype(…)` copied from a `genotypes.py`) into `.space` text in the DARTS space with
 * DARTS' evaluation settings, and compiles it; every problem is a located diagnostic, as the `.space`
 * compiler's are. {@linkcode formatDartsGenotype} writes found cells in that form when they fit it.
 *
 * @module
 */

import { compileSpace } from "./compile.ts";
import { type Diagnostic, diagnostic } from "./diagnostics.ts";
import type { GenotypeCell, NodeRef, SpaceIR, Span } from "./ir.ts";
import { closest } from "./suggest.ts";
import { DARTS_OPERATIONS, DARTS_SETTINGS, dartsOperationSteps } from "./_darts_space.ts";
import { type DartsEntry, type Field, FIELDS, parseGenotypeSyntax } from "./_darts_genotype_syntax.ts";

export type { DartsEntry };

/** A DARTS `Genotype`, as read (see {@linkcode parseDartsGenotype}). */
export interface DartsGenotype {
  /** The name before `=` (`DARTS_V2 = Genotype(…)`), if one was written. */
  readonly name: string | null;
  readonly normal: readonly DartsEntry[];
  readonly normalConcat: readonly number[];
  readonly reduce: readonly DartsEntry[];
  readonly reduceConcat: readonly number[];
}

/** Whether a text looks like a DARTS genotype (`Genotype(` first, after an optional `NAME =`). */
export function looksLikeDartsGenotype(text: string): boolean {
  return /^\s*(?:[A-Za-z_]\w*\s*=\s*)?Genotype\s*\(/.test(text.replace(/^\s*(?:#.*\n\s*)*/, ""));
}

/** "0 (prev_prev), 1 (prev) or 2 (node 0)": what node `node` may read. */
function inputsOf(node: number): string {
  const names = [
    "0 (prev_prev)",
    "1 (prev)",
    ...Array.from({ length: node }, (_, i) => `${i + 2} (node ${i})`),
  ];
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** The checks a cell's entries and concat must pass to be a DARTS cell the `.space` language writes. */
function checkCell(
  field: "normal" | "reduce",
  entries: readonly DartsEntry[],
  concat: readonly number[],
  spans: { list: Span; concat: Span },
): Diagnostic[] {
  const found: Diagnostic[] = [];
  if (entries.length === 0 || entries.length % 2 !== 0) {
    found.push(
      diagnostic(
        "odd-entries",
        `"${field}" has ${entries.length} entries; a DARTS cell has two per node`,
        spans.list,
        "each node reads two inputs: (op, input), (op, input)",
      ),
    );
    return found;
  }
  const nodes = entries.length / 2;
  const known = Object.keys(DARTS_OPERATIONS);
  entries.forEach((entry, i) => {
    const node = Math.floor(i / 2);
    if (!(entry.op in DARTS_OPERATIONS)) {
      const guess = closest(entry.op, known);
      found.push(
        diagnostic(
          "unknown-op",
          entry.op === "conv_7x1_1x7"
            ? `operation "conv_7x1_1x7" cannot be written in the .space language (its convolutions are square)`
            : `operation "${entry.op}" is not one of DARTS' operations`,
          entry.opSpan,
          guess ? `did you mean "${guess}"?` : `DARTS' operations: ${known.join(", ")}`,
        ),
      );
    }
    if (entry.input < 0 || entry.input > node + 1) {
      found.push(
        diagnostic(
          "bad-input",
          `node ${node} of "${field}" cannot read input ${entry.input}: it reads ${inputsOf(node)}`,
          entry.inputSpan,
        ),
      );
    }
    if (i % 2 === 1 && entries[i - 1]!.input === entry.input) {
      found.push(
        diagnostic(
          "duplicate-edge",
          `node ${node} of "${field}" reads input ${entry.input} twice; the .space language keeps one edge ` +
            `per pair of nodes`,
          entry.span,
        ),
      );
    }
  });
  const bad = concat.find((index) => index < 2 || index >= nodes + 2);
  if (concat.length === 0 || bad !== undefined || new Set(concat).size !== concat.length) {
    found.push(
      diagnostic(
        "bad-concat",
        concat.length === 0
          ? `"${field}_concat" is empty`
          : bad !== undefined
          ? `"${field}_concat" names ${bad}, which is not a node of "${field}" (its nodes are 2 to ${
            nodes + 1
          })`
          : `"${field}_concat" names a node twice`,
        spans.concat,
      ),
    );
  }
  return found;
}

/**
 * Parses and checks a DARTS genotype string. Never throws: problems are diagnostics located in the
 * text, rendered by `renderDiagnostics` like the compiler's.
 *
 * @param text `Genotype(normal=[…], normal_concat=…, reduce=[…], reduce_concat=…)`, optionally
 *   preceded by `NAME =`; concat lists may be written `range(2, 6)`.
 * @param file The name spans carry (a file, or `<genotype>` for a command-line string).
 * @returns The genotype, or null and at least one error.
 * @example
 * ```ts
 * import { parseDartsGenotype } from "./darts_genotype.ts";
 * const text = "Genotype(normal=[('sep_conv_3x3', 0), ('skip_conect', 1)], normal_concat=[2], " +
 *   "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=range(2, 3))";
 * const { genotype, diagnostics } = parseDartsGenotype(text, "g.txt");
 * const [typo] = diagnostics;
 * if (genotype !== null || typo?.code !== "unknown-op" || typo.hint !== 'did you mean "skip_connect"?') {
 *   throw new Error(JSON.stringify(diagnostics));
 * }
 * if (typo.span.column !== 40) throw new Error(`located at column ${typo.span.column}`);
 * ```
 */
export function parseDartsGenotype(
  text: string,
  file: string,
): { genotype: DartsGenotype | null; diagnostics: Diagnostic[] } {
  const parsed = parseGenotypeSyntax(text, file);
  if ("code" in parsed) return { genotype: null, diagnostics: [parsed] };
  const diagnostics: Diagnostic[] = [];
  const whole = parsed.first;
  for (const field of FIELDS) {
    const given = parsed.fields.get(field);
    const wanted = field.endsWith("_concat") ? "ints" : "entries";
    if (!given) {
      diagnostics.push(diagnostic("missing-field", `the genotype has no "${field}"`, whole));
    } else if (given.value.kind !== wanted && given.value.kind !== "empty") {
      const what = wanted === "ints"
        ? "a list of node numbers, e.g. [2, 3, 4, 5]"
        : "a list of ('op', input) entries";
      diagnostics.push(diagnostic("bad-field", `"${field}" should be ${what}`, given.value.span));
    }
  }
  if (diagnostics.length > 0) return { genotype: null, diagnostics };
  const entries = (field: Field) => {
    const value = parsed.fields.get(field)!.value;
    return value.kind === "entries" ? value.entries : [];
  };
  const ints = (field: Field) => {
    const value = parsed.fields.get(field)!.value;
    return value.kind === "ints" ? value.ints : [];
  };
  const span = (field: Field) => parsed.fields.get(field)!.value.span;
  const genotype: DartsGenotype = {
    name: parsed.name,
    normal: entries("normal"),
    normalConcat: ints("normal_concat"),
    reduce: entries("reduce"),
    reduceConcat: ints("reduce_concat"),
  };
  diagnostics.push(
    ...checkCell("normal", genotype.normal, genotype.normalConcat, {
      list: span("normal"),
      concat: span("normal_concat"),
    }),
    ...checkCell("reduce", genotype.reduce, genotype.reduceConcat, {
      list: span("reduce"),
      concat: span("reduce_concat"),
    }),
  );
  return diagnostics.length > 0 ? { genotype: null, diagnostics } : { genotype, diagnostics };
}

const inputName = (input: number) => input === 0 ? "prev_prev" : input === 1 ? "prev" : `n${input - 2}`;

function cellText(
  entries: readonly DartsEntry[],
  concat: readonly number[],
  reduction: boolean,
) {
  const nodes = entries.length / 2;
  const edges = entries
    .map((entry, i) => ({ ...entry, node: Math.floor(i / 2) }))
    // As a found.space lists them: by node, then by input (the IR's edge order).
    .sort((a, b) => a.node - b.node || a.input - b.input)
    .map((e) => `      ${inputName(e.input)} -> n${e.node} [${e.op}]`);
  const all = concat.length === nodes && concat.every((index, i) => index === i + 2);
  const output = all ? "concat(nodes)" : `concat(${concat.map((index) => `n${index - 2}`).join(", ")})`;
  return [
    `  cell ${reduction ? "reduction" : "normal"} {`,
    "    inputs: prev_prev, prev",
    `    nodes: ${nodes}`,
    "    edges {",
    ...edges,
    "    }",
    `    output: ${output}`,
    "    derive: top_k(2, exclude: none)",
    ...(reduction ? ["    reduction: true"] : []),
    "  }",
  ].join("\n");
}

/**
 * The `.space` text of a DARTS genotype: DARTS' operations, its two cells as found cells (one op per
 * edge), DARTS' supernet and search settings and the DARTS paper's evaluation settings (C = 36,
 * 20 cells, auxiliary 0.4, drop-path 0.2, cutout 16, 600 epochs): the same text as
 * `spaces/darts_v2.space` for DARTS_V2.
 *
 * @param genotype A genotype that {@linkcode parseDartsGenotype} accepted.
 * @param name The space's name (default: the genotype's own, lower-cased, else `genotype`).
 * @returns `.space` text that compiles.
 */
export function dartsGenotypeToSpace(genotype: DartsGenotype, name?: string): string {
  const spaceName = name ?? genotype.name?.toLowerCase() ?? "genotype";
  const used = new Set([...genotype.normal, ...genotype.reduce].map((entry) => entry.op));
  const operations = Object.entries(DARTS_OPERATIONS)
    .filter(([op, { always }]) => always || used.has(op))
    .map(([op, { definition }]) => `  operation ${op} = ${definition}`);
  return [
    `// A DARTS-format genotype in the DARTS space, with the DARTS paper's evaluation settings.`,
    `space ${spaceName} {`,
    ...operations,
    "",
    cellText(genotype.normal, genotype.normalConcat, false),
    "",
    cellText(genotype.reduce, genotype.reduceConcat, true),
    "",
    DARTS_SETTINGS,
    "}",
    "",
  ].join("\n");
}

/**
 * Reads a DARTS genotype string into a compiled space whose cells are fixed (one op per edge), ready
 * for `evaluate`.
 *
 * @param text The genotype (see {@linkcode parseDartsGenotype}).
 * @param file The name diagnostics carry.
 * @returns The IR and its `.space` text, or null and the diagnostics (located in `text`).
 * @example
 * ```ts
 * import { readDartsGenotype } from "./darts_genotype.ts";
 * import { fixedCells } from "./ir.ts";
 * const { ir } = readDartsGenotype(
 *   "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[2], " +
 *     "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])",
 *   "<genotype>",
 * );
 * const fixed = fixedCells(ir!);
 * if (!("cells" in fixed) || fixed.cells[0]?.edges[1]?.op !== "skip_connect") throw new Error("not read");
 * ```
 */
export function readDartsGenotype(
  text: string,
  file: string,
): { ir: SpaceIR | null; spaceText: string | null; diagnostics: readonly Diagnostic[] } {
  const { genotype, diagnostics } = parseDartsGenotype(text, file);
  if (!genotype) return { ir: null, spaceText: null, diagnostics };
  const spaceText = dartsGenotypeToSpace(genotype);
  const compiled = compileSpace(spaceText, file);
  if (!compiled.ir) {
    // The checks above should make this impossible: say so at the genotype, with the compiler's word.
    const first = compiled.diagnostics[0];
    const span = { file, line: 1, column: 1, offset: 0, length: 0 };
    return {
      ir: null,
      spaceText,
      diagnostics: [
        diagnostic("internal-error", `the genotype's space does not compile: ${first?.message}`, span),
      ],
    };
  }
  return { ir: compiled.ir, spaceText, diagnostics: [] };
}

/** Input number of a reference, DARTS-style. */
const inputNumber = (ref: NodeRef) => ref.kind === "input" ? ref.index : ref.index + 2;

/**
 * Found cells in DARTS' `Genotype(…)` form, when they fit it: one normal and one reduction cell type,
 * each with the inputs prev_prev and prev, exactly two kept edges into every node, a concat output
 * without projection, and only DARTS' operations, defined as DARTS defines them.
 *
 * @param ir The space the cells were found in.
 * @param cells The found cells (a genotype's `cells`).
 * @returns `{ text }`, or `{ reason }` saying what does not fit.
 * @example
 * ```ts
 * import { formatDartsGenotype, readDartsGenotype } from "./darts_genotype.ts";
 * import { fixedCells } from "./ir.ts";
 * const text = "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[2], " +
 *   "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])";
 * const { ir } = readDartsGenotype(text, "<genotype>");
 * const fixed = fixedCells(ir!);
 * if (!("cells" in fixed)) throw new Error("open");
 * const written = formatDartsGenotype(ir!, fixed.cells);
 * if (!("text" in written) || written.text !== text) throw new Error(JSON.stringify(written));
 * ```
 */
export function formatDartsGenotype(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
): { readonly text: string } | { readonly reason: string } {
  const types = new Set(ir.supernet.cells.map((placement) => placement.cellType));
  const kinds = ir.cellTypes.filter((cell) => types.has(cell.name));
  const normal = kinds.filter((cell) => !cell.reduction);
  const reduction = kinds.filter((cell) => cell.reduction);
  if (normal.length !== 1 || reduction.length !== 1) {
    return { reason: "a DARTS genotype has one normal and one reduction cell type" };
  }
  const parts: string[] = [];
  for (const [field, type] of [["normal", normal[0]!], ["reduce", reduction[0]!]] as const) {
    const cell = cells.find((c) => c.cellType === type.name);
    if (!cell) return { reason: `cell type "${type.name}" has no found cell` };
    if (type.inputs.length !== 2) {
      return { reason: `cell type "${type.name}" has ${type.inputs.length} inputs, not 2` };
    }
    if (type.output.project) {
      return { reason: `cell type "${type.name}" projects its output (DARTS concatenates)` };
    }
    const entries: string[] = [];
    for (let node = 0; node < type.nodes.length; node++) {
      const into = cell.edges.filter((edge) => edge.to === node)
        .sort((a, b) => inputNumber(a.from) - inputNumber(b.from));
      if (into.length !== 2) {
        return {
          reason: `node ${type.nodes[node]!.name} of "${type.name}" keeps ${into.length} edges, not 2`,
        };
      }
      for (const edge of into) {
        const steps = dartsOperationSteps(edge.op);
        const op = ir.operations.find((o) => o.name === edge.op);
        if (steps === null || op === undefined || JSON.stringify(op.steps) !== JSON.stringify(steps)) {
          return { reason: `operation "${edge.op}" is not one of DARTS' operations as DARTS defines it` };
        }
        entries.push(`('${edge.op}', ${inputNumber(edge.from)})`);
      }
    }
    parts.push(
      `${field}=[${entries.join(", ")}]`,
      `${field}_concat=[${type.output.nodes.map((n) => n + 2).join(", ")}]`,
    );
  }
  return { text: `Genotype(${parts.join(", ")})` };
}

/**
 * AST → IR: operations, cell types, supernet, search and evaluate settings, with the defaults of
 * the language applied (see LANGUAGE.md). Each piece is resolved by its own module, which reports
 * what is wrong; {@linkcode checkSpace} keeps those reports, {@linkcode lowerSpace} expects none.
 *
 * @module
 */
import type { CellDecl, Declaration, OperationDecl, SectionDecl, SpaceFile } from "./ast.ts";
import { effectiveEntries, resolveCell } from "./cells.ts";
import { diagnostic } from "./diagnostics.ts";
import { type CellType, IR_VERSION, type Operation, type SpaceIR } from "./ir.ts";
import { resolveOperation } from "./primitives.ts";
import { ignore, type Report } from "./read.ts";
import { collectEntries, resolveEvaluate, resolveSearch } from "./settings.ts";
import { resolveSupernet } from "./supernet.ts";

/** The first declaration of each name (later ones are `duplicate-*` errors of the checks). */
export function firstByName<T extends OperationDecl | CellDecl>(
  decls: readonly Declaration[],
  kind: T["kind"],
): Map<string, T> {
  const out = new Map<string, T>();
  for (const d of decls) {
    if (d.kind === kind && !out.has((d as T).name.text)) out.set((d as T).name.text, d as T);
  }
  return out;
}

/** The first section of a kind. */
export function firstSection(
  decls: readonly Declaration[],
  section: SectionDecl["section"],
): SectionDecl | null {
  return decls.find((d): d is SectionDecl => d.kind === "section" && d.section === section) ?? null;
}

/**
 * Resolves every part of the space, reporting what is wrong.
 *
 * @param ast the parsed file
 * @param report receives the problems
 * @returns the IR, or null when any part is wrong
 */
export function buildIr(ast: SpaceFile, report: Report): SpaceIR | null {
  let ok = ast.name !== null;
  const spaceSpan = ast.name?.span ?? ast.span;
  for (const [, entry] of collectEntries(ast.settings, ["description"], "space", report)) {
    const v = entry.kind === "setting" ? entry.values[0] : undefined;
    if (entry.kind === "setting" && (entry.values.length !== 1 || v?.kind !== "string")) {
      report(diagnostic("wrong-type", '"description" must be one string', entry.span));
    }
  }

  const opDecls = firstByName<OperationDecl>(ast.declarations, "operation");
  const operations: Operation[] = [];
  for (const decl of opDecls.values()) {
    const op = resolveOperation(decl, report);
    if (op) operations.push(op);
    else ok = false;
  }
  const opNames = [...opDecls.keys()];

  const cellDecls = firstByName<CellDecl>(ast.declarations, "cell");
  const cellTypes: CellType[] = [];
  for (const decl of cellDecls.values()) {
    const entries = effectiveEntries(decl, cellDecls, report);
    if (!entries) {
      ok = false;
      continue;
    }
    let incomplete = decl.incomplete;
    for (let d: CellDecl | undefined = decl, n = 0; d?.base && n < cellDecls.size; n++) {
      d = cellDecls.get(d.base.text);
      incomplete ||= d?.incomplete ?? false;
    }
    const cell = resolveCell(decl, entries, { operations: opNames, incomplete }, report);
    if (cell) cellTypes.push(cell);
    else ok = false;
  }

  const supernet = resolveSupernet(firstSection(ast.declarations, "supernet"), {
    declared: [...cellDecls.keys()],
    resolved: new Map(cellTypes.map((c) => [c.name, c])),
    spaceSpan,
    incomplete: ast.incomplete,
  }, report);
  const search = resolveSearch(firstSection(ast.declarations, "search"), spaceSpan, report);
  const evaluate = resolveEvaluate(firstSection(ast.declarations, "evaluate"), spaceSpan, report);
  if (!ok || !ast.name || !supernet || !search || !evaluate) return null;
  return {
    version: IR_VERSION,
    name: ast.name.text,
    source: ast.span.file,
    operations,
    cellTypes,
    supernet,
    search,
    evaluate,
    span: ast.span,
  };
}

/**
 * Lowers a checked space to its IR.
 *
 * @param ast a file for which {@linkcode checkSpace} reported no error
 * @returns the IR
 * @throws Error when the space has errors (a caller's bug: check first)
 * @example
 * ```ts
 * import { parseSpace } from "./parse.ts";
 * import { checkSpace } from "./checks.ts";
 * import { lowerSpace } from "./lower.ts";
 * const { ast } = parseSpace(`space tiny {
 *   operation skip = identity
 *   cell normal { nodes: 2 candidates: skip }
 *   cell reduction extends normal { reduction: true }
 * }`, "tiny.space");
 * if (!ast || checkSpace(ast).length > 0) throw new Error("the space should check cleanly");
 * const ir = lowerSpace(ast);
 * if (ir.name !== "tiny" || ir.cellTypes.length !== 2) throw new Error(ir.name);
 * ```
 */
export function lowerSpace(ast: SpaceFile): SpaceIR {
  const ir = buildIr(ast, ignore);
  if (!ir) throw new Error("lowerSpace() needs a space without errors: run checkSpace() first");
  return ir;
}

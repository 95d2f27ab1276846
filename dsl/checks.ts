/**
 * Semantic checks of a parsed space: every problem as a diagnostic, all in one pass, never a throw.
 * The checks of each piece live with its resolution (cells.ts, settings.ts, supernet.ts,
 * primitives.ts, read.ts); this module adds the checks across declarations and orders the result.
 *
 * @module
 */
import type { Declaration, SpaceFile } from "./ast.ts";
import { checkBounds, checkTotals } from "./bounds.ts";
import { type Diagnostic, diagnostic, hasErrors } from "./diagnostics.ts";
import type { SpaceIR } from "./ir.ts";
import { buildIr } from "./lower.ts";
import { groupsOf } from "./primitives.ts";

function duplicates(decls: readonly Declaration[], report: (d: Diagnostic) => void): void {
  const seen = new Map<string, Declaration>();
  for (const d of decls) {
    const key = d.kind === "section" ? `section ${d.section}` : `${d.kind} ${d.name.text}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, d);
      continue;
    }
    const hint = `first declared at line ${first.span.line}`;
    if (d.kind === "operation") {
      report(diagnostic("duplicate-op", `operation "${d.name.text}" is declared twice`, d.name.span, hint));
    } else if (d.kind === "cell") {
      report(diagnostic("duplicate-cell", `cell type "${d.name.text}" is declared twice`, d.name.span, hint));
    } else report(diagnostic("duplicate-section", `"${d.section}" is declared twice`, d.keyword, hint));
  }
}

/** `groups` must divide the channels everywhere the op runs (C, its doublings, the evaluation's C). */
function groupChecks(ir: SpaceIR, report: (d: Diagnostic) => void): void {
  for (const op of ir.operations) {
    const g = groupsOf(op);
    const bad = [ir.supernet.channels, ir.evaluate.channels].find((c) => c % g !== 0);
    if (g > 1 && bad !== undefined) {
      report(
        diagnostic(
          "out-of-range",
          `"groups" ${g} of operation "${op.name}" must divide the channels, and ${bad} is not a multiple of ${g}`,
          op.span,
        ),
      );
    }
  }
}

/**
 * Checks a parsed space. Parts that error recovery dropped are not checked (their parse error is
 * already reported), and a block that lost entries is not told it misses settings.
 *
 * @param ast the parsed file
 * @returns the diagnostics, ordered by position, each reported once
 * @example
 * ```ts
 * import { parseSpace } from "./parse.ts";
 * import { checkSpace } from "./checks.ts";
 * const { ast } = parseSpace("space s { cell normal { nodes: 2 candidates: nope } }", "s.space");
 * const codes = checkSpace(ast!).map((d) => d.code);
 * if (!codes.includes("unknown-op")) throw new Error(codes.join());
 * ```
 */
export function checkSpace(ast: SpaceFile): Diagnostic[] {
  return checkAndResolve(ast).diagnostics;
}

/**
 * {@linkcode checkSpace}, keeping the IR it resolved (compiling then resolves the space only once).
 *
 * @param ast the parsed file
 * @returns the ordered diagnostics, and the IR when none of them is an error
 */
export function checkAndResolve(ast: SpaceFile): { diagnostics: Diagnostic[]; ir: SpaceIR | null } {
  const found: Diagnostic[] = [];
  const report = (d: Diagnostic) => found.push(d);
  duplicates(ast.declarations, report);
  // Sizes first: nothing that grows with a size is built when one is past its limit (bounds.ts).
  const ir = checkBounds(ast, report) ? buildIr(ast, report) : null;
  if (ir && checkTotals(ir, report)) groupChecks(ir, report);
  const diagnostics = orderDiagnostics(found);
  return { diagnostics, ir: ir && !hasErrors(diagnostics) ? ir : null };
}

/**
 * Diagnostics sorted by position (stable), each code and place once (an entry inherited through
 * `extends` is checked with every cell that inherits it).
 *
 * @param diagnostics the findings
 * @returns a new, ordered array
 */
export function orderDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = `${d.code} ${d.span.offset} ${d.span.length}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.map((d, i) => ({ d, i })).sort((a, b) => a.d.span.offset - b.d.span.offset || a.i - b.i).map((
    { d },
  ) => d);
}

/**
 * `.space` text → IR and diagnostics, in one call that never throws.
 *
 * @module
 */
import { LIMITS, tooLarge } from "./bounds.ts";
import { checkAndResolve, orderDiagnostics } from "./checks.ts";
import { type Diagnostic, diagnostic, hasErrors } from "./diagnostics.ts";
import type { SpaceIR } from "./ir.ts";
import { parseSpace } from "./parse.ts";

/** The result of {@linkcode compileSpace}. */
export interface CompileResult {
  /** The IR; null exactly when a diagnostic is an error. */
  readonly ir: SpaceIR | null;
  /** Every problem found (errors and warnings), in source order. */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Compiles a `.space` source: lexing, parsing with recovery, semantic checks and lowering. All
 * problems are collected; bad input gives diagnostics, never an exception.
 *
 * @param text the source
 * @param file the name diagnostics and the IR carry (default `<input>`)
 * @returns the IR (or null) and the diagnostics
 * @example
 * ```ts
 * import { compileSpace } from "./compile.ts";
 * const { ir } = compileSpace(`space tiny {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 * }`);
 * if (ir?.cellTypes[0]?.edges.length !== 5) throw new Error("2 + 3 edges expected");
 * ```
 */
export function compileSpace(text: string, file = "<input>"): CompileResult {
  try {
    if (text.length > LIMITS.source.max) {
      const span = { file, line: 1, column: 1, offset: 0, length: 0 };
      const size = `${text.length.toLocaleString("en-US")} characters`;
      return { ir: null, diagnostics: [tooLarge("a .space file", size, LIMITS.source, span)] };
    }
    const parsed = parseSpace(text, file);
    if (!parsed.ast) return { ir: null, diagnostics: parsed.diagnostics };
    const checked = checkAndResolve(parsed.ast);
    const diagnostics = orderDiagnostics([...parsed.diagnostics, ...checked.diagnostics]);
    return { ir: hasErrors(diagnostics) ? null : checked.ir, diagnostics };
  } catch (error) {
    // A bug of the compiler, not of the input: still a diagnostic, with what is known.
    const span = { file, line: 1, column: 1, offset: 0, length: 0 };
    const message = `internal compiler error: ${error instanceof Error ? error.message : String(error)}`;
    return {
      ir: null,
      diagnostics: [diagnostic("internal-error", message, span, "please report this with the .space file")],
    };
  }
}

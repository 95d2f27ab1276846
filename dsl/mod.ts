/**
 * The `.space` language: compile a search space to its IR, with diagnostics for every problem;
 * infer its sizes; print an IR back as `.space` text.
 *
 * @example
 * ```ts
 * import { compileSpace, renderDiagnostics } from "./mod.ts";
 * const text = "space s { cell normal { nodes: 2 candidates: sep_conv_3x3 } }";
 * const { ir, diagnostics } = compileSpace(text, "s.space");
 * if (ir !== null || !diagnostics.some((d) => d.code === "unknown-op")) throw new Error(renderDiagnostics(diagnostics, text));
 * ```
 *
 * @module
 */
export { compileSpace } from "./compile.ts";
export type { CompileResult } from "./compile.ts";
export { parseSpace } from "./parse.ts";
export type { ParseResult } from "./parse.ts";
export { checkSpace } from "./checks.ts";
export { lowerSpace } from "./lower.ts";
export { diagnostic, hasErrors, renderDiagnostics } from "./diagnostics.ts";
export type { Diagnostic, Severity } from "./diagnostics.ts";
export { didYouMean, editDistance } from "./suggest.ts";
export { PRIMITIVES } from "./primitives.ts";
export type * as Ast from "./ast.ts";
export * from "./ir.ts";
export * from "./infer.ts";
export * from "./stack.ts";
export * from "./print.ts";
export {
  dartsGenotypeToSpace,
  formatDartsGenotype,
  looksLikeDartsGenotype,
  parseDartsGenotype,
  readDartsGenotype,
} from "./darts_genotype.ts";
export type { DartsEntry, DartsGenotype } from "./darts_genotype.ts";

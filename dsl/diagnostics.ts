/**
 * Diagnostics: what is wrong (or doubtful) in a `.space` file, where, and how to fix it, rendered
 * as `file:line:col error[code]: message`, the source line, a caret under the span and a hint.
 *
 * @module
 */
import type { Span } from "./ir.ts";

export type Severity = "error" | "warning";

/** One finding; `code` is stable (tests and tools match on it), `message` is for people. */
export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly hint?: string;
}

/**
 * A diagnostic value, with the hint only when there is one.
 *
 * @param code the stable code, e.g. `unknown-op`
 * @param message sentence case, no trailing period, values quoted
 * @param span where
 * @param hint how to fix it, e.g. `did you mean "sep_conv_3x3"?`
 * @param severity `error` unless said otherwise
 * @returns the diagnostic
 * @example
 * ```ts
 * import { diagnostic } from "./diagnostics.ts";
 * const span = { file: "x.space", line: 3, column: 15, offset: 40, length: 6 };
 * const d = diagnostic("unknown-op", 'unknown operation "sep_cv"', span, 'did you mean "sep_conv"?');
 * if (d.severity !== "error" || d.hint !== 'did you mean "sep_conv"?') throw new Error(JSON.stringify(d));
 * // No hint: the field is left out, not undefined.
 * if ("hint" in diagnostic("parse-error", "oops", span, null)) throw new Error("hint expected absent");
 * ```
 */
export function diagnostic(
  code: string,
  message: string,
  span: Span,
  hint?: string | null,
  severity: Severity = "error",
): Diagnostic {
  return hint ? { code, severity, message, span, hint } : { code, severity, message, span };
}

/**
 * Whether any diagnostic is an error.
 *
 * @param diagnostics the findings
 * @returns true when at least one has severity `error`
 * @example
 * ```ts
 * import { diagnostic, hasErrors } from "./diagnostics.ts";
 * const span = { file: "x.space", line: 1, column: 1, offset: 0, length: 1 };
 * const warning = diagnostic("ignored-setting", "ignored", span, null, "warning");
 * if (hasErrors([warning])) throw new Error("a warning is not an error");
 * if (!hasErrors([warning, diagnostic("parse-error", "oops", span)])) throw new Error("an error expected");
 * ```
 */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/**
 * Renders diagnostics for a terminal: each as a header line, the source line with its number, a
 * caret line under the span (clipped to the line), and the hint; then a count.
 *
 * @param diagnostics the findings, rendered in the given order
 * @param sourceText the text the spans point into
 * @returns the rendered text, ending with a newline (empty when there is nothing to report)
 * @example
 * ```ts
 * import { renderDiagnostics } from "./diagnostics.ts";
 * const span = { file: "x.space", line: 1, column: 7, offset: 6, length: 1 };
 * const text = renderDiagnostics([{ code: "parse-error", severity: "error", message: "oops", span }], "space 1");
 * if (!text.startsWith("x.space:1:7 error[parse-error]: oops")) throw new Error(text);
 * ```
 */
export function renderDiagnostics(diagnostics: readonly Diagnostic[], sourceText: string): string {
  if (diagnostics.length === 0) return "";
  const lines = sourceText.split(/\r\n|\r|\n/);
  const blocks = diagnostics.map((d) => renderOne(d, lines));
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  const counts = [plural(errors, "error"), plural(warnings, "warning")].filter((s) => s !== "");
  return `${blocks.join("\n")}\n${counts.join(" and ")}\n`;
}

function plural(n: number, word: string): string {
  return n === 0 ? "" : `${n} ${word}${n === 1 ? "" : "s"}`;
}

function renderOne(d: Diagnostic, lines: readonly string[]): string {
  const { span } = d;
  const header = `${span.file}:${span.line}:${span.column} ${d.severity}[${d.code}]: ${d.message}`;
  const source = lines[span.line - 1];
  const out = [header];
  const gutter = " ".repeat(String(span.line).length);
  if (source !== undefined) {
    const visible = printable(source);
    const start = Math.min(span.column - 1, visible.length);
    // Keep tabs in the caret's indent so it lines up under the source as the terminal shows it.
    const indent = visible.slice(0, start).replace(/[^\t]/g, " ");
    const width = Math.max(1, Math.min(span.length, visible.length - start));
    out.push(`${span.line} | ${visible}`, `${gutter} | ${indent}${"^".repeat(width)}`);
  }
  if (d.hint) out.push(`${gutter} = hint: ${d.hint}`);
  return out.join("\n") + "\n";
}

/** Control characters shown as `?` (one column each) so a caret still lines up. */
function printable(line: string): string {
  // deno-lint-ignore no-control-regex
  return line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "?");
}

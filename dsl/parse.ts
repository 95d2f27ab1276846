/**
 * Text → AST with the lexical and syntax diagnostics (`lex-error`, `unterminated-string`,
 * `unterminated-comment`, `unterminated-block`, `too-deep`, `parse-error`, `too-many-errors`).
 *
 * @module
 */
import { EOF, type IToken } from "./deps.ts";
import type { SpaceFile } from "./ast.ts";
import { buildAst, tokenSpan } from "./build_ast.ts";
import { type Diagnostic, diagnostic } from "./diagnostics.ts";
import type { Span } from "./ir.ts";
import { getParser, MAX_SYNTAX_ERRORS, TooManySyntaxErrors } from "./parser.ts";
import * as T from "./tokens.ts";

/** Deeper nesting of `(`, `[` and `{` than this is refused (it would only exhaust the stack). */
export const MAX_NESTING = 64;

/** The result of {@linkcode parseSpace}. */
export interface ParseResult {
  /** Null when the text could not be parsed at all (nesting too deep, or too many syntax errors). */
  readonly ast: SpaceFile | null;
  readonly diagnostics: readonly Diagnostic[];
}

const OPENERS = new Set([T.LCurly, T.LParen, T.LBracket]);
const CLOSERS = new Set([T.RCurly, T.RParen, T.RBracket]);

function describeChars(text: string): string {
  return JSON.stringify(text);
}

/**
 * Lexes and parses `.space` text with error recovery, collecting every syntax diagnostic.
 *
 * @param text the source
 * @param file the name spans and diagnostics carry
 * @returns the AST (partial where recovery dropped pieces) and the diagnostics
 * @example
 * ```ts
 * import { parseSpace } from "./parse.ts";
 * const { ast, diagnostics } = parseSpace("space tiny { }", "tiny.space");
 * if (ast?.name?.text !== "tiny" || diagnostics.length !== 0) throw new Error("unexpected");
 * ```
 */
export function parseSpace(text: string, file: string): ParseResult {
  const diagnostics: Diagnostic[] = [];
  const lexed = T.spaceLexer.tokenize(text);
  for (const e of lexed.errors) {
    const length = e.length > 0 ? e.length : 1;
    const chars = text.slice(e.offset, e.offset + length);
    const span: Span = { file, line: e.line ?? 1, column: e.column ?? 1, offset: e.offset, length };
    const what = length === 1 ? "character" : "characters";
    diagnostics.push(diagnostic("lex-error", `unexpected ${what} ${describeChars(chars)}`, span));
  }
  let unterminatedComment = false;
  // An unterminated string is passed on as a string so the parse goes on as the user meant.
  const repaired: IToken[] = [];
  const invalid = [...(lexed.groups["invalid"] ?? [])];
  for (const token of invalid) {
    const span = tokenSpan(file, token);
    if (token.tokenType === T.UnterminatedComment) {
      unterminatedComment = true;
      diagnostics.push(
        diagnostic("unterminated-comment", 'comment "/*" is not closed before the end of the file', {
          ...span,
          length: 2,
        }, 'close it with "*/"'),
      );
    } else {
      diagnostics.push(
        diagnostic(
          "unterminated-string",
          "string is not closed before the end of the line",
          span,
          'add the closing quote (") on the same line',
        ),
      );
      repaired.push({
        ...token,
        tokenType: T.StringLiteral,
        tokenTypeIdx: T.StringLiteral.tokenTypeIdx!,
        image: token.image + '"',
      });
    }
  }
  const tokens = [...lexed.tokens, ...repaired].sort((a, b) => a.startOffset - b.startOffset);

  const deep = tooDeep(tokens);
  if (deep) {
    const message = `nesting is deeper than ${MAX_NESTING} levels of "(", "[" and "{"`;
    diagnostics.push(diagnostic("too-deep", message, tokenSpan(file, deep)));
    return { ast: null, diagnostics };
  }

  const parser = getParser();
  parser.input = tokens;
  let cst: ReturnType<typeof parser.spaceFile> | null = null;
  try {
    cst = parser.spaceFile();
  } catch (error) {
    if (!(error instanceof TooManySyntaxErrors)) throw error;
  }
  const last = tokens[tokens.length - 1];
  const atEnd = (token: IToken) => token.tokenType === EOF || !Number.isFinite(token.startOffset);
  const unclosed = innermostUnclosed(tokens);
  let reportedEnd = false;
  const seen = new Set<number>();
  for (const error of parser.errors) {
    const token = error.token;
    if (atEnd(token)) {
      if (reportedEnd) continue;
      reportedEnd = true;
      if (unterminatedComment) continue;
      if (unclosed) {
        diagnostics.push(
          diagnostic(
            "unterminated-block",
            `block ${describeBlock(tokens, unclosed)} is not closed before the end of the file`,
            tokenSpan(file, unclosed),
            'add the missing "}"',
          ),
        );
        continue;
      }
      const span = last ? tokenSpan(file, last) : { file, line: 1, column: 1, offset: 0, length: 0 };
      diagnostics.push(diagnostic("parse-error", error.message, span));
      continue;
    }
    if (seen.has(token.startOffset)) continue;
    seen.add(token.startOffset);
    diagnostics.push(diagnostic("parse-error", error.message, tokenSpan(file, token)));
  }
  if (cst === null) {
    const stop = diagnostics[diagnostics.length - 1]?.span ?? tokenSpan(file, tokens[0]!);
    const message = `the parse stopped after ${MAX_SYNTAX_ERRORS} syntax errors`;
    diagnostics.push(
      diagnostic("too-many-errors", message, stop, "fix the first ones; the rest often follow from them"),
    );
    return { ast: null, diagnostics };
  }
  return { ast: buildAst(cst, file), diagnostics };
}

/** The first opening token past the nesting limit, if any. */
function tooDeep(tokens: readonly IToken[]): IToken | null {
  let depth = 0;
  for (const token of tokens) {
    if (OPENERS.has(token.tokenType)) depth++;
    else if (CLOSERS.has(token.tokenType)) depth = Math.max(0, depth - 1);
    if (depth > MAX_NESTING) return token;
  }
  return null;
}

/** The innermost `{` that no `}` closes. */
function innermostUnclosed(tokens: readonly IToken[]): IToken | null {
  const open: IToken[] = [];
  for (const token of tokens) {
    if (token.tokenType === T.LCurly) open.push(token);
    else if (token.tokenType === T.RCurly) open.pop();
  }
  return open[open.length - 1] ?? null;
}

/** How a block reads in a message: the words before its `{` on the same line, e.g. `"cell normal"`. */
function describeBlock(tokens: readonly IToken[], brace: IToken): string {
  const index = tokens.indexOf(brace);
  const words: string[] = [];
  for (let i = index - 1; i >= 0 && words.length < 4; i--) {
    const token = tokens[i]!;
    if (token.startLine !== brace.startLine || token.tokenType === T.LCurly || token.tokenType === T.RCurly) {
      break;
    }
    words.unshift(token.image);
  }
  return words.length > 0 ? `"${words.join(" ")}"` : `"{" at line ${brace.startLine}`;
}

/**
 * The syntax of a DARTS genotype, `[NAME =] Genotype(field=value, …)`: Python-ish tokens with spans
 * (`#` comments skipped) and a recursive-descent parser that stops at the first syntax error with a
 * located `parse-error` ("expected … but found …"). What the fields mean is checked in
 * darts_genotype.ts.
 *
 * @module
 */

import { type Diagnostic, diagnostic } from "./diagnostics.ts";
import type { Span } from "./ir.ts";
import { closest } from "./suggest.ts";

/** One `(op, input)` entry of a DARTS cell, where it was written. */
export interface DartsEntry {
  readonly op: string;
  readonly input: number;
  /** The whole `('op', input)`. */
  readonly span: Span;
  readonly opSpan: Span;
  readonly inputSpan: Span;
}

type TokenKind = "name" | "string" | "int" | "punct" | "end";
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly span: Span;
}

/** Python-ish tokens with their spans; `#` comments and whitespace skipped. */
function tokenize(text: string, file: string): Token[] | Diagnostic {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  const span = (offset: number, length: number): Span => ({
    file,
    line,
    column: offset - lineStart + 1,
    offset,
    length,
  });
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      lineStart = ++i;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    const rest = text.slice(i);
    const match = /^[A-Za-z_]\w*/.exec(rest) ?? /^-?\d+/.exec(rest);
    if (match) {
      tokens.push({
        kind: /^[A-Za-z_]/.test(match[0]) ? "name" : "int",
        text: match[0],
        span: span(i, match[0].length),
      });
      i += match[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const newline = text.indexOf("\n", i + 1);
      if (end < 0 || (newline >= 0 && newline < end)) {
        return diagnostic("parse-error", "unterminated string", span(i, 1), `close it with ${c}`);
      }
      tokens.push({ kind: "string", text: text.slice(i + 1, end), span: span(i, end - i + 1) });
      i = end + 1;
      continue;
    }
    if ("()[],=".includes(c)) {
      tokens.push({ kind: "punct", text: c, span: span(i, 1) });
      i++;
      continue;
    }
    return diagnostic("parse-error", `unexpected character '${c}'`, span(i, 1));
  }
  tokens.push({ kind: "end", text: "end of input", span: tokens.at(-1)?.span ?? span(i, 0) });
  return tokens;
}

class ParseFailure {
  constructor(readonly diagnostic: Diagnostic) {}
}

/** The longest `range(a, b)` read: more nodes than any cell a genotype describes. */
const MAX_RANGE = 1000;

export const FIELDS = ["normal", "normal_concat", "reduce", "reduce_concat"] as const;
export type Field = (typeof FIELDS)[number];

/** A field's value as written: entries, or input numbers (a list or `range(a, b)`). */
export type Value =
  | { readonly kind: "entries"; readonly entries: DartsEntry[]; readonly span: Span }
  | { readonly kind: "ints"; readonly ints: number[]; readonly span: Span }
  | { readonly kind: "empty"; readonly span: Span };

function join(a: Span, b: Span): Span {
  return { ...a, length: a.line === b.line ? b.offset + b.length - a.offset : a.length };
}

/** Recursive descent over the tokens; the first syntax error ends it. */
class Parser {
  #at = 0;
  constructor(readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[this.#at]!;
  }
  next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.#at++;
    return token;
  }
  fail(token: Token, expected: string, hint?: string): never {
    const found = token.kind === "end" ? "the end of the input" : `'${token.text}'`;
    throw new ParseFailure(
      diagnostic("parse-error", `expected ${expected} but found ${found}`, token.span, hint),
    );
  }
  punct(text: string, expected = `'${text}'`): Token {
    const token = this.next();
    if (token.kind !== "punct" || token.text !== text) this.fail(token, expected);
    return token;
  }
  int(what: string): { value: number; span: Span } {
    const token = this.next();
    if (token.kind !== "int") this.fail(token, what);
    return { value: Number(token.text), span: token.span };
  }
  /** `','` then true, or `closer` (after an optional trailing comma) then false. */
  more(closer: string): boolean {
    const token = this.next();
    if (token.kind === "punct" && token.text === ",") {
      const after = this.peek();
      if (after.kind === "punct" && after.text === closer) {
        this.next();
        return false;
      }
      return true;
    }
    if (token.kind === "punct" && token.text === closer) return false;
    return this.fail(token, `',' or '${closer}'`);
  }

  genotype(): { name: string | null; fields: Map<string, { value: Value; key: Span }> } {
    let name: string | null = null;
    let head = this.next();
    const after = this.peek();
    if (head.kind === "name" && after.kind === "punct" && after.text === "=") {
      name = head.text;
      this.next();
      head = this.next();
    }
    if (head.kind !== "name" || head.text !== "Genotype") {
      const guess = head.kind === "name" ? closest(head.text, ["Genotype"]) : null;
      this.fail(
        head,
        "'Genotype'",
        guess ? `did you mean "${guess}"?` : "a DARTS genotype reads Genotype(normal=[…], …)",
      );
    }
    this.punct("(");
    const fields = new Map<string, { value: Value; key: Span }>();
    if (!(this.peek().kind === "punct" && this.peek().text === ")")) {
      do {
        const key = this.next();
        if (key.kind !== "name") this.fail(key, `a field (${FIELDS.join(", ")})`);
        this.punct("=");
        const value = this.value();
        if (!FIELDS.includes(key.text as Field)) {
          const guess = closest(key.text, FIELDS);
          throw new ParseFailure(
            diagnostic(
              "unknown-field",
              `unknown field "${key.text}": a Genotype has ${FIELDS.join(", ")}`,
              key.span,
              guess ? `did you mean "${guess}"?` : null,
            ),
          );
        }
        if (fields.has(key.text)) {
          throw new ParseFailure(
            diagnostic("duplicate-field", `field "${key.text}" is given twice`, key.span),
          );
        }
        fields.set(key.text, { value, key: key.span });
      } while (this.more(")"));
    } else {
      this.next();
    }
    const end = this.next();
    if (end.kind !== "end") this.fail(end, "the end of the genotype");
    return { name, fields };
  }

  /** `[(…), …]`, `[2, 3]` or `range(2, 6)`. */
  value(): Value {
    const first = this.next();
    if (first.kind === "name" && first.text === "range") {
      this.punct("(");
      const from = this.int("an integer");
      this.punct(",");
      const to = this.int("an integer");
      const close = this.punct(")");
      if (to.value - from.value > MAX_RANGE) {
        throw new ParseFailure(
          diagnostic(
            "parse-error",
            `range(${from.value}, ${to.value}) is longer than a cell (${MAX_RANGE} nodes at most)`,
            join(first.span, close.span),
          ),
        );
      }
      const ints = Array.from({ length: Math.max(0, to.value - from.value) }, (_, i) => from.value + i);
      return { kind: "ints", ints, span: join(first.span, close.span) };
    }
    if (first.kind !== "punct" || first.text !== "[") this.fail(first, "'[' or 'range('");
    const entries: DartsEntry[] = [];
    const ints: number[] = [];
    const peek = this.peek();
    if (peek.kind === "punct" && peek.text === "]") {
      const close = this.next();
      return { kind: "empty", span: join(first.span, close.span) };
    }
    const tuples = peek.kind === "punct" && peek.text === "(";
    do {
      if (tuples) {
        const open = this.punct("(", "'(' (an entry: ('op', input))");
        const op = this.next();
        if (op.kind !== "string") this.fail(op, "an operation name in quotes");
        this.punct(",");
        const input = this.int("an input number");
        const close = this.punct(")", "')' (an entry has two parts: ('op', input))");
        entries.push({
          op: op.text,
          input: input.value,
          span: join(open.span, close.span),
          opSpan: op.span,
          inputSpan: input.span,
        });
      } else {
        ints.push(this.int("an integer").value);
      }
    } while (this.more("]"));
    const close = this.tokens[this.#at - 1]!;
    const span = join(first.span, close.span);
    return tuples ? { kind: "entries", entries, span } : { kind: "ints", ints, span };
  }
}

/**
 * Parses a genotype's syntax: its name, and each field's value as written (any field name is kept;
 * unknown and repeated fields are already refused here, with their location).
 *
 * @param text The genotype's text.
 * @param file The name spans carry.
 * @returns The name and fields, or the first syntax error.
 */
export function parseGenotypeSyntax(
  text: string,
  file: string,
): { name: string | null; fields: Map<string, { value: Value; key: Span }>; first: Span } | Diagnostic {
  const tokens = tokenize(text, file);
  if (!Array.isArray(tokens)) return tokens;
  try {
    return { ...new Parser(tokens).genotype(), first: tokens[0]!.span };
  } catch (error) {
    if (error instanceof ParseFailure) return error.diagnostic;
    throw error;
  }
}

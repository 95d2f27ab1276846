/**
 * The tokens of the `.space` language and its lexer. Keywords are reserved only as whole words
 * (`longer_alt`), so `normal_cell` or `searchable` stay identifiers. Unterminated strings and block
 * comments are lexed as tokens of their own (group `invalid`) so they become precise diagnostics
 * instead of a run of garbage characters.
 *
 * @module
 */
import { createToken, Lexer, type TokenType } from "./deps.ts";

export const Identifier: TokenType = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: "a name",
});

function keyword(word: string): TokenType {
  const name = word[0]!.toUpperCase() + word.slice(1);
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, label: `"${word}"` });
}

export const Space: TokenType = keyword("space");
export const Operation: TokenType = keyword("operation");
export const Cell: TokenType = keyword("cell");
export const Extends: TokenType = keyword("extends");
export const Supernet: TokenType = keyword("supernet");
export const Search: TokenType = keyword("search");
export const Evaluate: TokenType = keyword("evaluate");

/** The reserved words, for messages and the language reference. */
export const KEYWORDS: readonly string[] = [
  "space",
  "operation",
  "cell",
  "extends",
  "supernet",
  "search",
  "evaluate",
];

export const NumberLiteral: TokenType = createToken({
  name: "NumberLiteral",
  pattern: /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/,
  label: "a number",
});
export const StringLiteral: TokenType = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\r\n]|\\.)*"/,
  label: "a string",
});
/** A string that reaches the end of its line without its closing quote. */
export const UnterminatedString: TokenType = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\r\n]|\\.)*/,
  group: "invalid",
});

export const Arrow: TokenType = createToken({ name: "Arrow", pattern: /->/, label: '"->"' });
export const LCurly: TokenType = createToken({ name: "LCurly", pattern: /{/, label: '"{"' });
export const RCurly: TokenType = createToken({ name: "RCurly", pattern: /}/, label: '"}"' });
export const LParen: TokenType = createToken({ name: "LParen", pattern: /\(/, label: '"("' });
export const RParen: TokenType = createToken({ name: "RParen", pattern: /\)/, label: '")"' });
export const LBracket: TokenType = createToken({ name: "LBracket", pattern: /\[/, label: '"["' });
export const RBracket: TokenType = createToken({ name: "RBracket", pattern: /]/, label: '"]"' });
export const Colon: TokenType = createToken({ name: "Colon", pattern: /:/, label: '":"' });
export const Comma: TokenType = createToken({ name: "Comma", pattern: /,/, label: '","' });
export const Semicolon: TokenType = createToken({ name: "Semicolon", pattern: /;/, label: '";"' });
export const Equals: TokenType = createToken({ name: "Equals", pattern: /=/, label: '"="' });
export const Greater: TokenType = createToken({ name: "Greater", pattern: />/, label: '">"' });

export const LineComment: TokenType = createToken({
  name: "LineComment",
  pattern: /\/\/[^\r\n]*/,
  group: Lexer.SKIPPED,
});
export const BlockComment: TokenType = createToken({
  name: "BlockComment",
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
});
/** A block comment that runs to the end of the file. */
export const UnterminatedComment: TokenType = createToken({
  name: "UnterminatedComment",
  pattern: /\/\*[\s\S]*/,
  group: "invalid",
});
export const Slash: TokenType = createToken({ name: "Slash", pattern: /\//, label: '"/"' });
export const WhiteSpace: TokenType = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v]+/,
  group: Lexer.SKIPPED,
});

/** Every token type, in matching order (comments before `/`, keywords before identifiers). */
export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  Slash,
  Arrow,
  NumberLiteral,
  StringLiteral,
  UnterminatedString,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Colon,
  Comma,
  Semicolon,
  Equals,
  Greater,
  Space,
  Operation,
  Cell,
  Extends,
  Supernet,
  Search,
  Evaluate,
  Identifier,
];

/** The lexer of the `.space` language (line and column tracking on). */
export const spaceLexer: Lexer = new Lexer([...allTokens], {
  positionTracking: "full",
  ensureOptimizations: false,
});

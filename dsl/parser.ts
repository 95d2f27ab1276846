/**
 * The `.space` parser: chevrotain, CST only, error recovery on. Settings are parsed generically
 * (`key: values` or `key { edges }`); what a key means is the business of the checks.
 *
 * @module
 */
import {
  CstParser,
  EOF,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  tokenLabel,
  type TokenType,
} from "./deps.ts";
import * as T from "./tokens.ts";

/** What each rule stands for, in messages such as `expected a value but found ")"`. */
const RULE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  spaceFile: 'a space ("space name { … }")',
  item: "a declaration (operation, cell, supernet, search, evaluate or description)",
  entry: "a setting (name: value)",
  entryBody: '":" and a value, or "{" and edges',
  value: "a value (a number, a name, a call or a list)",
  primary: "a value (a number, a name, a call or a list)",
  section: "supernet, search or evaluate",
  edge: 'an edge ("from -> to")',
  argument: "an argument",
};

function found(token: IToken): string {
  return token.tokenType === EOF ? "the end of the file" : `"${token.image}"`;
}

function expectedOf(paths: readonly (readonly (readonly TokenType[])[])[]): string {
  const labels = new Set<string>();
  for (const alt of paths) for (const path of alt) if (path[0]) labels.add(tokenLabel(path[0]));
  const list = [...labels];
  if (list.length <= 1) return list[0] ?? "something else";
  return `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

/** Messages in the project's style: sentence case, quoted values, expected and found. */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual }) {
    return `expected ${tokenLabel(expected)} but found ${found(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected the end of the file after the space but found ${found(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const what = RULE_DESCRIPTIONS[ruleName] ?? expectedOf(expectedPathsPerAlt);
    return `expected ${what} but found ${found(actual[0]!)}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const what = RULE_DESCRIPTIONS[ruleName] ?? expectedOf([expectedIterationPaths]);
    return `expected ${what} but found ${found(actual[0]!)}`;
  },
};

/** A parse stops after this many syntax errors (see {@linkcode SpaceParser}). */
export const MAX_SYNTAX_ERRORS = 100;

/** Thrown out of a parse that reached {@linkcode MAX_SYNTAX_ERRORS}; its `errors` are kept. */
export class TooManySyntaxErrors extends Error {
  override readonly name = "TooManySyntaxErrors";
}

/** The parser; build one with {@linkcode getParser} (construction runs chevrotain's self-analysis). */
export class SpaceParser extends CstParser {
  constructor() {
    super([...T.allTokens], {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "full",
      errorMessageProvider: messages,
    });
    this.performSelfAnalysis();
  }

  /** `space name { item* }` */
  spaceFile = this.RULE("spaceFile", () => {
    this.CONSUME(T.Space);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.item) },
        { ALT: () => this.CONSUME(T.Comma) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]);
    });
    this.CONSUME(T.RCurly);
  });

  item = this.RULE("item", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.operationDecl) },
      { ALT: () => this.SUBRULE(this.cellDecl) },
      { ALT: () => this.SUBRULE(this.section) },
      { ALT: () => this.SUBRULE(this.entry) },
    ]);
  });

  /** `operation name = stage > stage …` */
  operationDecl = this.RULE("operationDecl", () => {
    this.CONSUME(T.Operation);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.value);
  });

  /** `cell name (extends base)? { entry* }` */
  cellDecl = this.RULE("cellDecl", () => {
    this.CONSUME(T.Cell);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.Extends);
      this.CONSUME2(T.Identifier, { LABEL: "base" });
    });
    this.SUBRULE(this.block);
  });

  /** `supernet { … }`, `search algorithm? { … }`, `evaluate { … }` */
  section = this.RULE("section", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Supernet) },
      {
        ALT: () => {
          this.CONSUME(T.Search);
          this.OPTION(() => this.CONSUME(T.Identifier, { LABEL: "algorithm" }));
        },
      },
      { ALT: () => this.CONSUME(T.Evaluate) },
    ]);
    this.SUBRULE(this.block);
  });

  /** `{ entry* }` with optional `,`/`;` separators. */
  block = this.RULE("block", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.entry) },
        { ALT: () => this.CONSUME(T.Comma) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]);
    });
    this.CONSUME(T.RCurly);
  });

  /** `key: value, value…` or `key { edge* }` */
  entry = this.RULE("entry", () => {
    this.CONSUME(T.Identifier, { LABEL: "key" });
    this.SUBRULE(this.entryBody);
  });

  entryBody = this.RULE("entryBody", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Colon);
          this.SUBRULE(this.value);
          // `a, b` continues the list unless `b` starts the next entry (`b:` or `b {`).
          this.MANY({
            GATE: () => this.#startsValue(2) && !this.#startsEntry(2),
            DEF: () => {
              this.CONSUME(T.Comma);
              this.SUBRULE2(this.value);
            },
          });
        },
      },
      { ALT: () => this.SUBRULE(this.edgeBlock) },
    ]);
  });

  edgeBlock = this.RULE("edgeBlock", () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.edge) },
        { ALT: () => this.CONSUME(T.Comma) },
        { ALT: () => this.CONSUME(T.Semicolon) },
      ]);
    });
    this.CONSUME(T.RCurly);
  });

  /** `from -> to [candidates]?` */
  edge = this.RULE("edge", () => {
    this.CONSUME(T.Identifier, { LABEL: "from" });
    this.CONSUME(T.Arrow);
    this.CONSUME2(T.Identifier, { LABEL: "to" });
    this.OPTION(() => this.SUBRULE(this.list));
  });

  /** A pipeline: `term > term …` (one term is a plain value). */
  value = this.RULE("value", () => {
    this.SUBRULE(this.term);
    this.MANY(() => {
      this.CONSUME(T.Greater);
      this.SUBRULE2(this.term);
    });
  });

  /** A ratio `a / b` or a primary. */
  term = this.RULE("term", () => {
    this.SUBRULE(this.primary, { LABEL: "numerator" });
    this.OPTION(() => {
      this.CONSUME(T.Slash);
      this.SUBRULE2(this.primary, { LABEL: "denominator" });
    });
  });

  primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.SUBRULE(this.list) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => this.SUBRULE(this.callArgs));
        },
      },
    ]);
  });

  /** `( args ) flag*`, e.g. `concat(nodes) project`. */
  callArgs = this.RULE("callArgs", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.argument);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.argument);
      });
    });
    this.CONSUME(T.RParen);
    this.MANY2({
      GATE: () => !this.#startsEntry(1) && !this.#startsEdge(1),
      DEF: () => this.CONSUME(T.Identifier, { LABEL: "flag" }),
    });
  });

  /** `name: value` or a positional `value`. */
  argument = this.RULE("argument", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: "name" });
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.value);
  });

  /** `[ value, … ]` */
  list = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.value);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.value);
      });
    });
    this.CONSUME(T.RBracket);
  });

  /**
   * Records a syntax error, and ends the parse with {@linkcode TooManySyntaxErrors} once there are
   * {@linkcode MAX_SYNTAX_ERRORS}: recovering from each costs a search of the grammar, and thousands of
   * them (a pasted or generated file gone wrong) would take seconds to report what the first few show.
   */
  SAVE_ERROR(error: IRecognitionException): IRecognitionException {
    if (this.errors.length >= MAX_SYNTAX_ERRORS) throw new TooManySyntaxErrors();
    return (CstParser.prototype as unknown as { SAVE_ERROR: (e: unknown) => IRecognitionException })
      .SAVE_ERROR
      .call(this, error);
  }

  /** Whether the token at `k` is a name that starts an entry (`name:` or `name {`). */
  #startsEntry(k: number): boolean {
    const next = this.LA(k + 1).tokenType;
    return this.LA(k).tokenType === T.Identifier && (next === T.Colon || next === T.LCurly);
  }

  /** Whether the token at `k` can start a value (so a `,` before it is not a trailing separator). */
  #startsValue(k: number): boolean {
    const t = this.LA(k).tokenType;
    return t === T.Identifier || t === T.NumberLiteral || t === T.StringLiteral || t === T.LBracket;
  }

  /** Whether the token at `k` starts an edge (`name ->`). */
  #startsEdge(k: number): boolean {
    return this.LA(k).tokenType === T.Identifier && this.LA(k + 1).tokenType === T.Arrow;
  }
}

let shared: SpaceParser | undefined;

/** The one parser instance (chevrotain parsers are reusable: set `input`, call a rule). */
export function getParser(): SpaceParser {
  shared ??= new SpaceParser();
  return shared;
}

/**
 * The abstract syntax tree of a `.space` file: tagged, immutable plain data, every node with the
 * span of its source. Settings are kept generic (`key: values`); their meaning is checked later.
 * A part that error recovery could not parse is `null`, and a declaration missing parts is marked
 * `incomplete` so the checks do not report what the parse error already explains.
 *
 * @module
 */
import type { Span } from "./ir.ts";

export type { Span };

/** A name as written, e.g. `sep_conv_3x3`. */
export interface Name {
  readonly kind: "name";
  readonly text: string;
  readonly span: Span;
}

/** `16`, `0.025`, `3e-4` (`text` is the source spelling). */
export interface NumberValue {
  readonly kind: "number";
  readonly value: number;
  readonly text: string;
  readonly span: Span;
}

/** `"…"`, with its escapes resolved. */
export interface StringValue {
  readonly kind: "string";
  readonly value: string;
  readonly span: Span;
}

/** A bare name used as a value: `identity`, `true`, `all_previous`. */
export interface NameValue {
  readonly kind: "nameValue";
  readonly name: Name;
  readonly span: Span;
}

/** A named or positional argument of a call. */
export interface Argument {
  readonly kind: "argument";
  readonly name: Name | null;
  readonly value: Value;
  readonly span: Span;
}

/** `callee(args) flag*`, e.g. `conv(kernel: 3)` or `concat(nodes) project`. */
export interface CallValue {
  readonly kind: "call";
  readonly callee: Name;
  readonly args: readonly Argument[];
  readonly flags: readonly Name[];
  readonly span: Span;
}

/** `[a, b]` */
export interface ListValue {
  readonly kind: "list";
  readonly items: readonly Value[];
  readonly span: Span;
}

/** `a / b`, e.g. `1/3` or `0.4 / N`. */
export interface RatioValue {
  readonly kind: "ratio";
  readonly numerator: Value;
  readonly denominator: Value;
  readonly span: Span;
}

/** `a > b > c`: the steps of an operation. */
export interface PipelineValue {
  readonly kind: "pipeline";
  readonly stages: readonly Value[];
  readonly span: Span;
}

export type Value =
  | NumberValue
  | StringValue
  | NameValue
  | CallValue
  | ListValue
  | RatioValue
  | PipelineValue;

/** `from -> to [candidates]?` in an `edges { … }` block. */
export interface EdgeDecl {
  readonly kind: "edge";
  readonly from: Name;
  readonly to: Name;
  /** The edge's own candidates, or null to use the cell's `candidates`. */
  readonly candidates: ListValue | null;
  readonly span: Span;
}

/** `key: v1, v2, …` */
export interface Setting {
  readonly kind: "setting";
  readonly key: Name;
  readonly values: readonly Value[];
  readonly span: Span;
}

/** `key { edge* }` */
export interface EdgeBlock {
  readonly kind: "edgeBlock";
  readonly key: Name;
  readonly edges: readonly EdgeDecl[];
  readonly span: Span;
}

export type Entry = Setting | EdgeBlock;

/** `operation name = pipeline` */
export interface OperationDecl {
  readonly kind: "operation";
  readonly name: Name;
  /** Null when the definition could not be parsed. */
  readonly definition: Value | null;
  readonly span: Span;
}

/** `cell name extends base { entries }` */
export interface CellDecl {
  readonly kind: "cell";
  readonly name: Name;
  readonly base: Name | null;
  readonly entries: readonly Entry[];
  /** True when error recovery dropped part of the cell. */
  readonly incomplete: boolean;
  readonly span: Span;
}

/** `supernet { … }`, `search algorithm? { … }` or `evaluate { … }`. */
export interface SectionDecl {
  readonly kind: "section";
  readonly section: "supernet" | "search" | "evaluate";
  /** The keyword's span. */
  readonly keyword: Span;
  /** `search`'s algorithm, when written. */
  readonly algorithm: Name | null;
  readonly entries: readonly Entry[];
  readonly incomplete: boolean;
  readonly span: Span;
}

export type Declaration = OperationDecl | CellDecl | SectionDecl;

/** A whole file: `space name { declarations }`. */
export interface SpaceFile {
  readonly kind: "space";
  readonly name: Name | null;
  readonly declarations: readonly Declaration[];
  /** Settings of the space itself (only `description` is known). */
  readonly settings: readonly Entry[];
  readonly incomplete: boolean;
  readonly span: Span;
}

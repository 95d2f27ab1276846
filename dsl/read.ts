/**
 * Typed reading of AST values: numbers in a range, booleans, names from a set, and calls checked
 * against a signature (`conv(kernel: 3)`, `sgd(lr: 0.025)`). Each reader reports what is wrong and
 * returns null; the same readers serve the checks (which keep the diagnostics) and the lowering.
 *
 * @module
 */
import type { Name, Value } from "./ast.ts";
import { type Diagnostic, diagnostic } from "./diagnostics.ts";
import { didYouMean } from "./suggest.ts";

/** Receives the diagnostics of a reader. */
export type Report = (d: Diagnostic) => void;

/** A report that drops everything (for lowering, after the checks passed). */
export const ignore: Report = () => {};

/** An allowed range of numbers and how it reads in a message. */
export interface Range {
  readonly test: (x: number) => boolean;
  /** E.g. `greater than 0`, completing "… must be". */
  readonly text: string;
}

/** The ranges the language uses. */
export const ranges = {
  positive: { test: (x: number) => x > 0, text: "greater than 0" },
  atLeastOne: { test: (x: number) => x >= 1, text: "at least 1" },
  nonNegative: { test: (x: number) => x >= 0, text: "at least 0" },
  oddKernel: { test: (x: number) => x >= 1 && x % 2 === 1, text: "odd and at least 1" },
  /** [0, 1] */
  probability: { test: (x: number) => x >= 0 && x <= 1, text: "between 0 and 1" },
  /** (0, 1) */
  openUnit: { test: (x: number) => x > 0 && x < 1, text: "greater than 0 and less than 1" },
  /** [0, 1) */
  momentum: { test: (x: number) => x >= 0 && x < 1, text: "at least 0 and less than 1" },
  /** (0, 1] */
  upToOne: { test: (x: number) => x > 0 && x <= 1, text: "greater than 0 and at most 1" },
  power: { test: (x: number) => x === 1 || x === 3, text: "1 or 3" },
} as const satisfies Record<string, Range>;

/**
 * How a value reads in a message: `4`, `"foo"`, `a list`.
 *
 * @param v the value
 * @returns a short description
 */
export function describe(v: Value): string {
  switch (v.kind) {
    case "number":
      return v.text;
    case "string":
      return "a string";
    case "nameValue":
      return `"${v.name.text}"`;
    case "call":
      return `"${v.callee.text}(…)"`;
    case "list":
      return "a list";
    case "ratio":
      return v.numerator.kind === "number" && v.denominator.kind === "number"
        ? `${v.numerator.text}/${v.denominator.text}`
        : "a fraction";
    case "pipeline":
      return "a pipeline";
  }
}

/** Options of {@linkcode readNumber}. */
export interface NumberRule {
  readonly integer?: boolean;
  readonly range?: Range;
}

/**
 * A number, checked to be whole and in range when asked.
 *
 * @param v the value
 * @param what how the value is named in messages, e.g. `"kernel" of "conv"`
 * @param rule integer and range requirements
 * @param report receives the problems
 * @returns the number, or null
 */
export function readNumber(v: Value, what: string, rule: NumberRule, report: Report): number | null {
  const kind = rule.integer ? "a whole number" : "a number";
  if (v.kind !== "number") {
    report(diagnostic("wrong-type", `${what} must be ${kind} but is ${describe(v)}`, v.span));
    return null;
  }
  if (!Number.isFinite(v.value)) {
    report(diagnostic("out-of-range", `${what} must be a finite number but is ${v.text}`, v.span));
    return null;
  }
  if (rule.integer && !Number.isInteger(v.value)) {
    report(diagnostic("wrong-type", `${what} must be a whole number but is ${v.text}`, v.span));
    return null;
  }
  if (rule.range && !rule.range.test(v.value)) {
    report(diagnostic("out-of-range", `${what} must be ${rule.range.text} but is ${v.text}`, v.span));
    return null;
  }
  return v.value;
}

/**
 * `true` or `false`.
 *
 * @param v the value
 * @param what how the value is named in messages
 * @param report receives the problems
 * @returns the boolean, or null
 */
export function readBool(v: Value, what: string, report: Report): boolean | null {
  if (v.kind === "nameValue" && (v.name.text === "true" || v.name.text === "false")) {
    return v.name.text === "true";
  }
  const hint = v.kind === "nameValue" ? didYouMean(v.name.text, ["true", "false"]) : null;
  report(diagnostic("wrong-type", `${what} must be true or false but is ${describe(v)}`, v.span, hint));
  return null;
}

/**
 * One of a fixed set of names, e.g. `epoch` or `step`.
 *
 * @param v the value
 * @param what how the value is named in messages
 * @param choices the allowed names
 * @param report receives the problems
 * @returns the name, or null
 */
export function readChoice<T extends string>(
  v: Value,
  what: string,
  choices: readonly T[],
  report: Report,
): T | null {
  const expected = choices.map((c) => `"${c}"`).join(" or ");
  if (v.kind !== "nameValue") {
    report(diagnostic("wrong-type", `${what} must be ${expected} but is ${describe(v)}`, v.span));
    return null;
  }
  const found = choices.find((c) => c === v.name.text);
  if (found !== undefined) return found;
  report(
    diagnostic(
      "unknown-value",
      `${what} must be ${expected} but is "${v.name.text}"`,
      v.span,
      didYouMean(v.name.text, choices),
    ),
  );
  return null;
}

/**
 * A name or a list of names: `none` or `[none, skip_connect]`.
 *
 * @param v the value
 * @param what how the value is named in messages
 * @param report receives the problems
 * @returns the names, or null
 */
export function readNames(v: Value, what: string, report: Report): Name[] | null {
  if (v.kind === "nameValue") return [v.name];
  if (v.kind === "list") {
    const names: Name[] = [];
    for (const item of v.items) {
      if (item.kind !== "nameValue") {
        report(diagnostic("wrong-type", `${what} must list names but has ${describe(item)}`, item.span));
        return null;
      }
      names.push(item.name);
    }
    return names;
  }
  report(diagnostic("wrong-type", `${what} must be a name or a list of names but is ${describe(v)}`, v.span));
  return null;
}

/** The type of a call parameter. */
export type ParamType = "int" | "number" | "bool" | "names";

/** The value of a read argument. */
export type ArgValue = number | boolean | readonly Name[];

/** One parameter of a signature; without a default (and not `optional`) it is required. */
export interface ParamSpec {
  readonly name: string;
  readonly type: ParamType;
  readonly range?: Range;
  readonly default?: number | boolean;
  /** Absent from the result when not written (e.g. batch norm's `affine`). */
  readonly optional?: boolean;
  /** For the language reference. */
  readonly doc?: string;
}

/** The signature of a primitive or a setting function. */
export interface CallSpec {
  readonly name: string;
  readonly params: readonly ParamSpec[];
  readonly doc: string;
}

/** A call checked against its signature, defaults filled in. */
export interface ReadCall {
  readonly spec: CallSpec;
  readonly args: ReadonlyMap<string, ArgValue>;
}

/** How {@linkcode readCall} reports an unknown callee. */
export interface CallContext {
  /** E.g. `primitive` or `temperature schedule`. */
  readonly what: string;
  /** `unknown-primitive` or `unknown-value`. */
  readonly unknownCode: string;
  /** Replaces spec defaults, e.g. the evaluation's `nesterov: true`. */
  readonly defaults?: Readonly<Record<string, number | boolean>>;
}

function readArg(p: ParamSpec, v: Value, callee: string, report: Report): ArgValue | null {
  const what = `"${p.name}" of "${callee}"`;
  switch (p.type) {
    case "int":
      return readNumber(v, what, { integer: true, ...(p.range ? { range: p.range } : {}) }, report);
    case "number":
      return readNumber(v, what, p.range ? { range: p.range } : {}, report);
    case "bool":
      return readBool(v, what, report);
    case "names":
      return readNames(v, what, report);
  }
}

/**
 * A call (or a bare name, a call without arguments) checked against one of `specs`: known callee,
 * known parameters, each once, positional ones before named ones, required ones present, values of
 * the right type and range. Flags after the call are not allowed here.
 *
 * @param v the value
 * @param specs the signatures that may be called
 * @param context how to name things in messages
 * @param report receives the problems
 * @returns the callee's spec and the arguments with defaults, or null
 */
export function readCall(
  v: Value,
  specs: readonly CallSpec[],
  context: CallContext,
  report: Report,
): ReadCall | null {
  const names = specs.map((s) => s.name);
  if (v.kind !== "nameValue" && v.kind !== "call") {
    const expected = names.map((n) => `"${n}"`).join(", ");
    report(
      diagnostic("wrong-type", `${context.what} must be one of ${expected} but is ${describe(v)}`, v.span),
    );
    return null;
  }
  const callee = v.kind === "call" ? v.callee : v.name;
  const spec = specs.find((s) => s.name === callee.text);
  if (!spec) {
    const message = `${context.what} "${callee.text}" does not exist`;
    const hint = didYouMean(callee.text, names) ?? `expected one of ${names.map((n) => `"${n}"`).join(", ")}`;
    report(diagnostic(context.unknownCode, message, callee.span, hint));
    return null;
  }
  let ok = true;
  const fail = (d: Diagnostic) => {
    ok = false;
    report(d);
  };
  const given = new Map<string, ArgValue>();
  const seen = new Set<string>();
  let sawNamed = false;
  const args = v.kind === "call" ? v.args : [];
  args.forEach((arg, i) => {
    let param: ParamSpec | undefined;
    if (arg.name) {
      sawNamed = true;
      param = spec.params.find((p) => p.name === arg.name!.text);
      if (!param) {
        const known = spec.params.map((p) => p.name);
        const hint = didYouMean(arg.name.text, known) ??
          (known.length
            ? `"${spec.name}" takes ${known.map((n) => `"${n}"`).join(", ")}`
            : `"${spec.name}" takes no parameters`);
        fail(
          diagnostic(
            "unknown-parameter",
            `"${arg.name.text}" is not a parameter of "${spec.name}"`,
            arg.name.span,
            hint,
          ),
        );
        return;
      }
    } else {
      if (sawNamed) {
        fail(
          diagnostic(
            "positional-after-named",
            `positional argument after named ones in "${spec.name}(…)"`,
            arg.span,
            "name it, e.g. kernel: 3",
          ),
        );
        return;
      }
      param = spec.params[i];
      if (!param) {
        const n = spec.params.length;
        fail(
          diagnostic(
            "too-many-arguments",
            `"${spec.name}" takes ${n} argument${n === 1 ? "" : "s"} but got ${args.length}`,
            arg.span,
          ),
        );
        return;
      }
    }
    if (seen.has(param.name)) {
      fail(
        diagnostic(
          "duplicate-parameter",
          `parameter "${param.name}" of "${spec.name}" is given twice`,
          arg.span,
        ),
      );
      return;
    }
    seen.add(param.name);
    const value = readArg(param, arg.value, spec.name, report);
    if (value === null) ok = false;
    else given.set(param.name, value);
  });
  if (v.kind === "call") {
    for (const flag of v.flags) {
      fail(diagnostic("unknown-value", `"${flag.text}" cannot follow "${spec.name}(…)"`, flag.span));
    }
  }
  const result = new Map<string, ArgValue>();
  for (const p of spec.params) {
    const value = given.get(p.name) ?? context.defaults?.[p.name] ?? p.default;
    if (value !== undefined) result.set(p.name, value);
    else if (!p.optional && !seen.has(p.name)) {
      fail(
        diagnostic(
          "missing-parameter",
          `"${spec.name}" needs parameter "${p.name}"`,
          callee.span,
          `write ${spec.name}(${p.name}: …)`,
        ),
      );
    }
  }
  return ok ? { spec, args: result } : null;
}

/**
 * A numeric argument of a read call (present because of its default or the checks).
 *
 * @param call the read call
 * @param name the parameter
 * @returns its number (NaN if absent, which the checks rule out)
 */
export function num(call: ReadCall, name: string): number {
  const v = call.args.get(name);
  return typeof v === "number" ? v : NaN;
}

/**
 * A boolean argument of a read call.
 *
 * @param call the read call
 * @param name the parameter
 * @returns its value, or undefined when absent
 */
export function bool(call: ReadCall, name: string): boolean | undefined {
  const v = call.args.get(name);
  return typeof v === "boolean" ? v : undefined;
}

/**
 * The runtime primitives an `operation` is built from, their parameters, and the composites
 * (`sep_conv`, `dil_conv`, `relu_conv_bn`) lowered to primitive steps as DARTS' `operations.py`.
 *
 * @module
 */
import type { OperationDecl, Value } from "./ast.ts";
import { diagnostic } from "./diagnostics.ts";
import type { Operation, Step } from "./ir.ts";
import { bool, type CallSpec, num, ranges, type ReadCall, readCall, type Report } from "./read.ts";

const kernel = { name: "kernel", type: "int", range: ranges.oddKernel, doc: "odd, ≥ 1" } as const;
const kernel3 = { ...kernel, default: 3 } as const;
const dilation = (d: number) =>
  ({ name: "dilation", type: "int", range: ranges.atLeastOne, default: d, doc: "≥ 1" }) as const;

/** Every primitive and composite an operation may use, with its parameters. */
export const PRIMITIVES: readonly CallSpec[] = [
  { name: "relu", params: [], doc: "ReLU" },
  { name: "identity", params: [], doc: "the input itself (a factorized reduce at stride 2, as DARTS)" },
  { name: "zero", params: [], doc: "zeros (DARTS' none)" },
  { name: "conv_1x1", params: [], doc: "pointwise convolution, no bias" },
  { name: "factorized_reduce", params: [], doc: "DARTS' FactorizedReduce" },
  {
    name: "conv",
    params: [kernel, dilation(1), {
      name: "groups",
      type: "int",
      range: ranges.atLeastOne,
      default: 1,
      doc: "≥ 1, divides C",
    }],
    doc: "k×k convolution, no bias",
  },
  { name: "dw_conv", params: [kernel, dilation(1)], doc: "depthwise k×k convolution, no bias" },
  {
    name: "batch_norm",
    params: [{
      name: "affine",
      type: "bool",
      optional: true,
      doc: "default: not affine in the supernet, affine when evaluating",
    }],
    doc: "batch normalization",
  },
  { name: "max_pool", params: [kernel3], doc: "k×k max pooling" },
  { name: "avg_pool", params: [kernel3], doc: "k×k average pooling (padding not counted)" },
  {
    name: "sep_conv",
    params: [kernel],
    doc: "relu > dw_conv(k) > conv_1x1 > batch_norm > relu > dw_conv(k) > conv_1x1 > batch_norm",
  },
  {
    name: "dil_conv",
    params: [kernel, dilation(2)],
    doc: "relu > dw_conv(k, dilation) > conv_1x1 > batch_norm",
  },
  { name: "relu_conv_bn", params: [kernel], doc: "relu > conv(k) > batch_norm" },
];

/** The steps of one read primitive call. */
function stepsOf(call: ReadCall): Step[] {
  const k = num(call, "kernel");
  const d = num(call, "dilation");
  switch (call.spec.name) {
    case "relu":
    case "identity":
    case "zero":
    case "conv_1x1":
    case "factorized_reduce":
      return [{ kind: call.spec.name }];
    case "conv":
      return [{ kind: "conv", kernel: k, dilation: d, groups: num(call, "groups") }];
    case "dw_conv":
      return [{ kind: "dw_conv", kernel: k, dilation: d }];
    case "batch_norm": {
      const affine = bool(call, "affine");
      return [affine === undefined ? { kind: "batch_norm" } : { kind: "batch_norm", affine }];
    }
    case "max_pool":
    case "avg_pool":
      return [{ kind: call.spec.name, kernel: k }];
    case "sep_conv": {
      const half: Step[] = [
        { kind: "relu" },
        { kind: "dw_conv", kernel: k, dilation: 1 },
        { kind: "conv_1x1" },
        { kind: "batch_norm" },
      ];
      return [...half, ...half];
    }
    case "dil_conv":
      return [{ kind: "relu" }, { kind: "dw_conv", kernel: k, dilation: d }, { kind: "conv_1x1" }, {
        kind: "batch_norm",
      }];
    case "relu_conv_bn":
      return [{ kind: "relu" }, { kind: "conv", kernel: k, dilation: 1, groups: 1 }, { kind: "batch_norm" }];
    default:
      return [];
  }
}

/**
 * An operation's steps, checking each stage of its pipeline against {@linkcode PRIMITIVES}.
 *
 * @param decl the declaration (its definition non-null)
 * @param report receives the problems
 * @returns the IR operation, or null when a stage is wrong
 */
export function resolveOperation(decl: OperationDecl, report: Report): Operation | null {
  if (!decl.definition) return null;
  const stages: readonly Value[] = decl.definition.kind === "pipeline"
    ? decl.definition.stages
    : [decl.definition];
  const steps: Step[] = [];
  let ok = true;
  for (const stage of stages) {
    if (stage.kind === "pipeline") {
      report(diagnostic("wrong-type", "a pipeline cannot be nested", stage.span));
      ok = false;
      continue;
    }
    const call = readCall(stage, PRIMITIVES, { what: "primitive", unknownCode: "unknown-primitive" }, report);
    if (call) steps.push(...stepsOf(call));
    else ok = false;
  }
  return ok ? { name: decl.name.text, steps, span: decl.name.span } : null;
}

/**
 * The largest `groups` among an operation's convolutions (1 when it has none).
 *
 * @param op an IR operation
 * @returns the group count that the channels must be divisible by
 */
export function groupsOf(op: Operation): number {
  return Math.max(1, ...op.steps.map((s) => (s.kind === "conv" ? s.groups : 1)));
}

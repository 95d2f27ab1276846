/**
 * The tfjs kernels of the `native` backend: each packs its inputs (handle, shape) and attributes into
 * the shim's argument buffer and runs one ATen op. Kernel names and attributes are tfjs'; a kernel
 * not listed here makes tfjs throw "Kernel 'X' not registered for backend 'native'" — never a silent
 * fallback.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { type Info, one, register, run } from "./pack.ts";
import { registerConvKernels } from "./conv_kernels.ts";
import { registerNativeArrayKernels } from "./array_kernels.ts";
import { gatherBatch, registerGapKernels } from "./gap_kernels.ts";

const BOOL_UNARY = ["IsNan", "IsInf", "IsFinite", "LogicalNot"];
const FLOAT_UNARY = [
  "Exp",
  "Log",
  "Sqrt",
  "Rsqrt",
  "Sigmoid",
  "Tanh",
  "Softplus",
  "Reciprocal",
  "Erf",
  "Expm1",
  "Log1p",
];
const SAME_UNARY = [
  "Abs",
  "Acos",
  "Asin",
  "Atan",
  "Ceil",
  "Cos",
  "Cosh",
  "Elu",
  "Floor",
  "Neg",
  "Relu",
  "Relu6",
  "Round",
  "Selu",
  "Sign",
  "Sin",
  "Sinh",
  "Square",
  "Tan",
  "ZerosLike",
  "OnesLike",
];
const ARITHMETIC = [
  "Add",
  "Sub",
  "Multiply",
  "FloorDiv",
  "Mod",
  "Maximum",
  "Minimum",
  "Pow",
  "SquaredDifference",
];
const COMPARISONS = [
  "Equal",
  "NotEqual",
  "Greater",
  "GreaterEqual",
  "Less",
  "LessEqual",
  "LogicalAnd",
  "LogicalOr",
];

/** Registers every kernel of the native backend (once). */
export function registerNativeKernels(): void {
  for (const name of [...BOOL_UNARY, ...FLOAT_UNARY, ...SAME_UNARY]) {
    const dtype = (x: Info): tf.DataType =>
      BOOL_UNARY.includes(name) ? "bool" : FLOAT_UNARY.includes(name) ? "float32" : x.dtype;
    register(name, ({ x }, b) => one(b, name, dtype(x!), (p) => p.t(x!)));
  }
  register("Step", ({ x }, b, { alpha }) => one(b, "Step", x!.dtype, (p) => p.t(x!).n(alpha ?? 0)));
  register("EluGrad", ({ dy, y }, b) => one(b, "EluGrad", dy!.dtype, (p) => p.t(dy!).t(y!)));
  for (const name of ["Cumsum", "Cumprod"]) {
    register(name, ({ x }, b, { axis, exclusive, reverse }) => {
      const $axis = tf.util.parseAxisParam(axis, x!.shape)[0]!;
      return one(b, name, x!.dtype, (p) => p.t(x!).n($axis).n(exclusive ? 1 : 0).n(reverse ? 1 : 0));
    });
  }
  register("LeakyRelu", ({ x }, b, { alpha }) => one(b, "LeakyRelu", x!.dtype, (p) => p.t(x!).n(alpha)));
  register(
    "ClipByValue",
    ({ x }, b, { clipValueMin, clipValueMax }) =>
      one(b, "ClipByValue", x!.dtype, (p) => p.t(x!).n(clipValueMin).n(clipValueMax)),
  );
  register("Identity", ({ x }, b) => b.alias(x!, x!.shape));
  register("Reshape", ({ x }, b, { shape }) => {
    const size = tf.util.sizeFromShape(x!.shape);
    const $shape = tf.util.inferFromImplicitShape(shape, size);
    tf.util.assert(
      tf.util.sizeFromShape($shape) === size,
      () => `new shape ${$shape} and old shape ${x!.shape} must have the same number of elements`,
    );
    return b.alias(x!, $shape);
  });
  register("ExpandDims", ({ input }, b, { dim }) => {
    const rank = input!.shape.length;
    const axis = dim < 0 ? dim + rank + 1 : dim;
    const shape = [...input!.shape];
    shape.splice(axis, 0, 1);
    return b.alias(input!, shape);
  });
  register("Cast", ({ x }, b, { dtype }) => {
    if (dtype === x!.dtype) return b.alias(x!, x!.shape);
    return one(b, "Cast", dtype, (p) => p.t(x!));
  });
  for (const name of ARITHMETIC) {
    register(name, ({ a, b: y }, b) => one(b, name, tf.upcastType(a!.dtype, y!.dtype), (p) => p.t(a!).t(y!)));
  }
  register("Prelu", ({ x, alpha }, b) => one(b, "Prelu", x!.dtype, (p) => p.t(x!).t(alpha!)));
  register("RealDiv", ({ a, b: y }, b) => one(b, "RealDiv", "float32", (p) => p.t(a!).t(y!)));
  register("Atan2", ({ a, b: y }, b) => one(b, "Atan2", "float32", (p) => p.t(a!).t(y!)));
  for (const name of COMPARISONS) {
    register(name, ({ a, b: y }, b) => one(b, name, "bool", (p) => p.t(a!).t(y!)));
  }
  register("AddN", (inputs, b) => {
    const xs = Object.values(inputs);
    return one(b, "AddN", xs[0]!.dtype, (p) => p.tensors(xs));
  });
  register(
    "Select",
    ({ condition, t, e }, b) =>
      one(b, "Select", tf.upcastType(t!.dtype, e!.dtype), (p) => p.t(condition!).t(t!).t(e!)),
  );

  const reduction = (name: string, out: (x: Info) => tf.DataType) =>
    register(name, ({ x }, b, { axis, reductionIndices, keepDims }) => {
      // Max names its axes reductionIndices; the others, axis.
      const axes = tf.util.parseAxisParam(axis ?? reductionIndices ?? null, x!.shape);
      // No axis: the values themselves (ATen would reduce over every axis).
      if (axes.length === 0) return one(b, "Cast", out(x!), (p) => p.t(x!));
      return one(b, name, out(x!), (p) => p.t(x!).list(axes).n(keepDims ? 1 : 0));
    });
  const summed = (x: Info): tf.DataType => x.dtype === "bool" ? "int32" : x.dtype;
  reduction("Sum", summed);
  reduction("Prod", summed);
  reduction("Mean", () => "float32");
  reduction("Max", (x) => x.dtype);
  reduction("Min", (x) => x.dtype);
  reduction("Any", () => "bool");
  reduction("All", () => "bool");
  for (const name of ["ArgMax", "ArgMin"]) {
    register(name, ({ x }, b, { axis }) => {
      const axes = tf.util.parseAxisParam(axis, x!.shape);
      if (axes.length !== 1) throw new Error(`native backend: ${name} takes one axis`);
      return one(b, name, "int32", (p) => p.t(x!).n(axes[0]!));
    });
  }
  register(
    "Softmax",
    ({ logits }, b, { dim }) =>
      one(b, "Softmax", "float32", (p) => p.t(logits!).n(dim < 0 ? logits!.shape.length + dim : dim)),
  );

  register(
    "BatchMatMul",
    ({ a, b: y }, b, { transposeA, transposeB }) =>
      one(
        b,
        "BatchMatMul",
        tf.upcastType(a!.dtype, y!.dtype),
        (p) => p.t(a!).t(y!).n(transposeA ? 1 : 0).n(transposeB ? 1 : 0),
      ),
  );
  register("Transpose", ({ x }, b, { perm }) => one(b, "Transpose", x!.dtype, (p) => p.t(x!).list(perm)));
  register("Slice", ({ x }, b, { begin, size }) => {
    const [$begin, $size] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    return one(b, "Slice", x!.dtype, (p) => p.t(x!).list($begin!).list($size!));
  });
  register("StridedSlice", ({ x }, b, attrs) => {
    const info = tf.slice_util.sliceInfo(
      x!.shape,
      attrs.begin,
      attrs.end,
      attrs.strides,
      attrs.beginMask,
      attrs.endMask,
      attrs.ellipsisMask,
      attrs.newAxisMask,
      attrs.shrinkAxisMask,
    );
    if (info.strides.some((s) => s < 1)) {
      throw new Error("native backend: StridedSlice with negative strides");
    }
    const sliced = one(
      b,
      "StridedSlice",
      x!.dtype,
      (p) => p.t(x!).list(info.begin).list(info.end).list(info.strides),
    );
    const out = b.alias(sliced, info.finalShape);
    b.disposeData(sliced.dataId);
    return out;
  });
  register(
    "PadV2",
    ({ x }, b, { paddings, constantValue }) =>
      one(
        b,
        "PadV2",
        x!.dtype,
        (p) => p.t(x!).list((paddings as [number, number][]).flat()).n(constantValue),
      ),
  );
  register("Concat", (inputs, b, { axis }) => {
    const xs = Object.values(inputs);
    const $axis = tf.util.parseAxisParam(axis, xs[0]!.shape)[0]!;
    const dtype = xs.map((x) => x.dtype).reduce((u, d) => tf.upcastType(u, d));
    const kept = xs.filter((x) => tf.util.sizeFromShape(x.shape) > 0);
    if (kept.length === 1) return b.alias(kept[0]!, kept[0]!.shape);
    return one(b, "Concat", dtype, (p) => p.tensors(kept.length > 0 ? kept : xs).n($axis));
  });
  register("Pack", (inputs, b, { axis }) => {
    const xs = Object.values(inputs);
    const $axis = axis < 0 ? axis + xs[0]!.shape.length + 1 : axis;
    return one(b, "Pack", xs[0]!.dtype, (p) => p.tensors(xs).n($axis));
  });
  register("Unpack", ({ value }, b, { axis }) => {
    const $axis = axis < 0 ? axis + value!.shape.length : axis;
    return run(b, "Unpack", value!.dtype, (p) => p.t(value!).n($axis));
  });
  register("SplitV", ({ x }, b, { numOrSizeSplits, axis }) => {
    const $axis = tf.util.parseAxisParam(axis, x!.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, $axis);
    return run(b, "SplitV", x!.dtype, (p) => p.t(x!).list(sizes).n($axis));
  });
  register("Tile", ({ x }, b, { reps }) => one(b, "Tile", x!.dtype, (p) => p.t(x!).list(reps)));
  register(
    "Reverse",
    ({ x }, b, { dims }) =>
      one(b, "Reverse", x!.dtype, (p) => p.t(x!).list(tf.util.parseAxisParam(dims, x!.shape))),
  );
  register("GatherV2", ({ x, indices }, b, { axis, batchDims }) => {
    if (batchDims) return gatherBatch(b, x!, indices!, axis, batchDims);
    const $axis = tf.util.parseAxisParam(axis, x!.shape)[0]!;
    return one(b, "GatherV2", x!.dtype, (p) => p.t(x!).t(indices!).n($axis));
  });
  register(
    "UnsortedSegmentSum",
    ({ x, segmentIds }, b, { numSegments }) =>
      one(b, "UnsortedSegmentSum", x!.dtype, (p) => p.t(x!).t(segmentIds!).n(numSegments)),
  );
  register(
    "OneHot",
    ({ indices }, b, { dtype, depth, onValue, offValue }) =>
      one(b, "OneHot", dtype, (p) => p.t(indices!).n(depth).n(onValue).n(offValue)),
  );
  register("Fill", (_, b, { shape, value, dtype }) => {
    const $dtype = dtype ?? tf.util.inferDtype(value);
    if (typeof value === "string") throw new Error("native backend: Fill with strings");
    return one(b, "Fill", $dtype, (p) => p.list(shape).n(Number(value)).n(b.device));
  });
  register("Range", (_, b, { start, stop, step, dtype }) => {
    if (step === 0) throw new Error("Cannot have a step of zero");
    const n = Math.max(Math.ceil((stop - start) / step), 0);
    return one(b, "Range", dtype, (p) => p.n(start).n(stop).n(step).n(b.device).n(n));
  });
  register("LinSpace", (_, b, { start, stop, num }) => {
    const step = num > 1 ? (stop - start) / (num - 1) : 0;
    const values = Float32Array.from({ length: num }, (_, i) => start + i * step);
    return b.makeTensorInfo([num], "float32", values);
  });
  register(
    "FusedBatchNorm",
    ({ x, mean, variance, offset, scale }, b, { varianceEpsilon }) =>
      one(b, "FusedBatchNorm", x!.dtype, (p) => {
        p.t(x!).t(mean!).t(variance!);
        p.n(offset ? 1 : 0);
        if (offset) p.t(offset);
        p.n(scale ? 1 : 0);
        if (scale) p.t(scale);
        p.n(varianceEpsilon ?? 0.001);
      }),
  );

  registerConvKernels();
  registerNativeArrayKernels();
  registerGapKernels();
}

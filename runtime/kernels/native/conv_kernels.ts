/**
 * The native backend's convolution and pooling kernels (NHWC, handed to ATen as channels-last NCHW
 * views): Conv2D, DepthwiseConv2dNative, their input and filter backprops, MaxPool, AvgPool and their
 * gradients. Asymmetric ("same" at stride 2) padding is applied explicitly.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { type Attrs, type Info, one, type Pack, register } from "./pack.ts";

/** NHWC convolution geometry for the shim: stride, dilation, pads (top, bottom, left, right). */
function convGeometry(p: Pack, c: tf.backend_util.Conv2DInfo): void {
  if (c.dataFormat !== "channelsLast") throw new Error("native backend: convolutions take NHWC only");
  const pad = c.padInfo;
  p.n(c.strideHeight).n(c.strideWidth).n(c.dilationHeight).n(c.dilationWidth);
  p.n(pad.top).n(pad.bottom).n(pad.left).n(pad.right);
}

function poolArgs(p: Pack, mode: number, c: tf.backend_util.Conv2DInfo): void {
  const pad = c.padInfo;
  p.n(mode).n(c.filterHeight).n(c.filterWidth).n(c.strideHeight).n(c.strideWidth);
  p.n(pad.top).n(pad.bottom).n(pad.left).n(pad.right);
}

function poolInfo(x: Info, attrs: Attrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** Registers the convolution and pooling kernels. */
export function registerConvKernels(): void {
  const shape4 = (s: readonly number[]) => s as [number, number, number, number];
  register("Conv2D", ({ x, filter }, b, a) => {
    const c = tf.backend_util.computeConv2DInfo(
      shape4(x!.shape),
      shape4(filter!.shape),
      a.strides,
      a.dilations,
      a.pad,
      a.dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(a.dataFormat),
    );
    return one(b, "Conv", x!.dtype, (p) => {
      p.n(0).n(0);
      convGeometry(p, c);
      p.t(x!).t(filter!);
    });
  });
  register("Conv2DBackpropInput", ({ dy, filter }, b, a) => {
    const c = tf.backend_util.computeConv2DInfo(
      shape4(a.inputShape),
      shape4(filter!.shape),
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(a.dataFormat),
    );
    return one(b, "Conv", dy!.dtype, (p) => {
      p.n(1).n(0);
      convGeometry(p, c);
      p.t(dy!).t(filter!).list(a.inputShape);
    });
  });
  register("Conv2DBackpropFilter", ({ x, dy }, b, a) => {
    const c = tf.backend_util.computeConv2DInfo(
      shape4(x!.shape),
      shape4(a.filterShape),
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(a.dataFormat),
    );
    return one(b, "Conv", x!.dtype, (p) => {
      p.n(2).n(0);
      convGeometry(p, c);
      p.t(x!).t(dy!).list(a.filterShape);
    });
  });
  const depthwiseInfo = (xShape: readonly number[], fShape: readonly number[], a: Attrs) =>
    tf.backend_util.computeConv2DInfo(
      shape4(xShape),
      shape4(fShape),
      a.strides,
      a.dilations ?? 1,
      a.pad,
      a.dimRoundingMode,
      true,
    );
  register("DepthwiseConv2dNative", ({ x, filter }, b, a) => {
    const c = depthwiseInfo(x!.shape, filter!.shape, a);
    return one(b, "Conv", x!.dtype, (p) => {
      p.n(0).n(1);
      convGeometry(p, c);
      p.t(x!).t(filter!);
    });
  });
  register("DepthwiseConv2dNativeBackpropInput", ({ dy, filter }, b, a) => {
    const c = depthwiseInfo(a.inputShape, filter!.shape, a);
    return one(b, "Conv", dy!.dtype, (p) => {
      p.n(1).n(1);
      convGeometry(p, c);
      p.t(dy!).t(filter!).list(a.inputShape);
    });
  });
  register("DepthwiseConv2dNativeBackpropFilter", ({ x, dy }, b, a) => {
    const c = depthwiseInfo(x!.shape, a.filterShape, a);
    return one(b, "Conv", x!.dtype, (p) => {
      p.n(2).n(1);
      convGeometry(p, c);
      p.t(x!).t(dy!).list(a.filterShape);
    });
  });
  register("MaxPool", ({ x }, b, a) =>
    one(b, "Pool", x!.dtype, (p) => {
      poolArgs(p, 0, poolInfo(x!, a));
      p.t(x!);
    }));
  register("AvgPool", ({ x }, b, a) =>
    one(b, "Pool", "float32", (p) => {
      poolArgs(p, 1, poolInfo(x!, a));
      p.t(x!);
    }));
  register("MaxPoolGrad", ({ dy, input }, b, a) =>
    one(b, "Pool", "float32", (p) => {
      poolArgs(p, 2, poolInfo(input!, a));
      p.t(dy!).t(input!);
    }));
  register("AvgPoolGrad", ({ dy, input }, b, a) =>
    one(b, "Pool", "float32", (p) => {
      poolArgs(p, 3, poolInfo(input!, a));
      p.t(dy!).t(input!);
    }));
}

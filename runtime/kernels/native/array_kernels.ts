/**
 * The array kernels of `../array_kernels.ts` on the native backend, one shim op each, with the same
 * names, inputs, attributes and outputs (so `hasArrayKernel` finds them and `custom_grad.ts` takes the
 * one-dispatch path): batch norm's forward and gradient (statistics in float64), a running statistic's
 * update, a mixed op's weighted sum and its gradient, max pooling's and a depthwise convolution's
 * gradients (ATen's own, symmetric padding); max pooling with indices and its gradient from them; an
 * affine batch norm's forward and gradient, and a relu's gradient (the evaluation network's).
 *
 * @module
 */
import {
  BATCH_NORM_AFFINE_GRAD,
  BATCH_NORM_AFFINE_TRAIN,
  BATCH_NORM_GRAD,
  BATCH_NORM_TRAIN,
  DEPTHWISE_FILTER_GRAD,
  MAX_POOL_GRAD,
  MAX_POOL_INDICES,
  MAX_POOL_INDICES_GRAD,
  MOMENTUM_UPDATE,
  RELU_GRAD,
  SGD_UPDATE,
  WEIGHTED_SUM,
  WEIGHTED_SUM_GRAD,
  type WindowAttrs,
} from "../array_kernels.ts";
import { type Info, type Inputs, one, register, run } from "./pack.ts";

/** t_0 … t_{K−1}: the inputs besides the `others` named ones, in order. */
function terms(inputs: Inputs, others: number): Info[] {
  return Array.from({ length: Object.keys(inputs).length - others }, (_, k) => inputs[`t${k}`]!);
}

/** Registers the array kernels for the native backend. */
export function registerNativeArrayKernels(): void {
  register(
    BATCH_NORM_TRAIN,
    ({ x }, b, { eps }) => run(b, BATCH_NORM_TRAIN, "float32", (p) => p.t(x!).n(eps)),
  );
  register(
    BATCH_NORM_GRAD,
    ({ dy, xhat, rstd }, b) => one(b, BATCH_NORM_GRAD, "float32", (p) => p.t(dy!).t(xhat!).t(rstd!)),
  );
  register(
    BATCH_NORM_AFFINE_TRAIN,
    ({ x, gamma, beta }, b, { eps }) =>
      run(b, BATCH_NORM_AFFINE_TRAIN, "float32", (p) => p.t(x!).t(gamma!).t(beta!).n(eps)),
  );
  register(
    BATCH_NORM_AFFINE_GRAD,
    ({ dy, x, mean, rstd, gamma }, b) =>
      run(b, BATCH_NORM_AFFINE_GRAD, "float32", (p) => p.t(dy!).t(x!).t(mean!).t(rstd!).t(gamma!)),
  );
  register(RELU_GRAD, ({ dy, y }, b) => one(b, RELU_GRAD, "float32", (p) => p.t(dy!).t(y!)));
  register(
    MOMENTUM_UPDATE,
    ({ running, batch }, b, { momentum, scale }) =>
      one(b, MOMENTUM_UPDATE, "float32", (p) => p.t(running!).t(batch!).n(momentum).n(scale ?? 1)),
  );
  register(SGD_UPDATE, ({ w, g, buf, scale }, b, { lr, momentum, weightDecay, nesterov }) =>
    run(
      b,
      SGD_UPDATE,
      "float32",
      (p) => p.t(w!).t(g!).t(buf!).t(scale!).n(lr).n(momentum).n(weightDecay).n(nesterov),
    ));
  register(
    WEIGHTED_SUM,
    (inputs, b, { at }) =>
      one(b, WEIGHTED_SUM, "float32", (p) => p.t(inputs["phi"]!).tensors(terms(inputs, 1)).list(at)),
  );
  register(WEIGHTED_SUM_GRAD, (inputs, b, { at, phiGrad }) =>
    run(
      b,
      WEIGHTED_SUM_GRAD,
      "float32",
      (p) => p.t(inputs["dy"]!).t(inputs["phi"]!).tensors(terms(inputs, 2)).list(at).n(phiGrad ?? 1),
    ));
  register(MAX_POOL_GRAD, ({ x, dy }, b, a) => {
    const { kernel: k, stride: s, pad } = a as WindowAttrs;
    // Pool mode 2: kernel, stride, pads (top, bottom, left, right), then dy, x.
    return one(
      b,
      "Pool",
      "float32",
      (p) => p.n(2).n(k).n(k).n(s).n(s).n(pad).n(pad).n(pad).n(pad).t(dy!).t(x!),
    );
  });
  register(MAX_POOL_INDICES, ({ x }, b, a) => {
    const { kernel: k, stride: s, pad } = a as WindowAttrs;
    return run(b, MAX_POOL_INDICES, "float32", (p) => p.t(x!).n(k).n(s).n(pad));
  });
  register(MAX_POOL_INDICES_GRAD, ({ dy, indices }, b, a) => {
    const { kernel: k, stride: s, pad } = a as WindowAttrs;
    const shape = (a as { inputShape: number[] }).inputShape;
    return one(b, MAX_POOL_INDICES_GRAD, "float32", (p) => p.t(dy!).t(indices!).list(shape).n(k).n(s).n(pad));
  });
  register(DEPTHWISE_FILTER_GRAD, ({ x, dy }, b, a) => {
    const { kernel: k, stride: s, dilation: d, pad } = a as WindowAttrs;
    const c = x!.shape[3]!;
    // Conv mode 2 (filter gradient), depthwise: stride, dilation, pads, then x, dy, the filter's shape.
    const out = one(
      b,
      "Conv",
      "float32",
      (p) => p.n(2).n(1).n(s).n(s).n(d).n(d).n(pad).n(pad).n(pad).n(pad).t(x!).t(dy!).list([k, k, c, 1]),
    );
    return { ...out, shape: [k, k, c] };
  });
}

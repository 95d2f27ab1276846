/**
 * Chained tensor methods (`x.reshape(shape)` for `tf.reshape(x, shape)`), which tfjs-core leaves to
 * the union package `@tensorflow/tfjs`. The runtime imports tfjs's individual packages instead (see
 * deps.ts), but some of tfjs's own gradients call these methods — Prod's calls `x.reshape`, GatherV2's
 * with batch dimensions `x.split` — and fail without them. This registers every method that the union
 * package defines as `op(this, ...args)` under the op's own name, as it does.
 *
 * @module
 */
import { tf } from "../deps.ts";

/** The union package's chained methods that call the op of the same name with `this` first (tfjs 4.22.0). */
const SAME_NAME = (
  "abs acos acosh add all any argMax argMin asin asinh atan atan2 atanh batchNorm batchToSpaceND broadcastTo " +
  "cast ceil clipByValue conv1d cos cosh cumprod cumsum depthToSpace div divNoNan dot elu equal erf " +
  "euclideanNorm exp expandDims expm1 fft floor floorDiv gather greater greaterEqual ifft irfft isInf " +
  "leakyRelu less lessEqual log log1p logSigmoid logSoftmax logSumExp logicalAnd logicalNot logicalOr " +
  "logicalXor max maximum min minimum mirrorPad mod mul neg norm notEqual onesLike pad pool pow prelu prod " +
  "reciprocal relu relu6 reshape reverse rfft round rsqrt selu sigmoid sign sin sinh slice softmax softplus " +
  "spaceToBatchND split sqrt square squaredDifference squeeze step stridedSlice sub sum tan tanh tile topk " +
  "transpose unique unstack zerosLike"
).split(" ");

type Op = (x: tf.Tensor, ...args: unknown[]) => unknown;

/**
 * Defines the chained methods on tfjs's Tensor class (once; methods already there are kept).
 *
 * @returns How many methods were defined.
 * @example
 * ```ts
 * import { registerChainedOps } from "./chained_ops.ts";
 * import { tf } from "../deps.ts";
 * registerChainedOps();
 * await tf.setBackend("cpu");
 * const x = tf.ones([2, 3]) as tf.Tensor & { reshape(shape: number[]): tf.Tensor };
 * if (x.reshape([3, 2]).shape[0] !== 3) throw new Error("x.reshape() is tf.reshape(x)");
 * ```
 */
export function registerChainedOps(): number {
  const prototype = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tf as unknown as Record<string, Op | undefined>;
  let defined = 0;
  for (const name of SAME_NAME) {
    const op = ops[name];
    if (typeof op !== "function" || name in prototype) continue;
    prototype[name] = function (this: tf.Tensor, ...args: unknown[]) {
      this.throwIfDisposed();
      return op(this, ...args);
    };
    defined++;
  }
  return defined;
}

registerChainedOps();

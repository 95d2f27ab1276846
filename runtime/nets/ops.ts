/**
 * The op registry (DARTS' `operations.py` in spirit): builds trainable modules from the IR's strided
 * steps, and the fixed building blocks of the networks (ReLUConvBN, FactorizedReduce, stem, linear).
 *
 * Every spatial op goes through runtime/kernels/composite.ts, so forward and backward run on every backend.
 * Weights start from PyTorch's defaults (kaiming-uniform, bound 1/√fan_in), drawn from seeds the
 * context hands out, so a build is deterministic. Batch norm follows PyTorch: momentum 0.1, eps 1e-5,
 * running variance updated with the unbiased batch variance.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { StridedStep } from "../../dsl/ir.ts";
import { conv, conv1x1, matMul2d, normalize } from "../kernels/composite.ts";
import type { GraphBuilder, Value } from "./inference_graph.ts";
import { isReplay, weightGradientsWanted } from "../kernels/grad_scope.ts";
import { momentumStep } from "../kernels/array_kernels.ts";
import {
  avgPoolNative,
  batchNormTrainNative,
  depthwiseConvNative,
  maxPoolNative,
  reluNative,
} from "../kernels/custom_grad.ts";

/** A trainable piece of a network. */
export interface Module {
  /** Trainable variables (the network weights w), each with a unique stable name. */
  readonly weights: readonly tf.Variable[];
  /** Non-trainable state, e.g. batch-norm running mean/variance (also checkpointed). */
  readonly state: readonly tf.Variable[];
  /** Forward pass. `training`: batch norm uses batch statistics and updates its running ones. */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D;
  /** Disposes every variable of the module. */
  dispose(): void;
  /**
   * For an op that starts with a ReLU: the rest of it, applied to `relu(x)`, so that a mixed op
   * computes one ReLU for all of its candidates that start with one.
   */
  readonly afterRelu?: (r: tf.Tensor4D, training: boolean) => tf.Tensor4D;
  /** Emits the module's inference form (batch norms with running statistics) into an export graph. */
  readonly emit: (g: GraphBuilder, x: Value) => Value;
}

/** What a module is built in. */
export interface BuildContext {
  /** Unique name prefix for this module's variables (e.g. "cell3/edge5/sep_conv_3x3"). */
  readonly name: string;
  /** Default affinity of batch norms whose step does not say (false in the supernet, true in evaluation). */
  readonly affine: boolean;
  /** Seeded source of initialisation: returns a fresh int seed each call (deterministic). */
  readonly nextSeed: () => number;
}

/** A fully connected layer (the classifier). */
export interface Linear {
  readonly weights: readonly tf.Variable[];
  readonly state: readonly tf.Variable[];
  /** `[N, cIn]` → `[N, cOut]`. */
  apply(x: tf.Tensor2D): tf.Tensor2D;
  /** Emits the layer into an export graph. */
  emit(g: GraphBuilder, x: Value): Value;
  dispose(): void;
}

/** PyTorch's BatchNorm2d momentum: running = (1 − m)·running + m·batch. */
export const BN_MOMENTUM = 0.1;
/** PyTorch's BatchNorm2d eps. */
export const BN_EPS = 1e-5;

function childContext(ctx: BuildContext, suffix: string): BuildContext {
  return { ...ctx, name: `${ctx.name}/${suffix}` };
}

/** A variable initialised by `init` (its temporaries disposed). */
function makeVariable(name: string, trainable: boolean, init: () => tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(init(), trainable, name));
}

/** PyTorch's default conv/linear weight init: U(−1/√fan_in, 1/√fan_in) (kaiming-uniform, a = √5). */
function kaimingUniform(ctx: BuildContext, suffix: string, shape: number[], fanIn: number): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  const seed = ctx.nextSeed();
  return makeVariable(
    `${ctx.name}/${suffix}`,
    true,
    () => tf.randomUniform(shape, -bound, bound, "float32", seed),
  );
}

/** A copy of a variable's values (for an export graph). */
function valuesOf(v: tf.Variable): Float32Array {
  return (v.dataSync() as Float32Array).slice();
}

/** The weight `[k, k, Cin/groups, Cout]` (or one that reshapes to it) as a graph conv's filter. */
function filterOf(
  w: tf.Variable,
  shape: readonly [number, number, number, number],
): { weight: Float32Array; shape: readonly [number, number, number, number] } {
  return { weight: valuesOf(w), shape };
}

function disposeAll(variables: readonly tf.Variable[]): void {
  for (const v of variables) v.dispose();
}

/** A module without variables. */
function stateless(fn: (x: tf.Tensor4D) => tf.Tensor4D, emit: Module["emit"]): Module {
  return { weights: [], state: [], apply: (x) => tf.tidy(() => fn(x)), emit, dispose: () => {} };
}

/** A module whose variables are all trainable weights and whose forward does not depend on `training`. */
function weighted(weights: tf.Variable[], fn: (x: tf.Tensor4D) => tf.Tensor4D, emit: Module["emit"]): Module {
  return {
    weights,
    state: [],
    apply: (x) => tf.tidy(() => fn(x)),
    emit,
    dispose: () => disposeAll(weights),
  };
}

/**
 * Batch norm over C channels (PyTorch's BatchNorm2d): batch statistics when training, running ones
 * otherwise.
 *
 * @param channels C.
 * @param affine Whether it has a learnt scale (gamma) and shift (beta).
 * @param ctx Names and seeds.
 * @returns A module with 2C weights when affine, and 2C state values.
 */
export function batchNorm(channels: number, affine: boolean, ctx: BuildContext): Module {
  const weights = affine
    ? [
      makeVariable(`${ctx.name}/gamma`, true, () => tf.ones([channels])),
      makeVariable(`${ctx.name}/beta`, true, () => tf.zeros([channels])),
    ]
    : [];
  const runningMean = makeVariable(`${ctx.name}/running_mean`, false, () => tf.zeros([channels]));
  const runningVar = makeVariable(`${ctx.name}/running_var`, false, () => tf.ones([channels]));
  const [gamma, beta] = weights as (tf.Tensor1D | undefined)[];
  return {
    weights,
    state: [runningMean, runningVar],
    apply: (x, training) =>
      tf.tidy(() => {
        if (!training) {
          return normalize(x, runningMean as tf.Tensor1D, runningVar as tf.Tensor1D, BN_EPS, gamma, beta);
        }
        // running ← (1 − m)·running + m·batch, the variance unbiased (PyTorch); once per forward pass:
        // not again when recomputation replays it, and not in the α step, which changes α only.
        const count = x.shape[0] * x.shape[1] * x.shape[2];
        const unbiased = count > 1 ? count / (count - 1) : 1;
        const update = isReplay() || !weightGradientsWanted()
          ? undefined
          : (mean: tf.Tensor1D, variance: tf.Tensor1D) => {
            runningMean.assign(momentumStep(runningMean as tf.Tensor1D, mean, BN_MOMENTUM));
            runningVar.assign(momentumStep(runningVar as tf.Tensor1D, variance, BN_MOMENTUM, unbiased));
          };
        const y = batchNormTrainNative(x, BN_EPS, gamma, beta, update);
        return y;
      }),
    emit: (g, x) =>
      g.batchNorm(x, {
        mean: valuesOf(runningMean),
        variance: valuesOf(runningVar),
        eps: BN_EPS,
        gamma: weights[0] ? valuesOf(weights[0]) : null,
        beta: weights[1] ? valuesOf(weights[1]) : null,
      }),
    dispose: () => disposeAll([...weights, runningMean, runningVar]),
  };
}

/**
 * Chains modules: the output of one is the input of the next.
 *
 * @param modules In order; none is the identity.
 * @returns One module owning all their variables.
 */
export function sequential(modules: readonly Module[]): Module {
  return {
    weights: modules.flatMap((m) => m.weights),
    state: modules.flatMap((m) => m.state),
    apply: (x, training) => tf.tidy(() => modules.reduce((acc, m) => m.apply(acc, training), x)),
    emit: (g, x) => modules.reduce((acc, m) => m.emit(g, acc), x),
    dispose: () => modules.forEach((m) => m.dispose()),
  };
}

function assertEven(x: tf.Tensor4D, what: string): void {
  if (x.shape[1] % 2 !== 0 || x.shape[2] % 2 !== 0) {
    throw new Error(`${what} needs an even height and width, got ${x.shape[1]}×${x.shape[2]}`);
  }
}

/**
 * DARTS' FactorizedReduce: relu, two 1×1 stride-2 convs to cOut/2 (the second reading the pixels
 * shifted by one, `x[:, :, 1:, 1:]`), concatenated, batch norm. Halves the spatial size.
 *
 * @param cIn Input channels.
 * @param cOut Output channels.
 * @param ctx Names, seeds and the batch norm's affinity.
 * @returns A module with cIn·cOut conv weights (+2·cOut when affine).
 */
export function factorizedReduce(cIn: number, cOut: number, ctx: BuildContext): Module {
  const half = Math.floor(cOut / 2);
  const w1 = kaimingUniform(ctx, "conv_1", [cIn, half], cIn);
  const w2 = kaimingUniform(ctx, "conv_2", [cIn, cOut - half], cIn);
  const bn = batchNorm(cOut, ctx.affine, childContext(ctx, "bn"));
  const convs: Module = weighted([w1, w2], (r) => {
    assertEven(r, "factorized reduce");
    return tf.concat([conv1x1(r, w1 as tf.Tensor2D, 2, 0), conv1x1(r, w2 as tf.Tensor2D, 2, 1)], 3);
  }, (g, r) => {
    const [h, w] = g.shape(r);
    if (h! % 2 !== 0 || w! % 2 !== 0) {
      throw new Error(`factorized reduce needs an even height and width, got ${h}×${w}`);
    }
    // Each path: the pixels of one phase, then a 1×1 conv (the batch norm folds into both).
    const path = (weight: tf.Variable, offset: 0 | 1, c: number) =>
      g.conv(g.subsample(r, offset), { ...filterOf(weight, [1, 1, cIn, c]), stride: 1 });
    return g.concat([path(w1, 0, half), path(w2, 1, cOut - half)]);
  });
  return withReluFirst(sequential([convs, bn]));
}

/** `relu` then `rest`, with `afterRelu` set to `rest`. */
function withReluFirst(rest: Module): Module {
  return {
    ...rest,
    apply: (x, training) => tf.tidy(() => rest.apply(reluNative(x), training)),
    afterRelu: (r, training) => rest.apply(r, training),
    emit: (g, x) => rest.emit(g, g.relu(x)),
  };
}

/**
 * DARTS' ReLUConvBN: relu, k×k conv (padding (k−1)/2), batch norm (affine per `ctx.affine`).
 *
 * @param cIn Input channels.
 * @param cOut Output channels.
 * @param kernel Odd k.
 * @param stride 1 or 2.
 * @param ctx Names, seeds and the batch norm's affinity.
 * @returns A module with cIn·cOut·k² conv weights (+2·cOut when affine).
 */
export function reluConvBn(
  cIn: number,
  cOut: number,
  kernel: number,
  stride: 1 | 2,
  ctx: BuildContext,
): Module {
  const w = kaimingUniform(ctx, "conv", [kernel, kernel, cIn, cOut], cIn * kernel * kernel);
  const convs = weighted(
    [w],
    (x) => conv(reluNative(x), w as tf.Tensor4D, stride),
    (g, x) => g.conv(g.relu(x), { ...filterOf(w, [kernel, kernel, cIn, cOut]), stride }),
  );
  return sequential([convs, batchNorm(cOut, ctx.affine, childContext(ctx, "bn"))]);
}

/**
 * The network stem (DARTS): 3×3 conv from the image channels, then an affine batch norm.
 *
 * @param cIn Image channels.
 * @param cOut Stem channels.
 * @param ctx Names and seeds (`affine` is ignored: the stem's batch norm is always affine).
 * @returns A module with cIn·cOut·9 + 2·cOut weights.
 */
export function stem(cIn: number, cOut: number, ctx: BuildContext): Module {
  const w = kaimingUniform(ctx, "conv", [3, 3, cIn, cOut], cIn * 9);
  const convs = weighted(
    [w],
    (x) => conv(x, w as tf.Tensor4D, 1),
    (g, x) => g.conv(x, { ...filterOf(w, [3, 3, cIn, cOut]), stride: 1 }),
  );
  return sequential([convs, batchNorm(cOut, true, childContext(ctx, "bn"))]);
}

/**
 * A fully connected layer with bias (PyTorch's nn.Linear init).
 *
 * @param cIn Input features.
 * @param cOut Output features.
 * @param ctx Names and seeds.
 * @returns The layer, with cIn·cOut + cOut weights.
 */
export function linear(cIn: number, cOut: number, ctx: BuildContext): Linear {
  const w = kaimingUniform(ctx, "weight", [cIn, cOut], cIn);
  const b = kaimingUniform(ctx, "bias", [cOut], cIn);
  return {
    weights: [w, b],
    state: [],
    apply: (x) => tf.tidy(() => tf.add(matMul2d(x, w as tf.Tensor2D), b)),
    emit: (g, x) => g.dense(x, { weight: valuesOf(w), shape: [cIn, cOut], bias: valuesOf(b) }),
    dispose: () => disposeAll([w, b]),
  };
}

/** The module of one strided step on C channels. */
function stepModule(step: StridedStep, channels: number, ctx: BuildContext): Module {
  const c = channels;
  const s = step.stride;
  switch (step.kind) {
    case "relu":
      return stateless((x) => reluNative(x), (g, x) => g.relu(x));
    case "conv": {
      const { kernel: k, dilation, groups } = step;
      if (c % groups !== 0) throw new Error(`${ctx.name}: ${groups} groups do not divide ${c} channels`);
      const w = kaimingUniform(ctx, "weight", [k, k, c / groups, c], (c / groups) * k * k);
      return weighted(
        [w],
        (x) => conv(x, w as tf.Tensor4D, s, dilation, groups),
        (g, x) => g.conv(x, { ...filterOf(w, [k, k, c / groups, c]), stride: s, dilation, groups }),
      );
    }
    case "dw_conv": {
      const { kernel: k, dilation } = step;
      const w = kaimingUniform(ctx, "weight", [k, k, c], k * k);
      // [k, k, C] is the layout of a [k, k, 1, C] filter with C groups.
      return weighted(
        [w],
        (x) => depthwiseConvNative(x, w as tf.Tensor3D, s, dilation),
        (g, x) => g.conv(x, { ...filterOf(w, [k, k, 1, c]), stride: s, dilation, groups: c }),
      );
    }
    case "conv_1x1": {
      const w = kaimingUniform(ctx, "weight", [c, c], c);
      return weighted(
        [w],
        (x) => conv1x1(x, w as tf.Tensor2D, s),
        (g, x) => g.conv(x, { ...filterOf(w, [1, 1, c, c]), stride: s }),
      );
    }
    case "batch_norm":
      return batchNorm(c, step.affine ?? ctx.affine, ctx);
    case "max_pool":
      return stateless(
        (x) => maxPoolNative(x, step.kernel, s),
        (g, x) => g.pool("max_pool", x, step.kernel, s),
      );
    case "avg_pool":
      return stateless(
        (x) => avgPoolNative(x, step.kernel, s),
        (g, x) => g.pool("avg_pool", x, step.kernel, s),
      );
    case "identity":
      return s === 1 ? stateless((x) => tf.clone(x), (_, x) => x) : factorizedReduce(c, c, ctx);
    case "zero":
      return stateless((x) => {
        const [n, h, w] = x.shape;
        return s === 1 ? tf.zerosLike(x) : tf.zeros([n, Math.ceil(h / 2), Math.ceil(w / 2), c]);
      }, (g, x) => g.scaleShift(s === 1 ? x : g.subsample(x, 0), new Float32Array(c), new Float32Array(c)));
    case "factorized_reduce":
      if (s === 2) return factorizedReduce(c, c, ctx);
      return sequential([
        stateless((x) => reluNative(x), (g, x) => g.relu(x)),
        stepModule({ kind: "conv_1x1", stride: 1 }, c, childContext(ctx, "conv")),
        batchNorm(c, ctx.affine, childContext(ctx, "bn")),
      ]);
  }
}

/**
 * Builds an operation from its strided steps (see `stepsAt` in dsl/ir.ts) on C channels.
 *
 * @param steps The steps, the stride already bound to the first spatial one.
 * @param channels C (every step maps C to C channels).
 * @param ctx Unique name prefix, default batch-norm affinity and seeds.
 * @returns The module; `zero` and pooling ops have no variables.
 * @example
 * ```ts
 * import { buildOperation } from "./ops.ts";
 * import { tf } from "../deps.ts";
 * await tf.setBackend("cpu");
 * let seed = 0;
 * const op = buildOperation(
 *   [{ kind: "relu", stride: 1 }, { kind: "dw_conv", kernel: 3, dilation: 1, stride: 2 }],
 *   4,
 *   { name: "example/dw", affine: false, nextSeed: () => seed++ },
 * );
 * const y = op.apply(tf.ones([1, 8, 8, 4]), true);
 * if (y.shape[1] !== 4 || op.weights.length !== 1) throw new Error("a stride-2 depthwise conv with one kernel");
 * y.dispose();
 * op.dispose();
 * ```
 */
export function buildOperation(steps: readonly StridedStep[], channels: number, ctx: BuildContext): Module {
  const modules = steps.map((step, i) => stepModule(step, channels, childContext(ctx, `${i}.${step.kind}`)));
  if (modules.length === 1) return modules[0]!;
  return steps[0]!.kind === "relu" ? withReluFirst(sequential(modules.slice(1))) : sequential(modules);
}

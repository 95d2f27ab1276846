/**
 * The evaluation network (DARTS `cnn/model.py` NetworkCIFAR): the found cells stacked into a deeper,
 * wider network that is trained from scratch (section 4.2, supplement 6.2.2). A 3×3 conv stem, the
 * cells with one fixed op per kept edge and affine batch norms, channel doubling at each reduction,
 * drop-path on every non-identity edge while training, an optional auxiliary head on the output of
 * the cell at the 2/3 reduction, global average pooling and a linear classifier.
 *
 * @example
 * ```ts ignore
 * import { EvaluationNetwork } from "./evaluation_network.ts";
 * import { Rng } from "../core/rng.ts";
 * const rng = new Rng(0);
 * const net = new EvaluationNetwork(ir, genotype.cells, {
 *   inputChannels: 3, classes: 10, nextSeed: () => rng.int(2 ** 31 - 1),
 * });
 * const { logits } = net.forward(images, false);
 * ```
 *
 * @module
 */
import { tf } from "../deps.ts";
import { recomputed } from "../kernels/recompute.ts";
import type { CellType, GenotypeCell, GenotypeEdge, NodeRef, SpaceIR, StridedStep } from "../../dsl/ir.ts";
import { operationOf, stepsAt } from "../../dsl/ir.ts";
import { AUXILIARY_HEAD, evaluationStack, wireStack } from "../../dsl/stack.ts";
import {
  type BuildContext,
  buildOperation,
  factorizedReduce,
  linear,
  type Module,
  reluConvBn,
  sequential,
  stem,
} from "./ops.ts";
import { Rng } from "../core/rng.ts";
import { GraphBuilder, type InferenceGraph, type Value } from "./inference_graph.ts";

/** How the evaluation network is built; the stack's shape defaults to the space's `evaluate` block. */
export interface EvaluationNetworkOptions {
  /** Channels of the input images (3 for CIFAR-10, 1 for digits). */
  readonly inputChannels: number;
  readonly classes: number;
  /** Initial channels C; default `evaluate.channels` (36). */
  readonly channels?: number;
  /**
   * Cells in the stack; default `evaluate.cells` (20). When it differs from `evaluate.cells` and no
   * `reductions` are given, the reductions sit at floor(cells/3) and floor(2·cells/3) (DARTS:
   * `layers // 3`, `2 * layers // 3`).
   */
  readonly cells?: number;
  /** Indices of the reduction cells; see `cells`. */
  readonly reductions?: readonly number[];
  /** Whether to build the auxiliary head; default `evaluate.auxiliaryWeight > 0`. */
  readonly auxiliary?: boolean;
  /** Seeded source of initialisation seeds. */
  readonly nextSeed: () => number;
  /** Variable-name prefix, unique among live networks of one tfjs engine; default `evaluationN`. */
  readonly name?: string;
}

/** What {@linkcode EvaluationNetwork.forward} returns. */
export interface EvaluationOutput {
  readonly logits: tf.Tensor2D;
  /** The auxiliary head's logits: only while training a network built with the head. */
  readonly auxLogits: tf.Tensor2D | null;
}

/** One kept edge of one placed cell. */
interface PlacedEdge {
  readonly from: NodeRef;
  readonly to: number;
  readonly stride: 1 | 2;
  readonly op: string;
  /** Null for a zero op (it adds nothing). */
  readonly module: Module | null;
  /** A stride-1 identity: never dropped by drop-path (DARTS skips `Identity`). */
  readonly identity: boolean;
}

interface PlacedCell {
  readonly type: CellType;
  readonly channels: number;
  /** For each input: the state it reads (0 = stem output, i + 1 = cell i's output). */
  readonly sources: readonly number[];
  readonly preprocess: readonly Module[];
  readonly edges: readonly PlacedEdge[];
  readonly project: Module | null;
}

let networks = 0;

/** Anything that owns variables: a module or a linear layer. */
type Part = {
  readonly weights: readonly tf.Variable[];
  readonly state: readonly tf.Variable[];
  dispose(): void;
};

function sameRef(a: NodeRef, b: NodeRef): boolean {
  return a.kind === b.kind && a.index === b.index;
}

/** The auxiliary head: relu, 5×5/3 average pool, 1×1 conv → 128, BN, relu, 2×2 conv → 768, BN, relu, linear. */
interface AuxiliaryHead {
  /** Index of the cell whose output feeds the head. */
  readonly after: number;
  /** relu → 1×1 conv C → 128 → BN (its relu sees the pooled relu output: a no-op). */
  readonly reduce: Module;
  /** relu → (the 2×2 conv on the 2×2 map, as a 1×1 conv 512 → 768) → BN. */
  readonly expand: Module;
  readonly classifier: ReturnType<typeof linear>;
}

/**
 * The evaluation network of a genotype.
 *
 * Tensors returned by {@linkcode forward} belong to the caller (call it inside `tf.tidy` or
 * `tf.variableGrads`).
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { inferEvaluation } from "../../dsl/infer.ts";
 * import { EvaluationNetwork } from "./evaluation_network.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * // prev_prev → n0 by max pool, prev → n1 by identity, in both cell types.
 * const edges = [
 *   { from: { kind: "input" as const, index: 0 }, to: 0, op: "pool" },
 *   { from: { kind: "input" as const, index: 1 }, to: 1, op: "skip" },
 * ];
 * const cells = [{ cellType: "normal", edges }, { cellType: "reduction", edges }];
 * let seed = 1;
 * const options = { channels: 4, cells: 3, auxiliary: false };
 * const net = new EvaluationNetwork(ir!, cells, { ...options, inputChannels: 3, classes: 4, nextSeed: () => seed++ });
 * try {
 *   const inferred = inferEvaluation(ir!, cells, { ...options, inputSize: 8, inputChannels: 3, classes: 4 });
 *   if (net.parameterCount() !== inferred.params) throw new Error(`${net.parameterCount()} ≠ ${inferred.params}`);
 *   const logits = tf.tidy(() => net.forward(tf.zeros([2, 8, 8, 3]), false).logits);
 *   if (logits.shape.join() !== "2,4") throw new Error(String(logits.shape));
 *   logits.dispose();
 * } finally {
 *   net.dispose();
 * }
 * ```
 */
export class EvaluationNetwork {
  readonly ir: SpaceIR;
  /** The variable-name prefix of this network. */
  readonly name: string;
  /** Initial channels C. */
  readonly channels: number;
  /** Indices of the reduction cells. */
  readonly reductions: readonly number[];
  /** Cell type per position. */
  readonly cellTypes: readonly string[];
  readonly #stem: Module;
  readonly #cells: readonly PlacedCell[];
  readonly #classifier: ReturnType<typeof linear>;
  readonly #auxiliary: AuxiliaryHead | null;
  /** Drop-path masks when the caller passes no generator. */
  readonly #rng: Rng;
  /** Recompute each cell's activations in the backward pass instead of keeping them (memory for time). */
  recompute = false;

  /**
   * @param ir The compiled space the genotype was found in.
   * @param cells The derived cells, one per cell type used by the stack.
   * @param options Input, classes, overrides of the `evaluate` settings and the seed source.
   * @throws {Error} When the genotype lacks a cell type the stack needs, or an edge or output node
   *   does not exist in its cell type.
   */
  constructor(ir: SpaceIR, cells: readonly GenotypeCell[], options: EvaluationNetworkOptions) {
    this.ir = ir;
    this.name = options.name ?? `evaluation${networks++}`;
    const ctx = (name: string): BuildContext => ({
      name: `${this.name}/${name}`,
      affine: true,
      nextSeed: options.nextSeed,
    });
    const stack = evaluationStack(ir, options);
    this.channels = stack.channels;
    this.reductions = stack.reductions;
    this.cellTypes = stack.positions.map((p) => p.cellType.name);
    this.#rng = new Rng(options.nextSeed());

    const c0 = ir.supernet.stemMultiplier * this.channels;
    this.#stem = stem(options.inputChannels, c0, ctx("stem"));
    const wired = wireStack(stack.positions, c0);
    const placed = wired.cells.map(({ cellType: type, channels: c, inputs }, i): PlacedCell => {
      const genotype = cells.find((g) => g.cellType === type.name);
      if (!genotype) {
        throw new Error(`the genotype has no cell of type "${type.name}" (needed by evaluation cell ${i})`);
      }
      const preprocess = inputs.map(({ channelsIn, halvings }, j) => {
        const name = `cell${i}/pre${j}`;
        if (halvings === 0) return reluConvBn(channelsIn, c, 1, 1, ctx(name));
        // One FactorizedReduce per halving: the first to C, any further one C → C.
        const chain = Array.from(
          { length: halvings },
          (_, h) => factorizedReduce(h === 0 ? channelsIn : c, c, ctx(h === 0 ? name : `${name}/${h}`)),
        );
        return chain.length === 1 ? chain[0]! : sequential(chain);
      });
      const edges = genotype.edges.map((g, e) => placeEdge(ir, type, g, c, ctx(`cell${i}/edge${e}/${g.op}`)));
      checkWiring(type, edges);
      const concat = type.output.nodes.length * c;
      const project = type.output.project ? reluConvBn(concat, c, 1, 1, ctx(`cell${i}/project`)) : null;
      const sources = inputs.map((input) => input.state);
      return { type, channels: c, sources, preprocess, edges, project };
    });
    this.#cells = placed;
    this.#classifier = linear(wired.channels.at(-1)!, options.classes, ctx("classifier"));

    const withAuxiliary = options.auxiliary ?? ir.evaluate.auxiliaryWeight > 0;
    const after = stack.auxiliaryAfter;
    const { hidden, features } = AUXILIARY_HEAD;
    this.#auxiliary = withAuxiliary && after < stack.positions.length
      ? {
        after,
        reduce: reluConvBn(wired.channels[after + 1]!, hidden, 1, 1, ctx("auxiliary/reduce")),
        expand: reluConvBn(4 * hidden, features, 1, 1, ctx("auxiliary/expand")),
        classifier: linear(features, options.classes, ctx("auxiliary/classifier")),
      }
      : null;
  }

  /** Whether the network has the auxiliary head. */
  get hasAuxiliary(): boolean {
    return this.#auxiliary !== null;
  }

  /**
   * The logits of a batch, and the auxiliary logits while training a network with the head.
   *
   * @param x Images `[N, H, W, inputChannels]`.
   * @param training Batch norms use batch statistics (and update their running ones); drop-path
   *   and the auxiliary head are active only then.
   * @param dropPathProb The probability of dropping an edge's output per sample (0 by default).
   * @param rng The generator of the drop-path masks (default: the network's own, seeded at build).
   * @returns The logits `[N, classes]` and the auxiliary logits or null.
   */
  forward(x: tf.Tensor4D, training: boolean, dropPathProb = 0, rng: Rng = this.#rng): EvaluationOutput {
    let auxLogits: tf.Tensor2D | null = null;
    const states = this.#states(x, training, dropPathProb, rng, (i, out) => {
      if (training && this.#auxiliary?.after === i) auxLogits = this.#auxiliaryForward(out, i);
    });
    const pooled = tf.mean(states[states.length - 1]!, [1, 2]) as tf.Tensor2D;
    return { logits: this.#classifier.apply(pooled), auxLogits };
  }

  /**
   * The stem's output followed by every cell's output (for inspection and tests).
   *
   * @param x Images `[N, H, W, inputChannels]`.
   * @param training As in {@linkcode forward}.
   * @param dropPathProb As in {@linkcode forward}.
   * @param rng As in {@linkcode forward}.
   * @returns `cells + 1` tensors; the caller owns them.
   */
  features(x: tf.Tensor4D, training: boolean, dropPathProb = 0, rng: Rng = this.#rng): tf.Tensor4D[] {
    return this.#states(x, training, dropPathProb, rng, () => {});
  }

  #states(
    x: tf.Tensor4D,
    training: boolean,
    dropPathProb: number,
    rng: Rng,
    after: (cell: number, out: tf.Tensor4D) => void,
  ): tf.Tensor4D[] {
    if (!(dropPathProb >= 0 && dropPathProb < 1)) {
      throw new RangeError(`the drop-path probability must be in [0, 1), got ${dropPathProb}`);
    }
    const drop = training ? dropPathProb : 0;
    const states: tf.Tensor4D[] = [this.#stem.apply(x, training)];
    this.#cells.forEach((cell, i) => {
      // Drop-path masks are drawn before the cell runs, so a recomputed pass sees the same ones.
      const masks = cell.edges.map((edge) =>
        drop > 0 && edge.module && !edge.identity ? dropMask(x.shape[0], drop, rng) : null
      );
      const out = this.recompute ? this.#cellRecomputed(cell, states, training, masks) : this.#cellForward(
        cell,
        states,
        training,
        masks,
      );
      states.push(out);
      after(i, out);
    });
    return states;
  }

  /** The cell's forward pass, recomputed during backpropagation: only its inputs and output are kept. */
  #cellRecomputed(
    cell: PlacedCell,
    states: readonly tf.Tensor4D[],
    training: boolean,
    masks: readonly (Float32Array | null)[],
  ): tf.Tensor4D {
    const read = [...new Set(cell.sources)];
    const weights = [
      ...cell.preprocess.flatMap((m) => m.weights),
      ...cell.edges.flatMap((e) => e.module?.weights ?? []),
      ...(cell.project?.weights ?? []),
    ];
    return recomputed(
      (...inputs) => {
        const view = [...states];
        read.forEach((s, j) => (view[s] = inputs[j] as tf.Tensor4D));
        return this.#cellForward(cell, view, training, masks);
      },
      read.map((s) => states[s]!),
      weights,
    );
  }

  #cellForward(
    cell: PlacedCell,
    states: readonly tf.Tensor4D[],
    training: boolean,
    masks: readonly (Float32Array | null)[],
  ): tf.Tensor4D {
    const inputs = cell.sources.map((s, j) => cell.preprocess[j]!.apply(states[s]!, training));
    // A node without incoming edges is null; checkWiring ensured nothing reads one.
    const nodes: (tf.Tensor4D | null)[] = [];
    cell.type.nodes.forEach((_, n) => {
      let acc: tf.Tensor4D | null = null;
      let zeroShape: [number, number, number, number] | null = null;
      cell.edges.forEach((edge, e) => {
        if (edge.to !== n) return;
        const x = edge.from.kind === "input" ? inputs[edge.from.index]! : nodes[edge.from.index]!;
        if (!edge.module) {
          zeroShape ??= zeroOutputShape(x, edge.stride);
          return;
        }
        let y = edge.module.apply(x, training);
        const mask = masks[e];
        if (mask) y = tf.mul(y, tf.tensor4d(mask, [mask.length, 1, 1, 1]));
        acc = acc ? tf.add(acc, y) : y;
      });
      nodes.push(acc ?? (zeroShape ? tf.zeros(zeroShape) as tf.Tensor4D : null));
    });
    const outs = cell.type.output.nodes.map((n) => nodes[n]!);
    const out = outs.length === 1 ? outs[0]! : tf.concat(outs, 3) as tf.Tensor4D;
    return cell.project ? cell.project.apply(out, training) : out;
  }

  #auxiliaryForward(x: tf.Tensor4D, cell: number): tf.Tensor2D {
    const head = this.#auxiliary!;
    const [n, h, w] = x.shape;
    const { pool, poolStride: stride, hidden: hiddenChannels, features: featureCount } = AUXILIARY_HEAD;
    const rows = Math.floor((h - pool) / stride) + 1;
    const cols = Math.floor((w - pool) / stride) + 1;
    if (rows !== 2 || cols !== 2) {
      throw new Error(
        `the auxiliary head needs an 8×8 to 10×10 feature map after cell ${cell} (DARTS' head assumes ` +
          `32×32 images), got ${h}×${w}: build the network with auxiliary: false for this image size`,
      );
    }
    const relu = tf.relu(x);
    // 5×5 average pool, stride 3, no padding, to 2×2: the mean of four windows.
    const window = (r: number, c: number) =>
      tf.mean(
        tf.slice(relu, [0, r * stride, c * stride, 0], [-1, pool, pool, -1]),
        [1, 2],
        true,
      );
    const pooled = tf.concat([
      tf.concat([window(0, 0), window(0, 1)], 2),
      tf.concat([window(1, 0), window(1, 1)], 2),
    ], 1) as tf.Tensor4D;
    const hidden = head.reduce.apply(pooled, true);
    // The 2×2 conv on a 2×2 map is one dot product per sample: flatten, then a 1×1 conv.
    const flat = tf.reshape(hidden, [n, 1, 1, 4 * hiddenChannels]) as tf.Tensor4D;
    const features = tf.relu(head.expand.apply(flat, true));
    return head.classifier.apply(tf.reshape(features, [n, featureCount]) as tf.Tensor2D);
  }

  /**
   * The network as an inference graph for export (runtime/export/): batch norms with their running
   * statistics (folded into the convs before them), no drop-path, no auxiliary head; the same
   * cells, edges and outputs as {@linkcode forward} computes with `training` false.
   *
   * @param inputShape `[H, W, C]` of the images.
   * @param standardize The per-channel mean and std subtracted and divided before the stem (the
   *   training set's, as training applied them), or null when the graph takes standardized images.
   * @returns The graph; its input is `[N, H, W, C]`, its output the logits.
   * @throws {GraphError} When a shape does not fit (e.g. an odd size before a factorized reduce).
   */
  inferenceGraph(
    inputShape: readonly [number, number, number],
    standardize: { readonly mean: readonly number[]; readonly std: readonly number[] } | null,
  ): InferenceGraph {
    const g = new GraphBuilder(inputShape);
    let x: Value = g.input;
    if (standardize) {
      const c = inputShape[2];
      const scale = Float32Array.from({ length: c }, (_, i) => 1 / standardize.std[i]!);
      const shift = Float32Array.from({ length: c }, (_, i) => -standardize.mean[i]! / standardize.std[i]!);
      x = g.scaleShift(x, scale, shift);
    }
    const states: Value[] = [this.#stem.emit(g, x)];
    for (const cell of this.#cells) {
      const inputs = cell.sources.map((s, j) => cell.preprocess[j]!.emit(g, states[s]!));
      const nodes: (Value | null)[] = [];
      cell.type.nodes.forEach((_, n) => {
        const terms: Value[] = [];
        let zeroFrom: { x: Value; stride: 1 | 2 } | null = null;
        for (const edge of cell.edges) {
          if (edge.to !== n) continue;
          const from = edge.from.kind === "input" ? inputs[edge.from.index]! : nodes[edge.from.index]!;
          if (edge.module) terms.push(edge.module.emit(g, from));
          else zeroFrom ??= { x: from, stride: edge.stride };
        }
        if (terms.length > 0) nodes.push(g.add(terms));
        else if (zeroFrom) {
          const { x: from, stride } = zeroFrom;
          const c = g.shape(from)[2]!;
          const source = stride === 1 ? from : g.subsample(from, 0);
          nodes.push(g.scaleShift(source, new Float32Array(c), new Float32Array(c)));
        } else nodes.push(null);
      });
      const out = g.concat(cell.type.output.nodes.map((n) => nodes[n]!));
      states.push(cell.project ? cell.project.emit(g, out) : out);
    }
    return g.finish(this.#classifier.emit(g, g.globalMean(states.at(-1)!)));
  }

  /** Every trainable weight (the auxiliary head's included when built). */
  weights(): tf.Variable[] {
    return this.#modules().flatMap((m) => m.weights);
  }

  /** Non-trainable state: the batch norms' running statistics. */
  state(): tf.Variable[] {
    return this.#modules().flatMap((m) => m.state);
  }

  /**
   * Every weight and state variable by its name without this network's prefix (e.g.
   * `cell3/edge2/sep_conv_3x3/...`): the keys are the same for every network of the same
   * genotype and options, so saved weights load into a fresh one.
   */
  namedVariables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    for (const v of [...this.weights(), ...this.state()]) out[this.localName(v.name)] = v;
    return out;
  }

  /** A variable's name without this network's prefix. */
  localName(name: string): string {
    return name.startsWith(`${this.name}/`) ? name.slice(this.name.length + 1) : name;
  }

  /**
   * The number of trainable parameters.
   *
   * @param options `auxiliary: true` counts the auxiliary head too (default false, as DARTS reports).
   * @returns The sum of the weights' sizes; DARTS_V2 at C = 36, 20 cells: 3,349,342 without the head.
   */
  parameterCount(options: { readonly auxiliary?: boolean } = {}): number {
    const head = new Set(this.#auxiliaryModules().flatMap((m) => m.weights));
    return this.weights().filter((w) => options.auxiliary || !head.has(w)).reduce((s, w) => s + w.size, 0);
  }

  #auxiliaryModules(): Part[] {
    const head = this.#auxiliary;
    return head ? [head.reduce, head.expand, head.classifier] : [];
  }

  #modules(): Part[] {
    const out: Part[] = [this.#stem];
    for (const cell of this.#cells) {
      out.push(...cell.preprocess);
      for (const edge of cell.edges) if (edge.module) out.push(edge.module);
      if (cell.project) out.push(cell.project);
    }
    out.push(this.#classifier, ...this.#auxiliaryModules());
    return out;
  }

  /** Disposes every variable of the network. */
  dispose(): void {
    for (const m of this.#modules()) m.dispose();
  }
}

/** Builds one kept edge: the genotype's op at the stride of the searched edge it came from. */
function placeEdge(
  ir: SpaceIR,
  type: CellType,
  g: GenotypeEdge,
  channels: number,
  ctx: BuildContext,
): PlacedEdge {
  const searched = type.edges.find((e) => sameRef(e.from, g.from) && e.to === g.to);
  if (!searched) {
    throw new Error(
      `the genotype's edge ${g.from.kind} ${g.from.index} → node ${g.to} (${g.op}) is not an edge of cell type "${type.name}"`,
    );
  }
  const steps: readonly StridedStep[] = stepsAt(operationOf(ir, g.op), searched.stride);
  const zero = steps.some((s) => s.kind === "zero");
  return {
    from: g.from,
    to: g.to,
    stride: searched.stride,
    op: g.op,
    module: zero ? null : buildOperation(steps, channels, ctx),
    identity: steps.every((s) => s.kind === "identity"),
  };
}

/** Every node the output needs must have an incoming edge, and edges may only read earlier nodes. */
function checkWiring(type: CellType, edges: readonly PlacedEdge[]): void {
  for (const e of edges) {
    if (e.from.kind === "node" && e.from.index >= e.to) {
      throw new Error(
        `cell type "${type.name}": an edge reads node ${e.from.index} into the earlier node ${e.to}`,
      );
    }
  }
  const fed = new Set(edges.map((e) => e.to));
  for (const e of edges) {
    if (e.from.kind === "node" && !fed.has(e.from.index)) {
      throw new Error(
        `cell type "${type.name}": node "${type.nodes[e.from.index]?.name}" has no incoming edge`,
      );
    }
  }
  for (const n of type.output.nodes) {
    if (!fed.has(n)) {
      throw new Error(`cell type "${type.name}": output node "${type.nodes[n]?.name}" has no incoming edge`);
    }
  }
}

function zeroOutputShape(x: tf.Tensor4D, stride: 1 | 2): [number, number, number, number] {
  const [n, h, w, c] = x.shape;
  return stride === 1 ? [n, h, w, c] : [n, Math.ceil(h / 2), Math.ceil(w / 2), c];
}

/**
 * Drop-path (DARTS `utils.drop_path`): each sample's value is zeroed with probability p, the kept
 * ones scaled by 1/(1 − p), so the expectation is unchanged.
 *
 * @param x The edge output `[N, H, W, C]`.
 * @param p The drop probability in (0, 1).
 * @param rng The generator of the per-sample Bernoulli mask.
 * @returns The masked tensor.
 */
export function dropPath(x: tf.Tensor4D, p: number, rng: Rng): tf.Tensor4D {
  const mask = dropMask(x.shape[0], p, rng);
  return tf.mul(x, tf.tensor4d(mask, [mask.length, 1, 1, 1]));
}

/** Per-sample drop-path factors: 0 with probability p, else 1/(1 − p). */
function dropMask(n: number, p: number, rng: Rng): Float32Array {
  const keep = 1 - p;
  return Float32Array.from({ length: n }, () => (rng.next() < keep ? 1 / keep : 0));
}

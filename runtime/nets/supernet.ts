/**
 * The search network (supernet) built from a space's IR: stacked cells whose edges are mixed
 * operations ō(x; T) = Σ_o Φ_o(α; T)·o(x), Φ = softmax(α/T) (eq. 2–3), with α per edge per cell type,
 * shared by all cells of that type. Pruning removes an op from the executed graph and disposes its
 * variables: no masking.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { recomputed } from "../kernels/recompute.ts";
import { reluNative, weightedSum } from "../kernels/custom_grad.ts";
import { weightGradientsWanted } from "../kernels/grad_scope.ts";
import type { CellType, SpaceIR, Step, StridedStep } from "../../dsl/ir.ts";
import { cellTypeOf, operationOf, stepsAt } from "../../dsl/ir.ts";
import { supernetPositions, wireStack } from "../../dsl/stack.ts";
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

/** What the network is built for. */
export interface SupernetOptions {
  /** Channels of the input images (3 for CIFAR-10, 1 for digits). */
  readonly inputChannels: number;
  readonly classes: number;
  /** Seeded source of initialisation seeds. */
  readonly nextSeed: () => number;
  /** Variable name prefix (unique per network in one tfjs engine). */
  readonly name?: string;
}

/** One edge of one placed cell: a module per candidate, null when pruned or a zero op. */
interface PlacedEdge {
  readonly ops: (Module | null)[];
}

interface PlacedCell {
  readonly type: CellType;
  /** For each input: the index of the state it reads (0 = stem output, i + 1 = cell i's output). */
  readonly sources: readonly number[];
  /** Number of reductions before this cell's nodes (its spatial size is the input's / 2^scale). */
  readonly scale: number;
  readonly channels: number;
  readonly preprocess: readonly Module[];
  readonly edges: readonly PlacedEdge[];
  readonly project: Module | null;
}

/** A mixed op's identity: a cell type's edge. */
export interface EdgeRef {
  readonly cellType: string;
  readonly edge: number;
}

function isZero(steps: readonly Step[]): boolean {
  return steps.some((s) => s.kind === "zero");
}

/** DARTS appends a non-affine batch norm to pooling ops inside mixed ops (model_search.py). */
function withPoolNorm(steps: readonly StridedStep[]): readonly StridedStep[] {
  const last = steps[steps.length - 1];
  if (last && (last.kind === "max_pool" || last.kind === "avg_pool")) {
    return [...steps, { kind: "batch_norm", affine: false, stride: 1 }];
  }
  return steps;
}

/**
 * The search network. Tensors returned by {@linkcode SearchNetwork.forward} belong to the caller
 * (call it inside `tf.tidy` or `tf.variableGrads`); {@linkcode SearchNetwork.dispose} frees the
 * variables.
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { summarize } from "../../dsl/infer.ts";
 * import { SearchNetwork } from "./supernet.ts";
 * const { ir } = compileSpace(`space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2 candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4 cells: 3 reductions: [1] }
 * }`);
 * await tf.setBackend("cpu");
 * let seed = 1;
 * const net = new SearchNetwork(ir!, { inputChannels: 3, classes: 4, nextSeed: () => seed++ });
 * try {
 *   // The built network has the weights the shape inference counts, and one α per candidate.
 *   const weights = net.weights().reduce((n, w) => n + w.size, 0);
 *   const expected = summarize(ir!, { inputSize: 8, inputChannels: 3, classes: 4 });
 *   if (weights !== expected.weightParams) throw new Error(`${weights} ≠ ${expected.weightParams}`);
 *   if (net.alpha.get("normal")?.length !== 5) throw new Error("5 edges expected");
 *   const logits = tf.tidy(() => net.forward(tf.zeros([2, 8, 8, 3]), 1.6, false));
 *   if (logits.shape.join() !== "2,4") throw new Error(String(logits.shape));
 *   logits.dispose();
 * } finally {
 *   net.dispose();
 * }
 * ```
 */
export class SearchNetwork {
  readonly ir: SpaceIR;
  /** α per cell type, one variable per edge over all of its candidates (initialised to 0, Algorithm 1). */
  readonly alpha: ReadonlyMap<string, readonly tf.Variable[]>;
  /** Indices of the candidates still alive, per cell type per edge. */
  readonly alive: ReadonlyMap<string, number[][]>;
  readonly #stem: Module;
  readonly #cells: readonly PlacedCell[];
  readonly #classifier: ReturnType<typeof linear>;
  readonly #typeCells: ReadonlyMap<string, readonly PlacedCell[]>;
  readonly #classes: number;
  /**
   * Recompute each mixed op's activations in the backward pass instead of keeping them
   * (see runtime/kernels/recompute.ts): memory for time. True: in every cell; otherwise in the cells
   * (indices in stack order) of {@linkcode recomputeCells}.
   */
  recompute = false;
  /** The cells that recompute their mixed ops when {@linkcode recompute} is false. */
  recomputeCells: ReadonlySet<number> = new Set();
  /** tfjs bytes alive at the end of the last forward pass: what backpropagation will read (telemetry). */
  forwardBytes = 0;

  constructor(ir: SpaceIR, options: SupernetOptions) {
    this.ir = ir;
    this.#classes = options.classes;
    const prefix = options.name ?? "supernet";
    const ctx = (name: string): BuildContext => ({
      name: `${prefix}/${name}`,
      affine: false,
      nextSeed: options.nextSeed,
    });
    const { supernet } = ir;
    const c0 = supernet.stemMultiplier * supernet.channels;
    this.#stem = stem(options.inputChannels, c0, { ...ctx("stem"), affine: true });

    const wired = wireStack(supernetPositions(ir), c0);
    const cells: PlacedCell[] = [];
    const typeCells = new Map<string, PlacedCell[]>();
    wired.cells.forEach(({ cellType: type, channels: c, inputs, scale }, i) => {
      const preprocess = inputs.map(({ channelsIn, halvings }, j) => {
        const name = `cell${i}/pre${j}`;
        if (halvings === 0) return reluConvBn(channelsIn, c, 1, 1, ctx(name));
        if (halvings === 1) return factorizedReduce(channelsIn, c, ctx(name));
        // An input several reductions older (cells with three or more inputs): one
        // FactorizedReduce per halving.
        return sequential(
          Array.from(
            { length: halvings },
            (_, r) => factorizedReduce(r === 0 ? channelsIn : c, c, ctx(`${name}/${r}`)),
          ),
        );
      });
      const edges = type.edges.map((edge, e) => ({
        ops: edge.candidates.map((name) => {
          const op = operationOf(ir, name);
          if (isZero(op.steps)) return null;
          return buildOperation(withPoolNorm(stepsAt(op, edge.stride)), c, ctx(`cell${i}/edge${e}/${name}`));
        }),
      }));
      const project = type.output.project
        ? reluConvBn(type.output.nodes.length * c, c, 1, 1, ctx(`cell${i}/project`))
        : null;
      const sources = inputs.map((input) => input.state);
      const cell: PlacedCell = { type, sources, scale, channels: c, preprocess, edges, project };
      cells.push(cell);
      typeCells.set(type.name, [...(typeCells.get(type.name) ?? []), cell]);
    });
    this.#cells = cells;
    this.#typeCells = typeCells;
    this.#classifier = linear(wired.channels.at(-1)!, options.classes, ctx("classifier"));

    const alpha = new Map<string, tf.Variable[]>();
    const alive = new Map<string, number[][]>();
    for (const type of new Set(supernet.cells.map((p) => p.cellType))) {
      const cell = cellTypeOf(ir, type);
      alpha.set(
        type,
        cell.edges.map((edge, e) =>
          tf.tidy(() => tf.variable(tf.zeros([edge.candidates.length]), true, `${prefix}/alpha/${type}/${e}`))
        ),
      );
      alive.set(type, cell.edges.map((edge) => edge.candidates.map((_, o) => o)));
    }
    this.alpha = alpha;
    this.alive = alive;
  }

  /** Φ(α; T) over the alive candidates of every edge of `cellType` (eq. 3). */
  phi(cellType: string, temperature: number): tf.Tensor1D[] {
    const alphas = this.alpha.get(cellType)!;
    const alive = this.alive.get(cellType)!;
    return alphas.map((a, e) =>
      tf.tidy(() => {
        const idx = alive[e]!;
        // Slices, not tf.gather: gather's gradient (UnsortedSegmentSum) is missing on wasm.
        const live = idx.length === a.shape[0] ? a : tf.concat(idx.map((o) => tf.slice(a, [o], [1])));
        return tf.softmax(tf.div(live, temperature)) as tf.Tensor1D;
      })
    );
  }

  /** Logits for a batch `x` (NHWC) at temperature T. Call inside tf.tidy or variableGrads. */
  forward(x: tf.Tensor4D, temperature: number, training: boolean): tf.Tensor2D {
    const phis = new Map<string, tf.Tensor1D[]>();
    for (const type of this.alpha.keys()) phis.set(type, this.phi(type, temperature));
    const states: tf.Tensor4D[] = [this.#stem.apply(x, training)];
    this.#cells.forEach((cell, i) => {
      const recompute = this.recompute || this.recomputeCells.has(i);
      states.push(this.#cellForward(cell, states, phis.get(cell.type.name)!, training, recompute));
    });
    const last = states[states.length - 1]!;
    const pooled = tf.mean(last, [1, 2]) as tf.Tensor2D;
    const logits = this.#classifier.apply(pooled);
    this.forwardBytes = tf.memory().numBytes;
    return logits;
  }

  #cellForward(
    cell: PlacedCell,
    states: readonly tf.Tensor4D[],
    phis: readonly tf.Tensor1D[],
    training: boolean,
    recompute: boolean,
  ) {
    const alive = this.alive.get(cell.type.name)!;
    const inputs = cell.sources.map((s, j) => cell.preprocess[j]!.apply(states[s]!, training));
    const nodes: (tf.Tensor4D | null)[] = [];
    // One scope per node: the mixed ops' outputs and partial sums are freed as soon as the node is
    // summed (what backpropagation needs of them, their kernels saved).
    cell.type.nodes.forEach((_, n) =>
      nodes.push(
        tf.tidy((): tf.Tensor4D | undefined => {
          const terms: tf.Tensor4D[] = [];
          let zeroShape: number[] | null = null;
          cell.type.edges.forEach((edge, e) => {
            if (edge.to !== n) return;
            const x = edge.from.kind === "input" ? inputs[edge.from.index]! : nodes[edge.from.index]!;
            if (!x) return;
            const ops = alive[e]!.map((o) => cell.edges[e]!.ops[o] ?? null);
            // A zero op's output is 0: it adds nothing, but its α still enters Φ's normalisation.
            if (ops.some((op) => !op)) zeroShape ??= zeroOutputShape(x, edge.stride);
            if (ops.every((op) => !op)) return;
            const phi = ops.length > 1 ? phis[e]! : null;
            if (!recompute) {
              terms.push(mixedOp(ops, x, phi, training));
              return;
            }
            // Without weight gradients (the α step) the weights are constants of the block, not inputs.
            const weights = weightGradientsWanted() ? ops.flatMap((op) => op?.weights ?? []) : [];
            const mixed = (i: tf.Tensor, p?: tf.Tensor) =>
              mixedOp(ops, i as tf.Tensor4D, (p ?? null) as tf.Tensor1D | null, training);
            terms.push(recomputed(mixed, phi ? [x, phi] : [x], weights));
          });
          return terms.length === 0
            ? (zeroShape ? tf.zeros(zeroShape) as tf.Tensor4D : undefined)
            : sum(terms);
        }) ?? null,
      )
    );
    const outs = cell.type.output.nodes.map((n) => nodes[n]);
    if (outs.some((o) => !o)) {
      throw new Error(`cell type "${cell.type.name}": an output node has no incoming edge`);
    }
    const out = outs.length === 1 ? outs[0]! : tf.concat(outs as tf.Tensor4D[], 3) as tf.Tensor4D;
    return cell.project ? cell.project.apply(out, training) : out;
  }

  /**
   * A rough size of what backpropagation keeps alive for a batch (float32 activations of every alive
   * op), to decide whether to recompute the ops' activations. Calibrated on the DARTS supernet at batch
   * 32 (native backend, live bytes at the end of the forward pass): an edge of its 8 ops keeps 17
   * tensors of the edge's output size and one of its input size (the shared ReLU), ~2.25 per op.
   */
  activationBytes(batch: number, height: number, width: number): number {
    return this.cellActivationBytes(batch, height, width).reduce((a, b) => a + b, 0);
  }

  /** {@linkcode activationBytes} cell by cell, in stack order. */
  cellActivationBytes(batch: number, height: number, width: number): number[] {
    return this.#cells.map((cell) => {
      const pixels = Math.ceil(height / 2 ** cell.scale) * Math.ceil(width / 2 ** cell.scale);
      const edges = this.alive.get(cell.type.name)!;
      const ops = edges.reduce((n, a) => n + a.length, 0);
      // sep_conv keeps 5 (its depthwise outputs, batch norms' outputs, inner ReLU), dil_conv and max
      // pooling 2, average pooling 1, skip and zero none; plus each edge's ReLU, the inputs and nodes.
      return 4 * batch * pixels * cell.channels * (2.25 * ops + edges.length + 2 + cell.type.nodes.length);
    });
  }

  /**
   * The loss on a batch and its gradients w.r.t. `wrt` (weights or α), in the order given.
   * @returns the mean cross-entropy, the number of correct predictions and the gradients
   */
  lossAndGradients(
    x: tf.Tensor4D,
    labels: tf.Tensor1D,
    temperature: number,
    wrt: readonly tf.Variable[],
  ): { loss: tf.Scalar; correct: tf.Scalar; grads: tf.Tensor[] } {
    let correct: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.forward(x, temperature, true);
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32")) as tf.Scalar);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, this.#classes), logits) as tf.Scalar;
    }, [...wrt]);
    return { loss: value, correct: correct!, grads: wrt.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
  }

  /** Every network weight w still in the graph. */
  weights(): tf.Variable[] {
    const out: tf.Variable[] = [...this.#stem.weights, ...this.#classifier.weights];
    for (const cell of this.#cells) {
      for (const m of cell.preprocess) out.push(...m.weights);
      if (cell.project) out.push(...cell.project.weights);
      for (const edge of cell.edges) for (const op of edge.ops) if (op) out.push(...op.weights);
    }
    return out;
  }

  /** Non-trainable state (batch-norm running statistics) still in the graph. */
  state(): tf.Variable[] {
    const out: tf.Variable[] = [...this.#stem.state, ...this.#classifier.state];
    for (const cell of this.#cells) {
      for (const m of cell.preprocess) out.push(...m.state);
      if (cell.project) out.push(...cell.project.state);
      for (const edge of cell.edges) for (const op of edge.ops) if (op) out.push(...op.state);
    }
    return out;
  }

  /** α variables of edges that still have a choice to make. */
  liveAlpha(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const [type, alphas] of this.alpha) {
      const alive = this.alive.get(type)!;
      alphas.forEach((a, e) => {
        if (alive[e]!.length > 1) out.push(a);
      });
    }
    return out;
  }

  /**
   * Removes candidate `candidate` from a cell type's edge in every cell of that type: its modules are
   * disposed. Returns the names of the disposed variables (so optimizers can drop their slots).
   * Refuses to prune the last op of an edge.
   */
  prune(ref: EdgeRef, candidate: number): string[] {
    const alive = this.alive.get(ref.cellType)?.[ref.edge];
    if (!alive) throw new Error(`no edge ${ref.edge} in cell type "${ref.cellType}"`);
    const at = alive.indexOf(candidate);
    if (at < 0) return [];
    if (alive.length === 1) {
      throw new Error(`refusing to prune the last op of edge ${ref.edge} of "${ref.cellType}"`);
    }
    alive.splice(at, 1);
    const names: string[] = [];
    for (const cell of this.#typeCells.get(ref.cellType) ?? []) {
      const ops = cell.edges[ref.edge]!.ops;
      const op = ops[candidate];
      if (op) {
        names.push(...op.weights.map((w) => w.name), ...op.state.map((s) => s.name));
        op.dispose();
        ops[candidate] = null;
      }
    }
    return names;
  }

  dispose(): void {
    this.#stem.dispose();
    this.#classifier.dispose();
    for (const cell of this.#cells) {
      for (const m of cell.preprocess) m.dispose();
      cell.project?.dispose();
      for (const edge of cell.edges) for (const op of edge.ops) op?.dispose();
    }
    for (const alphas of this.alpha.values()) for (const a of alphas) a.dispose();
  }
}

/**
 * ō(x) = Σ_o Φ_o·o(x) over the alive ops (eq. 2); zero ops (null) add nothing; no Φ for a single op.
 * One ReLU of x serves every candidate that starts with one, and the weighted sum is one kernel
 * (weightedSum in runtime/kernels/custom_grad.ts).
 */
function mixedOp(
  ops: readonly (Module | null)[],
  x: tf.Tensor4D,
  phi: tf.Tensor1D | null,
  training: boolean,
): tf.Tensor4D {
  let relu: tf.Tensor4D | null = null;
  const terms: tf.Tensor4D[] = [];
  const at: number[] = [];
  ops.forEach((op, k) => {
    if (!op) return;
    if (op.afterRelu) {
      relu ??= reluNative(x);
      terms.push(op.afterRelu(relu, training));
    } else {
      terms.push(op.apply(x, training));
    }
    at.push(k);
  });
  if (!phi) return sum(terms);
  return weightedSum(terms, phi, at);
}

function zeroOutputShape(x: tf.Tensor4D, stride: 1 | 2): number[] {
  const [n, h, w, c] = x.shape;
  return stride === 1 ? [n, h, w, c] : [n, Math.ceil(h / 2), Math.ceil(w / 2), c];
}

/** Sum of tensors by pairwise adds (tf.addN with many inputs is wrong on some WebGPU devices). */
function sum(terms: readonly tf.Tensor4D[]): tf.Tensor4D {
  let acc = terms[0]!;
  for (let i = 1; i < terms.length; i++) acc = tf.add(acc, terms[i]!);
  return acc;
}

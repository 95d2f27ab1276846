/**
 * The PyTorch peer of `deno task bench`: runs `runtime/cli/peer_torch.py` (the same DARTS supernet and
 * first-order step in PyTorch, or with an {@linkcode EvaluationSpec} the same evaluation network and
 * training step) as a subprocess, reads its JSON, and compares it with ours.
 *
 * @module
 */
import type { GenotypeCell, SpaceIR, StridedStep } from "../../dsl/ir.ts";
import { cellTypeOf, operationOf, stepsAt } from "../../dsl/ir.ts";
import { evaluationCellTypes, evaluationStack } from "../../dsl/stack.ts";

/** One configuration as the peer measured it. */
export interface PeerResult {
  readonly name: string;
  readonly opsPerEdge: number;
  readonly stepMs: number;
  /** Process CPU time per step (all threads). */
  readonly cpuMs: number;
  /** The peer process's resident high-water mark at the end of this configuration (getrusage). */
  readonly peakRssBytes: number;
  readonly peakCudaBytes?: number;
}

/** What one run of the peer reports. */
export interface PeerReport {
  readonly peer: "pytorch";
  readonly torch: string;
  readonly device: string;
  readonly threads: number;
  readonly batch: number;
  readonly memoryFormat: string;
  readonly weightParams: number;
  readonly results: readonly PeerResult[];
  /** The interpreter that ran it. */
  readonly python: string;
}

/** How to run the peer. */
export interface PeerOptions {
  readonly batch: number;
  readonly steps: number;
  readonly threads: number;
  readonly keep: string;
  /** `cpu` or `cuda`. */
  readonly device: string;
  /** `channels_last` or `contiguous`. */
  readonly memoryFormat: string;
  /** Interpreters to try in order; the first that has torch runs the peer. */
  readonly pythons: readonly string[];
  /** Only print the weight count. */
  readonly paramsOnly?: boolean;
  /** Time one configuration only: all ops, or one op per edge. */
  readonly only?: "all" | "one";
  /** Time this evaluation network's training step instead of the supernet (sent on the peer's stdin). */
  readonly evaluation?: EvaluationSpec;
}

/** One cell type of an {@linkcode EvaluationSpec}, in DARTS' numbering. */
export interface EvaluationCellSpec {
  readonly nodes: number;
  /** The nodes concatenated into the cell's output. */
  readonly concat: readonly number[];
  /** Each kept edge: `from` 0 = prev_prev, 1 = prev, 2 + n = node n; its op as strided steps. */
  readonly edges: readonly {
    readonly from: number;
    readonly to: number;
    readonly steps: readonly StridedStep[];
  }[];
}

/** What the peer needs to build an evaluation network and its training step (peer_torch_eval.py). */
export interface EvaluationSpec {
  readonly name: string;
  readonly channels: number;
  readonly stemMultiplier: number;
  readonly cells: number;
  readonly reductions: readonly number[];
  readonly auxiliary: boolean;
  readonly auxiliaryAfter: number;
  readonly auxiliaryWeight: number;
  readonly dropPath: number;
  readonly labelSmoothing: number;
  readonly inputChannels: number;
  readonly imageSize: number;
  readonly classes: number;
  readonly sgd: {
    readonly lr: number;
    readonly momentum: number;
    readonly weightDecay: number;
    readonly nesterov: boolean;
    readonly gradClip: number;
  };
  readonly normal: EvaluationCellSpec;
  readonly reduction: EvaluationCellSpec;
}

/** How the evaluation network of a spec is sized and trained (defaults: the space's `evaluate` block). */
export interface EvaluationSpecOptions {
  readonly name: string;
  readonly inputChannels: number;
  readonly imageSize: number;
  readonly classes: number;
  readonly channels?: number;
  readonly cells?: number;
  readonly auxiliary?: boolean;
  /** The drop-path probability of the timed step (train.ts ramps it; the bench fixes it). */
  readonly dropPath: number;
}

/**
 * The peer's description of the evaluation network that runtime/nets/evaluation_network.ts builds from
 * `cells`: DARTS-style cell types only (two inputs, the nodes concatenated, no output projection).
 *
 * @param ir The space the cells were found in.
 * @param cells The found cells.
 * @param options Name, input, and the overrides the bench uses.
 * @returns The spec, plain JSON data.
 * @throws {Error} When a cell type is not DARTS-style, or a found cell misses one the stack needs.
 * @example
 * ```ts
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { fixedCells } from "../../dsl/ir.ts";
 * import { evaluationSpec } from "./_bench_peer.ts";
 * const text = await Deno.readTextFile(new URL("../../spaces/darts_v2.space", import.meta.url));
 * const { ir } = compileSpace(text);
 * const fixed = fixedCells(ir!);
 * if (!("cells" in fixed)) throw new Error("darts_v2.space holds found cells");
 * const spec = evaluationSpec(ir!, fixed.cells, {
 *   name: "darts_v2", inputChannels: 3, imageSize: 32, classes: 10, dropPath: 0.2,
 * });
 * // 20 cells, the head after the second reduction (cell 13), 8 edges per cell type.
 * if (spec.cells !== 20 || spec.auxiliaryAfter !== 13 || spec.normal.edges.length !== 8) {
 *   throw new Error(JSON.stringify(spec));
 * }
 * ```
 */
export function evaluationSpec(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
  options: EvaluationSpecOptions,
): EvaluationSpec {
  const stack = evaluationStack(ir, {
    ...(options.channels === undefined ? {} : { channels: options.channels }),
    ...(options.cells === undefined ? {} : { cells: options.cells }),
  });
  const types = evaluationCellTypes(ir, stack.positions.length, stack.reductions);
  const cellSpec = (name: string | undefined): EvaluationCellSpec => {
    const type = cellTypeOf(ir, name ?? types[0]!);
    if (type.inputs.length !== 2 || type.output.project) {
      throw new Error(
        `the PyTorch peer builds DARTS-style cells (two inputs, concatenated nodes), not cell type "${type.name}"`,
      );
    }
    const found = cells.find((c) => c.cellType === type.name);
    if (!found) throw new Error(`the found cells have no cell of type "${type.name}"`);
    return {
      nodes: type.nodes.length,
      concat: [...type.output.nodes],
      edges: found.edges.map((g) => {
        const searched = type.edges.find((e) =>
          e.from.kind === g.from.kind && e.from.index === g.from.index && e.to === g.to
        );
        if (!searched) throw new Error(`cell type "${type.name}" has no edge into node ${g.to} like ${g.op}`);
        return {
          from: g.from.kind === "input" ? g.from.index : 2 + g.from.index,
          to: g.to,
          steps: stepsAt(operationOf(ir, g.op), searched.stride),
        };
      }),
    };
  };
  const e = ir.evaluate;
  const reductionType = types.find((_, i) => stack.reductions.includes(i));
  const normalType = types.find((_, i) => !stack.reductions.includes(i));
  return {
    name: options.name,
    channels: stack.channels,
    stemMultiplier: ir.supernet.stemMultiplier,
    cells: stack.positions.length,
    reductions: [...stack.reductions],
    auxiliary: options.auxiliary ?? e.auxiliaryWeight > 0,
    auxiliaryAfter: stack.auxiliaryAfter,
    auxiliaryWeight: e.auxiliaryWeight,
    dropPath: options.dropPath,
    labelSmoothing: e.labelSmoothing,
    inputChannels: options.inputChannels,
    imageSize: options.imageSize,
    classes: options.classes,
    sgd: {
      lr: e.weightOptimizer.lr,
      momentum: e.weightOptimizer.momentum,
      weightDecay: e.weightOptimizer.weightDecay,
      nesterov: e.weightOptimizer.nesterov,
      gradClip: e.weightOptimizer.gradClip,
    },
    normal: cellSpec(normalType),
    reduction: cellSpec(reductionType ?? normalType),
  };
}

/** Interpreters tried when none is given: PATH's python3, then Debian's (which python3-torch serves). */
export const DEFAULT_PYTHONS = ["python3", "/usr/bin/python3"] as const;

/** The peer's exit code when its interpreter has no torch (peer_torch.py). */
const NO_TORCH = 3;

/** Path of peer_torch.py next to this module (the bench runs from a checkout, not from a URL). */
export function peerScript(): string {
  const url = new URL("./peer_torch.py", import.meta.url);
  if (url.protocol !== "file:") {
    throw new Error(`--peer needs a local checkout: peer_torch.py is at ${url.href}`);
  }
  return url.pathname;
}

/**
 * Runs the peer and returns its report.
 *
 * @param options Batch, steps, threads and the interpreters to try.
 * @returns The report, with the interpreter that produced it.
 * @throws {Error} With the peer's own message when no interpreter has torch or the peer fails.
 */
export async function runPeer(options: PeerOptions): Promise<PeerReport> {
  const args = [
    peerScript(),
    ...(options.paramsOnly ? ["--params-only"] : []),
    ...(options.only ? [`--only=${options.only}`] : []),
    ...(options.evaluation ? ["--eval=-"] : []),
    `--batch=${options.batch}`,
    `--steps=${options.steps}`,
    `--threads=${options.threads}`,
    `--keep=${options.keep}`,
    `--device=${options.device}`,
    `--memory-format=${options.memoryFormat}`,
  ];
  const failures: string[] = [];
  for (const python of options.pythons) {
    let out: Deno.CommandOutput;
    try {
      const child = new Deno.Command(python, {
        args,
        stdin: options.evaluation ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (options.evaluation) {
        const writer = child.stdin.getWriter();
        try {
          await writer.write(new TextEncoder().encode(JSON.stringify(options.evaluation)));
          await writer.close();
        } catch {
          // An interpreter without torch exits before reading: its exit code says so below.
        }
      }
      out = await child.output();
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        failures.push(`${python}: not allowed (run with --allow-run=${python})`);
      } else if (e instanceof Deno.errors.NotFound) failures.push(`${python}: not found`);
      else throw e;
      continue;
    }
    const stderr = new TextDecoder().decode(out.stderr).trim();
    if (out.code === NO_TORCH) {
      failures.push(stderr || `${python}: no torch`);
      continue;
    }
    if (out.code !== 0) throw new Error(`the PyTorch peer failed (${python}, exit ${out.code}):\n${stderr}`);
    return { ...parsePeerReport(new TextDecoder().decode(out.stdout)), python };
  }
  throw new Error(`no Python with torch for the peer:\n  ${failures.join("\n  ")}`);
}

/**
 * Parses and checks the peer's JSON line.
 *
 * @param stdout What peer_torch.py printed.
 * @returns The report (without `python`).
 * @throws {Error} Saying which field is missing or wrong.
 */
export function parsePeerReport(stdout: string): Omit<PeerReport, "python"> {
  let value: unknown;
  try {
    value = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    throw new Error(`the PyTorch peer printed no JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const r = value as Record<string, unknown>;
  for (const key of ["threads", "batch", "weightParams"]) {
    if (typeof r?.[key] !== "number") throw new Error(`the PyTorch peer's JSON has no number "${key}"`);
  }
  if (!Array.isArray(r.results)) throw new Error(`the PyTorch peer's JSON has no "results" list`);
  for (const [i, res] of (r.results as Record<string, unknown>[]).entries()) {
    for (const key of ["opsPerEdge", "stepMs", "cpuMs", "peakRssBytes"]) {
      if (typeof res[key] !== "number") {
        throw new Error(`the PyTorch peer's result ${i} has no number "${key}"`);
      }
    }
  }
  return value as Omit<PeerReport, "python">;
}

/** One of our configurations, as far as a comparison needs. */
export interface OursResult {
  readonly name: string;
  readonly opsPerEdge: number;
  readonly stepMs: number;
  readonly cpuMs: number;
  readonly peakRssBytes: number;
}

/** Ours ÷ the peer's, for one configuration (> 1: we are slower or bigger). */
export interface Ratio {
  readonly opsPerEdge: number;
  readonly peerThreads: number;
  readonly time: number;
  readonly cpu: number;
  readonly peakRss: number;
}

/**
 * Pairs our configurations with the peer's by ops per edge and divides.
 *
 * @param ours Our supernet configurations (others, e.g. the evaluation network, are skipped).
 * @param peer The peer's report from the same run.
 * @returns One ratio per configuration both measured.
 * @example
 * ```ts
 * import { ratios } from "./_bench_peer.ts";
 * const r = ratios(
 *   [{ name: "all", opsPerEdge: 8, stepMs: 20_000, cpuMs: 20_000, peakRssBytes: 2e9 }],
 *   { threads: 2, results: [{ name: "all", opsPerEdge: 8, stepMs: 5_000, cpuMs: 9_000, peakRssBytes: 1e9 }] },
 * );
 * if (!(r[0]!.time === 4 && r[0]!.peakRss === 2)) throw new Error("the example's claim does not hold");
 * ```
 */
export function ratios(
  ours: readonly OursResult[],
  peer: Pick<PeerReport, "threads" | "results">,
): Ratio[] {
  const out: Ratio[] = [];
  for (const o of ours) {
    const p = peer.results.find((r) => r.opsPerEdge === o.opsPerEdge);
    if (!p) continue;
    out.push({
      opsPerEdge: o.opsPerEdge,
      peerThreads: peer.threads,
      time: o.stepMs / p.stepMs,
      cpu: o.cpuMs / p.cpuMs,
      peakRss: o.peakRssBytes / p.peakRssBytes,
    });
  }
  return out;
}

/** One round of a paired measurement: our all-ops step and the peer's, timed one right after the other. */
export interface PairedRound {
  readonly oursMs: number;
  readonly peerMs: number;
  readonly ratio: number;
}

/**
 * The median of the rounds' ratios: on a host whose speed drifts (here by ±30% within minutes), pairs
 * timed back to back compare like with like, and the median ignores a round that a burst of other work
 * hit.
 *
 * @param rounds At least one round.
 * @returns The median ratio (the mean of the middle two for an even count).
 * @example
 * ```ts
 * import { medianRatio } from "./_bench_peer.ts";
 * const r = (oursMs: number, peerMs: number) => ({ oursMs, peerMs, ratio: oursMs / peerMs });
 * if (medianRatio([r(6, 5), r(9, 5), r(5, 5)]) !== 1.2) throw new Error("the example's claim does not hold");
 * ```
 */
export function medianRatio(rounds: readonly PairedRound[]): number {
  if (rounds.length === 0) throw new Error("medianRatio: no rounds");
  const sorted = rounds.map((r) => r.ratio).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

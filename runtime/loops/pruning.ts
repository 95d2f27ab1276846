/**
 * The pruning policies, one per search algorithm: ASAP's threshold rule (Algorithm 1 lines 7–8),
 * section 4.4's two baselines that prune to the sparsity s_t of eq. 13 at epoch ends (weakest by
 * Φ, or by the accumulated |∂L/∂α|), and DARTS, which prunes nothing. Each policy is a pure function
 * from plain data (Φ of the alive ops, the alive sets, θ, the accumulated gradients) to the ops to
 * remove; the search loop carries them out.
 *
 * @module
 */
import type { Algorithm, SpaceIR } from "../../dsl/ir.ts";
import { cellTypeOf } from "../../dsl/ir.ts";
import { sparsityAt } from "./schedules.ts";

/** One op to remove: a candidate of a cell type's edge, with its Φ at the time. */
export interface PruneDecision {
  readonly cellType: string;
  readonly edge: number;
  /** Index into the edge's candidates. */
  readonly candidate: number;
  readonly phi: number;
}

/** What a policy sees. */
export interface PruningState {
  readonly ir: SpaceIR;
  /** Φ over each edge's alive candidates (in the order of `alive`), per cell type. */
  readonly phis: ReadonlyMap<string, readonly (readonly number[])[]>;
  /** Indices of each edge's alive candidates, per cell type. */
  readonly alive: ReadonlyMap<string, readonly (readonly number[])[]>;
  /** θ for a mixed op with this many candidates, at the current schedule position. */
  readonly threshold: (candidates: number) => number;
  /** The current epoch (0-based); at an epoch's end, the epoch that ends. */
  readonly epoch: number;
  /** Σ_t |∂L/∂α| per cell type, edge and candidate (the accumulated-gradient baseline). */
  readonly accumulated: ReadonlyMap<string, readonly (readonly number[])[]>;
}

/** How one algorithm prunes. */
export interface PruningPolicy {
  /** Whether the search stops as soon as every mixed op has one op left. */
  readonly stopsWhenConverged: boolean;
  /** Whether the search must accumulate |∂L/∂α| for {@linkcode PruningState.accumulated}. */
  readonly accumulatesGradients: boolean;
  /** The ops to prune after an α step; null: this algorithm never prunes then. */
  readonly afterAlphaStep: Decide | null;
  /** The ops to prune when an epoch ends; null: this algorithm never prunes then. */
  readonly atEpochEnd: Decide | null;
}

/** A pruning rule: the ops to remove, given what the policy sees. */
export type Decide = (state: PruningState) => PruneDecision[];

/**
 * ASAP (Algorithm 1 lines 7–8): every op whose Φ is below θ goes, never an edge's strongest (so
 * never its last).
 *
 * @param state What the policy sees.
 * @returns The ops to prune.
 * @example
 * ```ts
 * import { belowThreshold } from "./pruning.ts";
 * import type { SpaceIR } from "../../dsl/ir.ts";
 * const ir = { cellTypes: [{ name: "normal", edges: [{ candidates: ["a", "b", "c"] }] }] } as unknown as SpaceIR;
 * const pruned = belowThreshold({
 *   ir,
 *   phis: new Map([["normal", [[0.7, 0.25, 0.05]]]]),
 *   alive: new Map([["normal", [[0, 1, 2]]]]),
 *   threshold: (n) => 0.4 / n,
 *   epoch: 3,
 *   accumulated: new Map(),
 * });
 * if (pruned.length !== 1 || pruned[0]!.candidate !== 2) throw new Error("only Φ = 0.05 < 0.133 goes");
 * ```
 */
export function belowThreshold(state: PruningState): PruneDecision[] {
  const out: PruneDecision[] = [];
  for (const [cellType, rows] of state.phis) {
    const cell = cellTypeOf(state.ir, cellType);
    const alive = state.alive.get(cellType)!;
    rows.forEach((phi, edge) => {
      if (alive[edge]!.length <= 1) return;
      const theta = state.threshold(cell.edges[edge]!.candidates.length);
      const best = phi.indexOf(Math.max(...phi));
      alive[edge]!.forEach((candidate, k) => {
        if (k !== best && phi[k]! < theta) out.push({ cellType, edge, candidate, phi: phi[k]! });
      });
    });
  }
  return out;
}

/**
 * Section 4.4's baselines: prune the weakest ops of each cell type until the pruned fraction of its
 * prunable ops (all but one per edge) reaches s_t (eq. 13) for the epoch that ends; weakest by a
 * score, never an edge's last op.
 *
 * @param state What the policy sees.
 * @param score The score of an alive candidate (lower goes first).
 * @returns The ops to prune.
 */
export function toSparsity(
  state: PruningState,
  score: (cellType: string, edge: number, candidate: number, phi: number) => number,
): PruneDecision[] {
  const schedule = state.ir.search.sparsity;
  if (!schedule) return [];
  const target = sparsityAt(schedule, state.epoch + 1);
  const out: PruneDecision[] = [];
  for (const [cellType, rows] of state.phis) {
    const alive = state.alive.get(cellType)!;
    const cell = cellTypeOf(state.ir, cellType);
    const total = cell.edges.reduce((n, e) => n + e.candidates.length - 1, 0);
    const pruned = cell.edges.reduce((n, e, i) => n + e.candidates.length - alive[i]!.length, 0);
    let left = Math.min(total, Math.round(target * total)) - pruned;
    const remaining = alive.map((a) => a.length);
    const scored = rows.flatMap((phi, edge) =>
      alive[edge]!.map((candidate, k) => ({
        edge,
        candidate,
        phi: phi[k]!,
        score: score(cellType, edge, candidate, phi[k]!),
      }))
    ).sort((a, b) => a.score - b.score);
    for (const s of scored) {
      if (left <= 0) break;
      if (remaining[s.edge]! <= 1) continue;
      out.push({ cellType, edge: s.edge, candidate: s.candidate, phi: s.phi });
      remaining[s.edge]! -= 1;
      left -= 1;
    }
  }
  return out;
}

/** The policy of each search algorithm. */
export const PRUNING_POLICIES: Readonly<Record<Algorithm, PruningPolicy>> = {
  asap: {
    stopsWhenConverged: true,
    accumulatesGradients: false,
    afterAlphaStep: belowThreshold,
    atEpochEnd: null,
  },
  // DARTS (T = 1, no pruning) trains every op for all its epochs, then derives the cell.
  darts: { stopsWhenConverged: false, accumulatesGradients: false, afterAlphaStep: null, atEpochEnd: null },
  magnitude: {
    stopsWhenConverged: true,
    accumulatesGradients: false,
    afterAlphaStep: null,
    atEpochEnd: (state) => toSparsity(state, (_type, _edge, _candidate, phi) => phi),
  },
  accumulated_gradient: {
    stopsWhenConverged: true,
    accumulatesGradients: true,
    afterAlphaStep: null,
    atEpochEnd: (state) =>
      toSparsity(state, (type, edge, candidate) => state.accumulated.get(type)![edge]![candidate]!),
  },
};

// The pruning policies (runtime/loops/pruning.ts) on plain data: what each algorithm removes.
import { assert } from "./deps.ts";
import type { SpaceIR, SparsitySchedule } from "../dsl/ir.ts";
import { belowThreshold, PRUNING_POLICIES, type PruningState, toSparsity } from "../runtime/loops/pruning.ts";

/** A space of one cell type with edges of the given candidate counts (only what pruning reads). */
function space(candidates: number[], sparsity: SparsitySchedule | null = null): SpaceIR {
  return {
    cellTypes: [{
      name: "normal",
      edges: candidates.map((n) => ({ candidates: Array.from({ length: n }, (_, o) => `op${o}`) })),
    }],
    search: { sparsity },
  } as unknown as SpaceIR;
}

function state(
  ir: SpaceIR,
  phis: number[][],
  alive: number[][],
  epoch = 0,
  accumulated: number[][] = [],
): PruningState {
  return {
    ir,
    phis: new Map([["normal", phis]]),
    alive: new Map([["normal", alive]]),
    threshold: (n) => 0.4 / n,
    epoch,
    accumulated: new Map([["normal", accumulated]]),
  };
}

Deno.test("belowThreshold() prunes every op under θ but never an edge's strongest or last", () => {
  const ir = space([4, 4, 4]);
  const pruned = belowThreshold(
    state(ir, [[0.05, 0.05, 0.05, 0.85], [0.04, 0.96], [1]], [[0, 1, 2, 3], [1, 3], [2]]),
  );
  // θ = 0.1: edge 0 loses ops 0–2, edge 1 loses op 1 (Φ 0.04), edge 2 keeps its last op.
  assert.deepEqual(pruned.map((d) => [d.edge, d.candidate]), [[0, 0], [0, 1], [0, 2], [1, 1]]);
  // All below θ (a flat Φ at 4 candidates with θ above 1/4 would empty the edge): the strongest stays.
  const flat = belowThreshold({
    ...state(ir, [[0.25, 0.25, 0.25, 0.25]], [[0, 1, 2, 3]]),
    threshold: () => 0.3,
  });
  assert.equal(flat.length, 3);
});

Deno.test("toSparsity() prunes the lowest scores to s_t of eq. 13 and keeps one op per edge", () => {
  // Reaches s_f = 1 (every prunable op) at epoch 1: one op per edge is left.
  const schedule = { initial: 0, final: 1, start: 0, interval: 1, steps: 1, power: 1 };
  const ir = space([3, 3], schedule);
  const phis = [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]];
  const pruned = toSparsity(state(ir, phis, [[0, 1, 2], [0, 1, 2]], 0), (_t, _e, _c, phi) => phi);
  assert.deepEqual(pruned.map((d) => [d.edge, d.candidate]).sort(), [[0, 1], [0, 2], [1, 0], [1, 1]]);
  // Half-way (s = 0.5 of the 4 prunable ops): the two lowest Φ overall, whichever edge they are on.
  const half = { ...schedule, final: 0.5 };
  const two = toSparsity(
    state(space([3, 3], half), phis, [[0, 1, 2], [0, 1, 2]], 0),
    (_t, _e, _c, phi) => phi,
  );
  assert.deepEqual(two.map((d) => [d.edge, d.candidate]).sort(), [[1, 0], [1, 1]]);
});

Deno.test("PRUNING_POLICIES: DARTS never prunes and runs on; the baselines prune at epoch ends by Φ or Σ|∂L/∂α|", () => {
  assert.equal(PRUNING_POLICIES.darts.afterAlphaStep, null);
  assert.equal(PRUNING_POLICIES.darts.atEpochEnd, null);
  assert.equal(PRUNING_POLICIES.darts.stopsWhenConverged, false);
  assert.equal(PRUNING_POLICIES.asap.afterAlphaStep, belowThreshold);
  assert.equal(PRUNING_POLICIES.accumulated_gradient.accumulatesGradients, true);
  const schedule = { initial: 0, final: 1, start: 0, interval: 1, steps: 1, power: 1 };
  const ir = space([2], schedule);
  // Φ says prune op 0, the accumulated gradient says prune op 1.
  const s = state(ir, [[0.4, 0.6]], [[0, 1]], 0, [[5, 1]]);
  assert.deepEqual(PRUNING_POLICIES.magnitude.atEpochEnd!(s).map((d) => d.candidate), [0]);
  assert.deepEqual(PRUNING_POLICIES.accumulated_gradient.atEpochEnd!(s).map((d) => d.candidate), [1]);
});

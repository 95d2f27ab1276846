/**
 * Turning searched mixed ops into the final cell, per the cell type's derivation rule: one op per
 * edge (ASAP, Algorithm 1 line 14) or the top-k incoming edges per node (DARTS).
 *
 * @module
 */
import type { CellType, GenotypeCell, GenotypeEdge } from "../../dsl/ir.ts";

/**
 * Derives one cell type's final cell.
 * @param cell the cell type
 * @param phi Φ per edge over that edge's alive candidates (same order as `alive`)
 * @param alive indices of the alive candidates per edge
 * @returns the kept edges, each with its strongest op
 * @example
 * ```ts ignore
 * deriveCell(normal, [[0.7, 0.3]], [[0, 2]]); // edge 0 keeps candidates[0]
 * ```
 */
export function deriveCell(
  cell: CellType,
  phi: readonly (readonly number[])[],
  alive: readonly (readonly number[])[],
): GenotypeCell {
  const rule = cell.derive;
  const exclude = new Set(rule.kind === "top_k" ? rule.exclude : []);
  const strongest = cell.edges.map((edge, e) => {
    let best = -1;
    let weight = -Infinity;
    alive[e]!.forEach((o, k) => {
      const w = phi[e]![k]!;
      if (exclude.has(edge.candidates[o]!) && alive[e]!.length > 1) return;
      if (w > weight) [best, weight] = [o, w];
    });
    return { op: edge.candidates[best]!, weight };
  });
  const keep = (e: number): GenotypeEdge => {
    const edge = cell.edges[e]!;
    return { from: edge.from, to: edge.to, op: strongest[e]!.op };
  };
  if (rule.kind === "one_op_per_edge") {
    return { cellType: cell.name, edges: cell.edges.map((_, e) => keep(e)) };
  }
  const edges: GenotypeEdge[] = [];
  cell.nodes.forEach((_, n) => {
    const incoming = cell.edges.map((edge, e) => ({ edge, e })).filter(({ edge }) => edge.to === n);
    incoming.sort((a, b) => strongest[b.e]!.weight - strongest[a.e]!.weight);
    const kept = incoming.slice(0, rule.k).map(({ e }) => e).sort((a, b) => a - b);
    for (const e of kept) edges.push(keep(e));
  });
  return { cellType: cell.name, edges };
}

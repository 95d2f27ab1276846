/**
 * Turning searched mixed ops into the final cell, per the cell type's derivation rule: one op per
 * edge (ASAP, Algorithm 1 line 14) or the top-k incoming edges per node (DARTS).
 *
 * @module
 */
import type { CellType, GenotypeCell, GenotypeEdge } from "../../dsl/ir.ts";
import type { Rng } from "../core/rng.ts";

/**
 * How strongly each edge holds its strongest op, for ranking a node's incoming edges under `top_k`:
 * log Φ of that op over **all** the edge's candidates, pruned ones included with their α as it was
 * when they left (an edge whose last op beat its rivals by a wide margin ranks first). For DARTS,
 * where nothing is pruned, this orders edges as DARTS' genotype() does (by the largest Φ); for ASAP,
 * whose edges all end with one op at Φ = 1 among the alive, it is what tells the edges apart.
 * Computed in log space, so that low temperatures do not round every edge to 1.
 *
 * @param cell the cell type
 * @param alpha α per edge over all of the edge's candidates
 * @param alive indices of the alive candidates per edge
 * @param temperature T of Φ = softmax(α / T)
 * @returns one strength per edge (≤ 0)
 * @example
 * ```ts ignore
 * edgeStrengths(normal, [[2, 0], [0, 0]], [[0], [0, 1]], 1); // edge 0 ranks above edge 1
 * ```
 */
export function edgeStrengths(
  cell: CellType,
  alpha: readonly (readonly number[])[],
  alive: readonly (readonly number[])[],
  temperature: number,
): number[] {
  const rule = cell.derive;
  const exclude = new Set(rule.kind === "top_k" ? rule.exclude : []);
  return cell.edges.map((edge, e) => {
    const a = alpha[e]!.map((v) => v / temperature);
    const max = Math.max(...a);
    const logSum = max + Math.log(a.reduce((s, v) => s + Math.exp(v - max), 0));
    const eligible = alive[e]!.filter((o) => !exclude.has(edge.candidates[o]!) || alive[e]!.length === 1);
    return Math.max(...eligible.map((o) => a[o]! - logSum));
  });
}

/**
 * Derives one cell type's final cell.
 * @param cell the cell type
 * @param phi Φ per edge over that edge's alive candidates (same order as `alive`)
 * @param alive indices of the alive candidates per edge
 * @param strength how `top_k` ranks a node's incoming edges (default: the strongest op's Φ among
 *   the alive; see {@linkcode edgeStrengths})
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
  strength?: readonly number[],
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
    const rank = (e: number) => strength?.[e] ?? strongest[e]!.weight;
    incoming.sort((a, b) => rank(b.e) - rank(a.e));
    const kept = incoming.slice(0, rule.k).map(({ e }) => e).sort((a, b) => a - b);
    for (const e of kept) edges.push(keep(e));
  });
  return { cellType: cell.name, edges };
}

/**
 * A uniformly random final cell of a cell type (the `random` baseline of `deno task compare`): each
 * edge a uniformly drawn candidate (those `derive` excludes left out, unless nothing else is left),
 * then, under `top_k(k)`, k incoming edges per node drawn uniformly without replacement.
 *
 * @param cell the cell type
 * @param rng the generator
 * @returns the kept edges
 * @example
 * ```ts ignore
 * randomCell(normal, new Rng(0)); // a seeded random normal cell
 * ```
 */
export function randomCell(cell: CellType, rng: Rng): GenotypeCell {
  const rule = cell.derive;
  const exclude = new Set(rule.kind === "top_k" ? rule.exclude : []);
  const ops = cell.edges.map((edge) => {
    const allowed = edge.candidates.filter((c) => !exclude.has(c));
    const from = allowed.length > 0 ? allowed : edge.candidates;
    return from[rng.int(from.length)]!;
  });
  const keep = (e: number): GenotypeEdge => ({
    from: cell.edges[e]!.from,
    to: cell.edges[e]!.to,
    op: ops[e]!,
  });
  if (rule.kind === "one_op_per_edge") {
    return {
      cellType: cell.name,
      edges: cell.edges.map((_, e) => keep(e)),
    };
  }
  const edges: GenotypeEdge[] = [];
  cell.nodes.forEach((_, n) => {
    const incoming = cell.edges.map((edge, e) => ({ edge, e })).filter(({ edge }) => edge.to === n).map((
      { e },
    ) => e);
    rng.shuffle(incoming);
    for (const e of incoming.slice(0, rule.k).sort((a, b) => a - b)) edges.push(keep(e));
  });
  return { cellType: cell.name, edges };
}

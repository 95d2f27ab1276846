/**
 * What a ground-truth table says: per architecture the mean over seeds, the spread between
 * architectures against seed noise, and a found cell's standing (accuracy, rank percentile, regret).
 *
 * @module
 */

import { mean, std } from "../core/stats.ts";
import type { GroundTruthTable, TableArchitecture, TableRun } from "./table_file.ts";

/** An architecture's means over its seeds. */
export interface ArchitectureScore {
  readonly index: number;
  readonly key: string;
  readonly parameters: number;
  readonly seeds: number;
  readonly testAccuracy: number;
  readonly testStd: number;
  readonly valAccuracy: number;
  readonly reducedValAccuracy: number;
  readonly trainSeconds: number;
  readonly reducedTrainSeconds: number;
}

/**
 * Every architecture's means over its seeds.
 *
 * @param table The table.
 * @returns One score per architecture with at least one run, in the table's order.
 */
export function scores(table: GroundTruthTable): ArchitectureScore[] {
  return table.architectures.filter((a) => a.runs.length > 0).map((arch: TableArchitecture) => {
    const of = (f: (r: TableRun) => number) => mean(arch.runs.map(f));
    return {
      index: arch.index,
      key: arch.key,
      parameters: arch.parameters,
      seeds: arch.runs.length,
      testAccuracy: of((r) => r.testAccuracy),
      testStd: std(arch.runs.map((r) => r.testAccuracy)),
      valAccuracy: of((r) => r.valAccuracy),
      reducedValAccuracy: of((r) => r.reducedValAccuracy),
      trainSeconds: of((r) => r.trainSeconds),
      reducedTrainSeconds: of((r) => r.reducedTrainSeconds),
    };
  });
}

/** The spread between architectures against seed noise. */
export interface TableSpread {
  readonly architectures: number;
  readonly runs: number;
  /** Architectures with every seed the table has at most. */
  readonly complete: number;
  readonly best: ArchitectureScore;
  readonly median: number;
  readonly worst: ArchitectureScore;
  /** Mean over architectures of the std of test accuracy over seeds. */
  readonly meanSeedStd: number;
  /** Share of architecture pairs whose mean test accuracies differ by more than 2 × meanSeedStd. */
  readonly separated: number;
  /** Mean training seconds per run. */
  readonly meanTrainSeconds: number;
}

/** The median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The spread of a table.
 *
 * @param table The table (at least one run).
 * @returns Best, median, worst, seed noise and the share of separated pairs.
 * @example
 * ```ts
 * import { spread } from "./stats.ts";
 * const run = (seed: number, acc: number) => ({ seed, valAccuracy: acc, testAccuracy: acc,
 *   reducedValAccuracy: acc, reducedTestAccuracy: acc, trainSeconds: 1, reducedTrainSeconds: 0.3 });
 * const arch = (index: number, accs: number[]) => ({ index, key: `a${index}`, parameters: 1,
 *   runs: accs.map((a, s) => run(s, a)) });
 * const table = { architectures: [arch(0, [0.5, 0.52]), arch(1, [0.8, 0.82]), arch(2, [0.81, 0.79])] };
 * const s = spread(table as never);
 * // Pairs (0,1) and (0,2) differ by 0.3 > 2 × 0.0141; (1,2) by 0.01 does not.
 * if (Math.abs(s.separated - 2 / 3) > 1e-9 || s.best.index !== 1) throw new Error(JSON.stringify(s));
 * ```
 */
export function spread(table: GroundTruthTable): TableSpread {
  const all = scores(table);
  if (all.length === 0) throw new Error("the table has no runs");
  const sorted = [...all].sort((a, b) => b.testAccuracy - a.testAccuracy);
  const maxSeeds = Math.max(...all.map((a) => a.seeds));
  const noise = mean(all.filter((a) => a.seeds > 1).map((a) => a.testStd));
  let pairs = 0;
  let apart = 0;
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      pairs += 1;
      if (Math.abs(all[i]!.testAccuracy - all[j]!.testAccuracy) > 2 * noise) apart += 1;
    }
  }
  return {
    architectures: all.length,
    runs: all.reduce((n, a) => n + a.seeds, 0),
    complete: all.filter((a) => a.seeds === maxSeeds).length,
    best: sorted[0]!,
    median: median(all.map((a) => a.testAccuracy)),
    worst: sorted.at(-1)!,
    meanSeedStd: noise,
    separated: pairs ? apart / pairs : NaN,
    meanTrainSeconds: mean(table.architectures.flatMap((a) => a.runs.map((r) => r.trainSeconds))),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/**
 * The table's spread in a few lines, for the CLI and the README.
 *
 * @param table The table.
 * @returns Text.
 */
export function describeTable(table: GroundTruthTable): string {
  const s = spread(table);
  return [
    `${s.architectures} of ${table.size} architectures, ${s.runs} runs (${s.complete} with every seed), ` +
    `${s.meanTrainSeconds.toFixed(1)} s of training per run`,
    `test accuracy (mean over seeds): best ${pct(s.best.testAccuracy)} (${s.best.key}), median ${
      pct(s.median)
    }, worst ${pct(s.worst.testAccuracy)} (${s.worst.key})`,
    `seed noise: mean std ${pct(s.meanSeedStd)}; pairs apart by more than twice that: ${
      (s.separated * 100).toFixed(1)
    }%`,
  ].join("\n");
}

/** A found cell's standing in the table. */
export interface Standing {
  readonly key: string;
  readonly testAccuracy: number;
  /** Share of the space's architectures with a lower mean test accuracy, in [0, 1]: 1 is the best. */
  readonly percentile: number;
  /** The best architecture's mean test accuracy minus this one's. */
  readonly regret: number;
}

/**
 * Looks an architecture up.
 *
 * @param table The table.
 * @param key The architecture's key (table_file.ts's `architectureKey`).
 * @returns Its standing.
 * @throws {Error} When the table has no runs of it.
 */
export function standing(table: GroundTruthTable, key: string): Standing {
  const all = scores(table);
  const self = all.find((a) => a.key === key);
  if (!self) throw new Error(`the table has no runs of "${key}"`);
  const lower = all.filter((a) => a.testAccuracy < self.testAccuracy).length;
  const ties = all.filter((a) => a.testAccuracy === self.testAccuracy).length - 1;
  const best = Math.max(...all.map((a) => a.testAccuracy));
  return {
    key,
    testAccuracy: self.testAccuracy,
    percentile: all.length > 1 ? (lower + ties / 2) / (all.length - 1) : 1,
    regret: best - self.testAccuracy,
  };
}

/**
 * Scoring searches by lookup in a ground-truth table: a found cell's standing, random search given
 * a compute budget (Li & Talwalkar 2019's baseline, charged each architecture's reduced-budget
 * training time from the table and choosing by its reduced-budget validation accuracy, as
 * NAS-Bench-201 does), and the per-label summary of many seeds.
 *
 * @module
 */

import { Rng } from "../core/rng.ts";
import { mean, std } from "../core/stats.ts";
import { scores, standing } from "./stats.ts";
import type { GroundTruthTable } from "./table_file.ts";

/** One scored search (or baseline) with one seed. */
export interface LookupRun {
  /** The algorithm or the study's name for a setting, e.g. `asap` or `asap-paper-lr`. */
  readonly label: string;
  readonly algorithm: string;
  readonly seed: number;
  /** The found architecture's key. */
  readonly key: string;
  /** Its mean test accuracy over the table's seeds, in [0, 1]. */
  readonly testAccuracy: number;
  /** Share of the space it beats, in [0, 1]. */
  readonly percentile: number;
  readonly regret: number;
  /** Wall seconds of the search, or the table seconds charged to random search. */
  readonly searchSeconds: number;
  /** Architectures random search trained (absent for searches). */
  readonly sampled?: number;
}

/**
 * Random search with a budget: architectures in a seeded random order, each charged its
 * reduced-budget training seconds from the table (the run of seed `seed mod runs`), while the
 * budget lasts (at least one); the one with the best reduced-budget validation accuracy is chosen.
 *
 * @param table The table.
 * @param seed The seed of the order.
 * @param budget Seconds.
 * @returns The chosen architecture's key, the seconds charged and how many were trained.
 * @example
 * ```ts
 * import { randomSearch } from "./lookup.ts";
 * const run = (val: number) => ({ seed: 0, valAccuracy: val, testAccuracy: val, reducedValAccuracy: val,
 *   reducedTestAccuracy: val, trainSeconds: 3, reducedTrainSeconds: 1 });
 * const table = { architectures: [0.5, 0.9, 0.7].map((v, index) => ({ index, key: `a${index}`,
 *   parameters: 1, runs: [run(v)] })) };
 * // A budget for all three picks the best by validation accuracy.
 * if (randomSearch(table as never, 0, 10).key !== "a1") throw new Error("not the best");
 * if (randomSearch(table as never, 0, 0).sampled !== 1) throw new Error("at least one");
 * ```
 */
export function randomSearch(
  table: GroundTruthTable,
  seed: number,
  budget: number,
): { key: string; seconds: number; sampled: number } {
  const archs = table.architectures.filter((a) => a.runs.length > 0);
  const order = new Rng(seed).permutation(archs.length);
  let seconds = 0;
  let best: { key: string; val: number } | undefined;
  let sampled = 0;
  for (const i of order) {
    const arch = archs[i]!;
    const run = arch.runs[seed % arch.runs.length]!;
    if (sampled > 0 && seconds + run.reducedTrainSeconds > budget) break;
    seconds += run.reducedTrainSeconds;
    sampled += 1;
    if (!best || run.reducedValAccuracy > best.val) best = { key: arch.key, val: run.reducedValAccuracy };
  }
  return { key: best!.key, seconds, sampled };
}

/**
 * A found cell scored from the table.
 *
 * @param table The table.
 * @param base The run without its scores.
 * @returns The run with its test accuracy, percentile and regret.
 */
export function scoreRun(
  table: GroundTruthTable,
  base: Omit<LookupRun, "testAccuracy" | "percentile" | "regret">,
): LookupRun {
  const { testAccuracy, percentile, regret } = standing(table, base.key);
  return { ...base, testAccuracy, percentile, regret };
}

/** A label's summary over its seeds. */
export interface LookupRow {
  readonly label: string;
  readonly runs: number;
  readonly accuracyMean: number;
  readonly accuracyStd: number;
  readonly percentileMean: number;
  readonly regretMean: number;
  readonly searchSecondsMean: number;
  /** How often each found architecture came up, most frequent first. */
  readonly found: readonly { readonly key: string; readonly count: number }[];
}

/**
 * Per label, in the order labels first appear.
 *
 * @param runs Scored runs.
 * @returns One row per label.
 */
export function summarizeLookup(runs: readonly LookupRun[]): LookupRow[] {
  const labels = [...new Set(runs.map((r) => r.label))];
  return labels.map((label) => {
    const mine = runs.filter((r) => r.label === label);
    const counts = new Map<string, number>();
    for (const r of mine) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
    return {
      label,
      runs: mine.length,
      accuracyMean: mean(mine.map((r) => r.testAccuracy)),
      accuracyStd: std(mine.map((r) => r.testAccuracy)),
      percentileMean: mean(mine.map((r) => r.percentile)),
      regretMean: mean(mine.map((r) => r.regret)),
      searchSecondsMean: mean(mine.map((r) => r.searchSeconds)),
      found: [...counts.entries()].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count),
    };
  });
}

/**
 * The summary as a Markdown table, with the space's best, median and worst for reference.
 *
 * @param rows The rows.
 * @param table The table.
 * @returns Markdown text.
 */
export function lookupMarkdown(rows: readonly LookupRow[], table: GroundTruthTable): string {
  const all = scores(table).map((a) => a.testAccuracy).sort((a, b) => a - b);
  const pct = (x: number) => (100 * x).toFixed(2);
  const lines = [
    `Scored by lookup in the ${table.space} table (${all.length} architectures; test accuracy: best ${
      pct(all.at(-1)!)
    }, median ${pct(all[all.length >> 1]!)}, worst ${pct(all[0]!)}).`,
    "",
    "| setting | seeds | test % (mean ± std) | rank percentile | regret (points) | search s | most found cell |",
    "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ...rows.map((r) =>
      `| ${r.label} | ${r.runs} | ${pct(r.accuracyMean)} ± ${pct(r.accuracyStd)} | ${
        (100 * r.percentileMean).toFixed(1)
      } | ${pct(r.regretMean)} | ${r.searchSecondsMean.toFixed(1)} | ${r.found[0]?.key ?? ""} (${
        r.found[0]?.count ?? 0
      }×) |`
    ),
  ];
  return `${lines.join("\n")}\n`;
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

/**
 * Accuracy against search cost, one point per run and a cross per label's mean (NAS-Bench-201's
 * picture), with the space's best and median as lines.
 *
 * @param runs Scored runs.
 * @param table The table.
 * @returns SVG text.
 */
export function lookupSvg(runs: readonly LookupRun[], table: GroundTruthTable): string {
  const W = 720, H = 420, L = 60, R = 190, T = 20, B = 50;
  const all = scores(table).map((a) => a.testAccuracy).sort((a, b) => a - b);
  const accs = [...runs.map((r) => r.testAccuracy), all.at(-1)!, all[all.length >> 1]!];
  const yLo = Math.floor(Math.min(...accs) * 50) / 50;
  const yHi = Math.ceil(Math.max(...accs) * 50) / 50;
  const secs = runs.map((r) => Math.max(0.1, r.searchSeconds));
  const xLo = Math.log10(Math.min(...secs, 1)) - 0.1;
  const xHi = Math.log10(Math.max(...secs, 10)) + 0.1;
  const x = (s: number) => L + ((Math.log10(Math.max(0.1, s)) - xLo) / (xHi - xLo)) * (W - L - R);
  const y = (a: number) => T + (1 - (a - yLo) / (yHi - yLo || 1)) * (H - T - B);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">search cost, seconds (log scale)</text>`,
    `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${
      (T + H - B) / 2
    })" text-anchor="middle">` +
    `test accuracy from the table (%)</text>`,
  ];
  for (let p = Math.ceil(xLo); p <= Math.floor(xHi); p++) {
    out.push(`<text x="${x(10 ** p)}" y="${H - B + 16}" text-anchor="middle">${10 ** p}</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const a = yLo + ((yHi - yLo) * k) / 4;
    out.push(`<text x="${L - 6}" y="${y(a) + 4}" text-anchor="end">${(100 * a).toFixed(1)}</text>`);
  }
  for (const [name, a] of [["best", all.at(-1)!], ["median", all[all.length >> 1]!]] as const) {
    out.push(
      `<line x1="${L}" y1="${y(a)}" x2="${W - R}" y2="${y(a)}" stroke="#888" stroke-dasharray="4 3"/>`,
      `<text x="${W - R - 4}" y="${y(a) - 4}" text-anchor="end" fill="#555">space ${name}</text>`,
    );
  }
  const rows = summarizeLookup(runs);
  rows.forEach((row, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    for (const r of runs.filter((r) => r.label === row.label)) {
      out.push(
        `<circle cx="${x(r.searchSeconds).toFixed(1)}" cy="${y(r.testAccuracy).toFixed(1)}" r="3.5" ` +
          `fill="${colour}" fill-opacity="0.45"/>`,
      );
    }
    const [cx, cy] = [x(row.searchSecondsMean), y(row.accuracyMean)];
    out.push(
      `<path d="M${cx - 7},${cy}h14M${cx},${cy - 7}v14" stroke="${colour}" stroke-width="3"/>`,
      `<circle cx="${W - R + 16}" cy="${T + 10 + 18 * i}" r="5" fill="${colour}"/>`,
      `<text x="${W - R + 26}" y="${T + 14 + 18 * i}">${row.label}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

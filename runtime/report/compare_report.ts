/**
 * The report of `deno task compare`: per-run results as plain data, their summary per algorithm
 * (mean ± sample standard deviation), a Markdown table and an SVG scatter of test accuracy against
 * search time (one point per run).
 *
 * @module
 */
import type { GenotypeCell } from "../../dsl/ir.ts";
import { mean, std } from "../core/stats.ts";

/** One finished run of a comparison: a search (none for `random`) and the training of its cell. */
export interface CompareRun {
  readonly algorithm: string;
  readonly seed: number;
  /** Test accuracy of the trained evaluation network, in [0, 1]. */
  readonly testAccuracy: number;
  /** Parameters of the evaluation network without the auxiliary head. */
  readonly parameters: number;
  /** Wall time of the search (0 for `random`). */
  readonly searchSeconds: number;
  /** Wall time of the evaluation training. */
  readonly evalSeconds: number;
  readonly cells: readonly GenotypeCell[];
}

/** One algorithm's summary. */
export interface CompareRow {
  readonly algorithm: string;
  readonly runs: number;
  readonly accuracyMean: number;
  /** Sample standard deviation (0 for one run). */
  readonly accuracyStd: number;
  readonly parametersMean: number;
  readonly searchSecondsMean: number;
  readonly evalSecondsMean: number;
  /** Each run's test accuracy, by seed (ascending). */
  readonly bySeed: readonly { readonly seed: number; readonly testAccuracy: number }[];
}

/**
 * Summarizes runs per algorithm, in the order the algorithms first appear.
 *
 * @param runs The finished runs.
 * @returns One row per algorithm.
 * @example
 * ```ts
 * import { summarizeCompare } from "./compare_report.ts";
 * const run = { seed: 0, parameters: 10, searchSeconds: 1, evalSeconds: 2, cells: [] };
 * summarizeCompare([{ ...run, algorithm: "asap", testAccuracy: 0.9 }, { ...run, algorithm: "asap", testAccuracy: 0.8 }])[0]!
 *   .accuracyMean; // 0.85
 * ```
 */
export function summarizeCompare(runs: readonly CompareRun[]): CompareRow[] {
  const algorithms = [...new Set(runs.map((r) => r.algorithm))];
  return algorithms.map((algorithm) => {
    const mine = runs.filter((r) => r.algorithm === algorithm);
    const acc = mine.map((r) => r.testAccuracy);
    return {
      algorithm,
      runs: mine.length,
      accuracyMean: mean(acc),
      accuracyStd: std(acc),
      parametersMean: mean(mine.map((r) => r.parameters)),
      searchSecondsMean: mean(mine.map((r) => r.searchSeconds)),
      evalSecondsMean: mean(mine.map((r) => r.evalSeconds)),
      bySeed: mine.map(({ seed, testAccuracy }) => ({ seed, testAccuracy })).sort((a, b) => a.seed - b.seed),
    };
  });
}

/**
 * An algorithm's test accuracy minus a reference's, paired by seed (the same seed trains both cells
 * alike, so the pairing removes the seed's share of the spread).
 *
 * @param row The algorithm.
 * @param reference The reference (e.g. `random`).
 * @returns Mean and sample standard deviation of the differences in points, how many are above 0 and how
 *   many seeds both have; null when they share no seed.
 * @example
 * ```ts
 * import { pairedDifference } from "./compare_report.ts";
 * const row = (a: number, b: number) => ({ bySeed: [{ seed: 0, testAccuracy: a }, { seed: 1, testAccuracy: b }] });
 * pairedDifference(row(0.9, 0.8), row(0.85, 0.81))!.higher; // 1 (seed 0 higher, seed 1 lower)
 * ```
 */
export function pairedDifference(
  row: Pick<CompareRow, "bySeed">,
  reference: Pick<CompareRow, "bySeed">,
): { mean: number; std: number; higher: number; seeds: number } | null {
  const diffs = row.bySeed.flatMap(({ seed, testAccuracy }) => {
    const other = reference.bySeed.find((r) => r.seed === seed);
    return other ? [100 * (testAccuracy - other.testAccuracy)] : [];
  });
  if (diffs.length === 0) return null;
  return {
    mean: mean(diffs),
    std: std(diffs),
    higher: diffs.filter((d) => d > 0).length,
    seeds: diffs.length,
  };
}

/**
 * The Markdown table of a comparison: per algorithm the mean ± std test accuracy, each seed's, and —
 * when `random` is among them — the difference from the random cell of the same seed.
 *
 * @param rows The summary rows.
 * @param title A heading line (the command and data, say).
 * @returns Markdown text ending with a newline.
 * @example
 * ```ts
 * import { compareMarkdown, summarizeCompare } from "./compare_report.ts";
 * const run = { seed: 0, parameters: 10, searchSeconds: 1, evalSeconds: 2, cells: [] };
 * const md = compareMarkdown(summarizeCompare([{ ...run, algorithm: "asap", testAccuracy: 0.9 }]), "t");
 * if (!md.includes("| asap | 1 | 90.00 ± 0.00 | 90.0 |")) throw new Error(md);
 * ```
 */
export function compareMarkdown(rows: readonly CompareRow[], title: string): string {
  const pct = (x: number) => (100 * x).toFixed(2);
  const random = rows.find((r) => r.algorithm === "random");
  const versus = (r: CompareRow) => {
    const d = random && r !== random ? pairedDifference(r, random) : null;
    if (!d) return "—";
    const sign = d.mean >= 0 ? "+" : "−";
    return `${sign}${Math.abs(d.mean).toFixed(2)} ± ${d.std.toFixed(2)} (${d.higher} of ${d.seeds} higher)`;
  };
  const lines = [
    `# ${title}`,
    "",
    `| algorithm | runs | test accuracy (%) | per seed (%) |${
      random ? " − random, same seed (points) |" : ""
    }` +
    " parameters | search time (s) | evaluation time (s) |",
    `| --- | ---: | ---: | ---: |${random ? " ---: |" : ""} ---: | ---: | ---: |`,
    ...rows.map((r) =>
      `| ${r.algorithm} | ${r.runs} | ${pct(r.accuracyMean)} ± ${pct(r.accuracyStd)} | ` +
      `${r.bySeed.map((s) => (100 * s.testAccuracy).toFixed(1)).join(", ")} |${
        random ? ` ${versus(r)} |` : ""
      } ` +
      `${Math.round(r.parametersMean).toLocaleString("en-US")} | ${r.searchSecondsMean.toFixed(0)} | ` +
      `${r.evalSecondsMean.toFixed(0)} |`
    ),
  ];
  return `${lines.join("\n")}\n`;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * An SVG scatter plot: test accuracy (y) against search time (x), one point per run, one colour per
 * algorithm, with a legend.
 *
 * @param runs The finished runs.
 * @returns The SVG document.
 */
export function compareSvg(runs: readonly CompareRun[]): string {
  const [w, h, left, right, top, bottom] = [640, 400, 60, 150, 20, 45];
  const algorithms = [...new Set(runs.map((r) => r.algorithm))];
  const xs = runs.map((r) => r.searchSeconds);
  const ys = runs.map((r) => r.testAccuracy);
  const [x0, x1] = [0, Math.max(1, ...xs) * 1.05];
  let [y0, y1] = [Math.min(...ys, 1), Math.max(...ys, 0)];
  if (y1 - y0 < 0.01) [y0, y1] = [y0 - 0.005, y1 + 0.005];
  const pad = (y1 - y0) * 0.08;
  [y0, y1] = [Math.max(0, y0 - pad), Math.min(1, y1 + pad)];
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (w - left - right);
  const py = (y: number) => h - bottom - ((y - y0) / (y1 - y0)) * (h - top - bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<line x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" stroke="black"/>`,
    `<text x="${(left + w - right) / 2}" y="${h - 8}" text-anchor="middle">search time (s)</text>`,
    `<text x="14" y="${(top + h - bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${
      (top + h - bottom) / 2
    })">test accuracy (%)</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const x = x0 + ((x1 - x0) * k) / 4;
    const y = y0 + ((y1 - y0) * k) / 4;
    parts.push(
      `<text x="${px(x).toFixed(1)}" y="${h - bottom + 16}" text-anchor="middle">${x.toFixed(0)}</text>`,
      `<text x="${left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${(100 * y).toFixed(1)}</text>`,
    );
  }
  runs.forEach((r) => {
    const color = COLORS[algorithms.indexOf(r.algorithm) % COLORS.length];
    parts.push(
      `<circle cx="${px(r.searchSeconds).toFixed(1)}" cy="${
        py(r.testAccuracy).toFixed(1)
      }" r="5" fill="${color}" ` +
        `fill-opacity="0.8"><title>${escape(r.algorithm)} seed ${r.seed}: ${
          (100 * r.testAccuracy).toFixed(2)
        }%</title></circle>`,
    );
  });
  algorithms.forEach((a, i) => {
    const y = top + 10 + 18 * i;
    parts.push(
      `<circle cx="${w - right + 20}" cy="${y}" r="5" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${w - right + 30}" y="${y + 4}">${escape(a)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

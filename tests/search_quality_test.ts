// Search quality against ground truth: ASAP with the shipped defaults of spaces/bench201.space,
// searched with seeds 0, 1 and 2 on the table's search images and scored by lookup in
// bench/bench201.table.json, must find cells whose mean rank percentile (1 = the best of the 125
// cells, 0.5 = the median) is above BAR.
//
// BAR is 0.6: above the median, as the issue asked, and above what a search that returned a random
// cell would score with the same seeds. From the committed table (the first test recomputes each):
// the random cells of seeds 0–2 (`conv_3x3, skip_connect, conv_1x1`, `conv_1x1, avg_pool_3x3,
// avg_pool_3x3`, `conv_1x1, skip_connect, none`) average 0.58; all-`none` (a disconnected cell) scores
// 0.03, all-`skip_connect` 0.23 and all-`avg_pool_3x3` 0.47 (collapse onto parameter-free ops). All fail
// the bar. The shipped default's seeds 0–2 reach 0.71 (0.81, 0.81, 0.52; 20 search epochs each). A random cell averages 0.5
// over all seeds; these three draws happen to be luckier, so the bar sits above them too.
import { assert } from "./deps.ts";
import { compileSpace } from "../dsl/compile.ts";
import { cellTypeOf } from "../dsl/ir.ts";
import { Rng } from "../runtime/core/rng.ts";
import { FASHION_MNIST_DIR, isIdxFolder } from "../runtime/data/idx.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { setNativeThreads } from "../runtime/kernels/native/load.ts";
import { randomCell } from "../runtime/loops/derive.ts";
import { SearchRun } from "../runtime/loops/search.ts";
import { loadTableData } from "../runtime/table/build.ts";
import { mean } from "../runtime/core/stats.ts";
import { standing } from "../runtime/table/stats.ts";
import { architectureKey, parseTable } from "../runtime/table/table_file.ts";
import { nativeMissing } from "./_native.ts";

const SEEDS = [0, 1, 2];
/** The bar on the found cells' mean rank percentile (see the header). */
const BAR = 0.6;

const tablePath = "bench/bench201.table.json";
const table = parseTable(await Deno.readTextFile(tablePath), tablePath);
const ir = compileSpace(await Deno.readTextFile("spaces/bench201.space"), "spaces/bench201.space").ir!;
const percentile = (key: string) => standing(table, key).percentile;
const uniform = (op: string) => `normal: ${op}, ${op}, ${op}`;

Deno.test("the quality bar rejects a disconnected cell, collapse onto skips or pooling, and the random cells of the same seeds", () => {
  for (const op of ["none", "skip_connect", "avg_pool_3x3"]) {
    assert.ok(!(percentile(uniform(op)) > BAR), `all-${op}: ${percentile(uniform(op))}`);
  }
  const random = SEEDS.map((seed) => {
    const rng = new Rng(seed);
    return architectureKey(ir, ir.cellTypes.map((c) => randomCell(cellTypeOf(ir, c.name), rng)));
  });
  assert.ok(!(mean(random.map(percentile)) > BAR), `random cells ${random.join("; ")}`);
  // And the bar is not out of reach: the space's best cells clear it.
  assert.ok(percentile(uniform("conv_3x3")) > BAR);
});

const missing = !isIdxFolder(FASHION_MNIST_DIR) ? `dataset-fashion-mnist is not installed` : undefined;
if (missing && Deno.env.get("ASAP_FASHION_MNIST_REQUIRED") === "1") throw new Error(missing);

Deno.test({
  name:
    `ASAP with bench201's shipped defaults finds cells above the median and above random cells (seeds ${
      SEEDS.join(", ")
    })` +
    (missing ? ` — not run: ${missing}` : ""),
  ignore: missing !== undefined,
  fn: async () => {
    await useBackend(nativeMissing === undefined ? "native" : "wasm");
    // One thread, as the study (bench/study.sh) searched: the same seed then finds the same cell.
    if (nativeMissing === undefined) setNativeThreads(1);
    const data = (await loadTableData(table.recipe)).search;
    const found: string[] = [];
    for (const seed of SEEDS) {
      const run = new SearchRun(ir, { data, seed, augment: { pad: 0, flip: false } });
      try {
        found.push(architectureKey(ir, (await run.run()).cells));
      } finally {
        run.dispose();
      }
    }
    const score = mean(found.map(percentile));
    assert.ok(score > BAR, `found ${found.join("; ")}: mean percentile ${score.toFixed(3)} ≤ ${BAR}`);
  },
});

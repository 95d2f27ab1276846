// Search quality against ground truth: ASAP with the shipped defaults of spaces/bench201.space,
// searched with seeds 0, 1 and 2 on the table's own training images and scored by lookup in
// bench/bench201.table.json, must find cells whose mean rank percentile (1 = the best of the 125
// cells, 0.5 = the median) is above BAR.
//
// The bar is 0.25, not the median: in the study (README, "Search quality against ground truth") no
// ASAP setting beat random cells on this table, and the shipped default's seeds 0–2 reach 0.48
// (percentiles 0.10, 1.00, 0.34). What 0.25 rejects, from the committed table (the first test
// recomputes it): a disconnected cell (all-`none`, 0.03) and collapse onto pooling (all-`avg_pool_3x3`,
// 0.22). What it does NOT reject: the random cells of seeds 0–2 (0.70) and all-`skip_connect` (0.87),
// which this short recipe ranks near the top. So this test guards against the search breaking
// (choosing `none` or pooling everywhere), not for ASAP beating random search; the table cannot show
// that at this budget.
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
const BAR = 0.25;

const tablePath = "bench/bench201.table.json";
const table = parseTable(await Deno.readTextFile(tablePath), tablePath);
const ir = compileSpace(await Deno.readTextFile("spaces/bench201.space"), "spaces/bench201.space").ir!;
const percentile = (key: string) => standing(table, key).percentile;
const uniform = (op: string) => `normal: ${op}, ${op}, ${op}`;

Deno.test("the quality bar rejects a disconnected cell and collapse onto pooling, not random or skip cells", () => {
  assert.ok(!(percentile(uniform("none")) > BAR));
  assert.ok(!(percentile(uniform("avg_pool_3x3")) > BAR));
  // What the bar lets through, as the header says (a test that documents the bar's weakness).
  const random = SEEDS.map((seed) => {
    const rng = new Rng(seed);
    return architectureKey(ir, ir.cellTypes.map((c) => randomCell(cellTypeOf(ir, c.name), rng)));
  });
  assert.ok(mean(random.map(percentile)) > BAR);
  assert.ok(percentile(uniform("skip_connect")) > BAR);
});

const missing = !isIdxFolder(FASHION_MNIST_DIR) ? `dataset-fashion-mnist is not installed` : undefined;
if (missing && Deno.env.get("ASAP_FASHION_MNIST_REQUIRED") === "1") throw new Error(missing);

Deno.test({
  name:
    `ASAP with bench201's shipped defaults finds cells above the lower quartile of the space (seeds ${
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

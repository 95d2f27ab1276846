import { assert } from "./deps.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { main, searchSettingsFor } from "../runtime/cli/compare.ts";
import { compileSpace } from "../dsl/compile.ts";
import { randomCell } from "../runtime/loops/derive.ts";
import { Rng } from "../runtime/core/rng.ts";
import { compareMarkdown, pairedDifference, summarizeCompare } from "../runtime/report/compare_report.ts";
import type { SearchSettings } from "../dsl/ir.ts";

const TINY = new URL("../spaces/tiny.space", import.meta.url).pathname;
const QUICK = [TINY, "--quick", "--synthetic", "48", "--eval-cells", "3", "--eval-channels", "4"];

Deno.test("compare --quick runs every algorithm, writes its report, and a rerun keeps the finished runs", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/cmp`;
    const io = captureIo();
    assert.equal(await main([...QUICK, "--out", out], io), 0, io.stderr());
    const report = JSON.parse(await Deno.readTextFile(`${out}/compare.json`));
    assert.deepEqual(
      report.rows.map((r: { algorithm: string }) => r.algorithm),
      ["asap", "darts", "magnitude", "accumulated_gradient", "random"],
    );
    for (const run of report.runs) {
      assert.ok(run.testAccuracy >= 0 && run.testAccuracy <= 1);
      assert.ok(run.parameters > 0);
      assert.equal(run.searchSeconds > 0, run.algorithm !== "random");
    }
    const md = await Deno.readTextFile(`${out}/compare.md`);
    assert.match(md, /\| asap \| 1 \| \d+\.\d\d ± 0\.00 \|/);
    const svg = await Deno.readTextFile(`${out}/compare.svg`);
    assert.equal(svg.match(/<circle [^>]*fill-opacity/g)?.length, 5);

    // A killed comparison: one run's result is missing; the rerun redoes only that one.
    await Deno.remove(`${out}/runs/darts-seed0`, { recursive: true });
    const again = captureIo();
    assert.equal(await main([...QUICK, "--out", out], again), 0, again.stderr());
    assert.equal(again.stdout().match(/\(kept\)/g)?.length, 4, again.stdout());
    assert.match(again.stdout(), /darts, seed 0: test accuracy/);

    // Continuing it with another budget would average unlike runs: refused, naming what differs.
    const other = captureIo();
    const otherFlags = [TINY, "--quick", "--synthetic", "48", "--eval-cells", "2", "--eval-channels", "4"];
    assert.equal(await main([...otherFlags, "--out", out], other), 1);
    assert.match(other.stderr(), /holds a comparison made with other settings \(evalCells differ/);
  });
});

Deno.test("compare exits 2 naming an unknown algorithm, or --data given with --synthetic", async () => {
  const io = captureIo();
  assert.equal(await main([TINY, "--algorithms", "asap,gdas"], io), 2);
  assert.match(io.stderr(), /unknown algorithm "gdas"/);
  const both = captureIo();
  assert.equal(await main([TINY, "--data", "cluttered-digits", "--synthetic", "8"], both), 2);
  assert.match(both.stderr(), /--data and --synthetic cannot be combined/);
});

Deno.test("searchSettingsFor() gives each algorithm its defaults and ends the baselines at the run's last epoch", () => {
  const ir = compileSpace(Deno.readTextFileSync(TINY), "tiny.space").ir!;
  assert.deepEqual(searchSettingsFor(ir, "asap", ir.search.maxEpochs).temperature, ir.search.temperature);
  const darts = searchSettingsFor(ir, "darts", 10);
  assert.deepEqual([darts.temperature, darts.grace, darts.maxEpochs], [
    { kind: "constant", value: 1 },
    { kind: "epochs", epochs: 0 },
    10,
  ]);
  const magnitude = searchSettingsFor(ir, "magnitude", 10);
  assert.deepEqual(magnitude.sparsity, { final: 1, initial: 0, start: 4, interval: 1, steps: 6, power: 3 });
});

Deno.test("searchSettingsFor() stretches ASAP's grace epochs and temperature decay to the run's epochs", () => {
  // The quickstart's space with its former schedule: grace 2 of 10 epochs, T = 1.0 · 0.6^epoch.
  const text = Deno.readTextFileSync("spaces/quickstart.space").replace(
    /temperature: exponential\(t0: 2\.0, beta: 0\.75\)\s*grace_temperature: 1/,
    "temperature: exponential(t0: 1.0, beta: 0.6) grace_epochs: 2",
  );
  const ir = compileSpace(text, "quickstart.space").ir!;
  assert.equal(ir.search.grace.kind, "epochs");
  const temperatureAt = (t: SearchSettings["temperature"], epoch: number) =>
    t.kind === "exponential" ? t.t0 * t.beta ** epoch : NaN;
  for (const epochs of [4, 20]) {
    const s = searchSettingsFor(ir, "asap", epochs);
    assert.equal(s.maxEpochs, epochs);
    assert.deepEqual(s.grace, { kind: "epochs", epochs: Math.round((2 * epochs) / 10) }); // 1 of 4, 4 of 20
    const last = temperatureAt(s.temperature, epochs);
    assert.ok(
      Math.abs(last - temperatureAt(ir.search.temperature, 10)) < 1e-12,
      `T at the last epoch: ${last}`,
    );
  }
  // The defaults (set for 50 epochs) stretch too; DARTS' constant T and zero grace stay as they are.
  const asap = searchSettingsFor({ ...ir, search: { ...ir.search, algorithm: "darts" } }, "asap", 5);
  assert.ok(asap.temperature.kind === "exponential" && Math.abs(asap.temperature.beta - 0.95 ** 10) < 1e-12);
  const darts = searchSettingsFor(ir, "darts", 4);
  assert.deepEqual([darts.temperature, darts.grace], [{ kind: "constant", value: 1 }, {
    kind: "epochs",
    epochs: 0,
  }]);
});

Deno.test("randomCell() is seeded and keeps k incoming edges per node under top_k", () => {
  const ir = compileSpace(
    Deno.readTextFileSync(TINY).replace("nodes: 2", "nodes: 3  derive: top_k(2)"),
    "tiny.space",
  ).ir!;
  const cell = ir.cellTypes[0]!;
  const a = randomCell(cell, new Rng(3));
  assert.deepEqual(a, randomCell(cell, new Rng(3)));
  for (let n = 0; n < 3; n++) assert.equal(a.edges.filter((e) => e.to === n).length, 2);
  const ops = new Set(Array.from({ length: 20 }, (_, s) => randomCell(cell, new Rng(s)).edges[0]!.op));
  assert.equal(ops.size, 3);
});

Deno.test("summarizeCompare() gives the mean and sample standard deviation per algorithm", () => {
  const run = { seed: 0, parameters: 10, searchSeconds: 1, evalSeconds: 2, cells: [] };
  const [row] = summarizeCompare([
    { ...run, algorithm: "asap", testAccuracy: 0.8 },
    { ...run, algorithm: "asap", testAccuracy: 0.9 },
    { ...run, algorithm: "asap", testAccuracy: 1.0 },
  ]);
  assert.ok(Math.abs(row!.accuracyMean - 0.9) < 1e-12);
  assert.ok(Math.abs(row!.accuracyStd - 0.1) < 1e-12);
});

Deno.test("compare.md lists each seed's accuracy and the difference from the same seed's random cell", () => {
  const run = { parameters: 10, searchSeconds: 1, evalSeconds: 2, cells: [] };
  const runs = [
    { ...run, algorithm: "asap", seed: 1, testAccuracy: 0.84 },
    { ...run, algorithm: "asap", seed: 0, testAccuracy: 0.82 },
    { ...run, algorithm: "random", seed: 0, testAccuracy: 0.80 },
    { ...run, algorithm: "random", seed: 1, testAccuracy: 0.85 },
  ];
  const [asap, random] = summarizeCompare(runs);
  assert.deepEqual(asap!.bySeed.map((s) => s.seed), [0, 1]);
  const d = pairedDifference(asap!, random!)!;
  // Seed 0: +2 points, seed 1: −1 point.
  assert.ok(Math.abs(d.mean - 0.5) < 1e-9 && Math.abs(d.std - Math.sqrt(4.5)) < 1e-9, JSON.stringify(d));
  assert.deepEqual([d.higher, d.seeds], [1, 2]);
  const md = compareMarkdown([asap!, random!], "t");
  assert.match(
    md,
    /\| asap \| 2 \| 83\.00 ± 1\.41 \| 82\.0, 84\.0 \| \+0\.50 ± 2\.12 \(1 of 2 higher\) \| 10 \|/,
  );
  assert.match(md, /\| random \| 2 \| 82\.50 ± 3\.54 \| 80\.0, 85\.0 \| — \|/);
  assert.doesNotMatch(compareMarkdown([asap!], "t"), /random/);
});

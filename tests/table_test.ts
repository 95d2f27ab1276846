// The ground-truth table: enumeration, part files and merging, statistics, lookup scoring and random
// search with a budget, one real training under the table's recipe code, and the CLI's plain errors.
import { assert } from "./deps.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { compileSpace } from "../dsl/compile.ts";
import { syntheticDataset } from "../runtime/data/datasets.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { nativeMissing } from "./_native.ts";
import { trainArchitecture } from "../runtime/table/build.ts";
import { randomSearch, scoreRun, summarizeLookup } from "../runtime/table/lookup.ts";
import { spread, standing } from "../runtime/table/stats.ts";
import {
  architectureKey,
  enumerateArchitectures,
  type GroundTruthTable,
  mergeRecords,
  parsePart,
  parseTable,
  spaceSize,
  type TableHeader,
  type TableRecord,
} from "../runtime/table/table_file.ts";
import { main as tableMain } from "../runtime/cli/table.ts";
import { main as compareMain } from "../runtime/cli/compare.ts";

const bench = compileSpace(await Deno.readTextFile("spaces/bench201.space"), "spaces/bench201.space").ir!;

const header: TableHeader = {
  version: 1,
  space: "bench201",
  spaceHash: "h",
  recipe: {
    data: {
      task: "fashion-mnist",
      resolution: 16,
      downsample: 2,
      trainImages: 30,
      validationImages: 10,
      testImages: 10,
      selectionSeed: 0,
    },
    epochs: 3,
    reducedEpochs: 1,
    batchSize: 8,
    channels: 4,
    cells: 5,
    lr: 0.05,
    threads: 1,
  },
  searched: ["normal"],
  size: 125,
  versions: {},
  command: "",
};

function record(index: number, seed: number, acc: number, seconds = 10): TableRecord {
  return {
    index,
    key: `k${index}`,
    parameters: 100,
    seed,
    valAccuracy: acc,
    testAccuracy: acc,
    reducedValAccuracy: acc - 0.1,
    reducedTestAccuracy: acc - 0.1,
    trainSeconds: seconds,
    reducedTrainSeconds: seconds / 3,
  };
}

Deno.test("enumerateArchitectures() lists every cell of the benchmark space once, fixed edges kept", () => {
  const all = enumerateArchitectures(bench);
  assert.equal(spaceSize(bench), 125);
  assert.equal(all.length, 125);
  const keys = all.map((cells) => architectureKey(bench, cells));
  assert.equal(new Set(keys).size, 125);
  assert.equal(keys[0], "normal: none, none, none");
  assert.equal(keys[124], "normal: avg_pool_3x3, avg_pool_3x3, avg_pool_3x3");
  assert.equal(keys[1], "normal: none, none, skip_connect"); // the last edge counts fastest
  const reduction = all[57]!.find((c) => c.cellType === "reduction")!;
  assert.deepEqual(reduction.edges.map((e) => e.op), ["conv_1x1", "skip_connect", "conv_1x1"]);
});

Deno.test("mergeRecords() keeps one run per architecture and seed, in order; parsePart() skips a torn last line", () => {
  const part =
    [record(2, 1, 0.8), record(0, 0, 0.5), record(2, 0, 0.7)].map((r) => JSON.stringify(r)).join("\n") +
    '\n{"index": 3, "se';
  const records = parsePart(part, "p.jsonl");
  assert.equal(records.length, 3);
  assert.throws(() => parsePart('{"bad"\n{}\n', "p.jsonl"), /p.jsonl:1: not a JSON record/);
  const table = mergeRecords(header, undefined, records);
  assert.deepEqual(table.architectures.map((a) => [a.index, a.runs.map((r) => r.seed)]), [[0, [0]], [2, [
    0,
    1,
  ]]]);
  // Merging the same part again (a worker still appending) adds nothing.
  const again = mergeRecords(header, table, [...records, record(0, 1, 0.6)]);
  assert.deepEqual(again.architectures.map((a) => a.runs.length), [2, 2]);
  assert.throws(
    () => mergeRecords(header, table, [{ ...record(0, 2, 0.1), key: "other" }]),
    /architecture 0 is "k0"/,
  );
  assert.equal(parseTable(JSON.stringify(again), "t.json").architectures.length, 2);
  assert.throws(() => parseTable("{}", "t.json"), /t.json: not a ground-truth table of version 1/);
  assert.throws(
    () => parseTable(JSON.stringify(mergeRecords(header, undefined, [record(0, 0, 1.5)])), "t.json"),
    /architecture 0, seed 0: accuracy or time out of range/,
  );
});

Deno.test("spread() and standing(): seed noise, separated pairs, percentile and regret", () => {
  const table = mergeRecords(header, undefined, [
    record(0, 0, 0.1),
    record(0, 1, 0.1),
    record(1, 0, 0.80),
    record(1, 1, 0.82),
    record(2, 0, 0.84),
    record(2, 1, 0.86),
  ]);
  const s = spread(table);
  assert.ok(Math.abs(s.meanSeedStd - (0 + 0.02 / Math.SQRT2 * 2) / 3) < 1e-12); // stds 0, .01414, .01414
  assert.equal(s.best.key, "k2");
  assert.ok(Math.abs(s.median - 0.81) < 1e-12);
  assert.ok(Math.abs(s.separated - 1) < 1e-12); // 0.04 apart > 2 × 0.0094
  const best = standing(table, "k2");
  assert.equal(best.percentile, 1);
  assert.equal(best.regret, 0);
  const worst = standing(table, "k0");
  assert.equal(worst.percentile, 0);
  assert.ok(Math.abs(worst.regret - 0.75) < 1e-12);
  assert.equal(standing(table, "k1").percentile, 0.5);
  assert.throws(() => standing(table, "k9"), /no runs of "k9"/);
});

Deno.test("randomSearch() spends the budget on reduced-budget trainings and keeps the best by validation", () => {
  const table = mergeRecords(
    header,
    undefined,
    Array.from({ length: 20 }, (_, i) => record(i, 0, 0.5 + i / 100, 30)), // 10 s each at the reduced budget
  );
  const found = randomSearch(table, 4, 55);
  assert.equal(found.sampled, 5);
  assert.ok(Math.abs(found.seconds - 50) < 1e-9);
  // Whatever the five were, the choice is the best of them by validation accuracy (here also by test).
  const all = randomSearch(table, 4, 1e9);
  assert.equal(all.sampled, 20);
  assert.equal(all.key, "k19");
  assert.equal(randomSearch(table, 4, 0).sampled, 1);
  const rows = summarizeLookup([
    scoreRun(table, { label: "a", algorithm: "asap", seed: 0, key: "k19", searchSeconds: 5 }),
    scoreRun(table, { label: "a", algorithm: "asap", seed: 1, key: "k0", searchSeconds: 7 }),
  ]);
  assert.equal(rows[0]!.percentileMean, 0.5);
  assert.equal(rows[0]!.searchSecondsMean, 6);
});

Deno.test("trainArchitecture() trains a cell of the benchmark space and reads both budgets", async () => {
  await useBackend(nativeMissing === undefined ? "native" : "wasm");
  const make = (n: number, seed: number) =>
    syntheticDataset({ n, height: 16, width: 16, channels: 1, classes: 10, seed });
  const data = { train: make(30, 1), validation: make(10, 2), test: make(10, 3) };
  const cells = enumerateArchitectures(bench)[68]!; // conv_1x1, avg_pool_3x3, conv_3x3
  const run = await trainArchitecture(bench, cells, 0, { ...header.recipe, channels: 2 }, data);
  for (const acc of [run.valAccuracy, run.testAccuracy, run.reducedValAccuracy, run.reducedTestAccuracy]) {
    assert.ok(acc >= 0 && acc <= 1 && Math.round(acc * 10) === acc * 10, String(acc)); // a share of 10 images
  }
  assert.ok(run.reducedTrainSeconds > 0 && run.reducedTrainSeconds < run.trainSeconds);
  assert.ok(run.parameters > 0);
});

Deno.test("deno task table and compare --table refuse bad input with one line", async () => {
  await withTempDir(async (dir) => {
    const c = captureIo();
    assert.equal(await tableMain(["--shard", "2/2"], c), 2);
    assert.match(c.stderr(), /--shard expects K\/N with 0 ≤ K < N, got "2\/2"/);
    const d = captureIo();
    await Deno.writeTextFile(`${dir}/t.json`, "{}");
    assert.equal(await compareMain(["--table", `${dir}/t.json`, "--seeds", "0"], d), 1);
    assert.match(d.stderr(), /not a ground-truth table of version 1/);
    // A table of another space: the architectures differ.
    const other: GroundTruthTable = { ...mergeRecords(header, undefined, [record(0, 0, 0.5)]), size: 27 };
    await Deno.writeTextFile(`${dir}/t.json`, JSON.stringify(other));
    const e = captureIo();
    assert.equal(await compareMain(["--table", `${dir}/t.json`, "--out", `${dir}/o`], e), 1);
    assert.match(e.stderr(), /does not have the architectures of/);
    const f = captureIo();
    assert.equal(await compareMain(["--table", `${dir}/t.json`, "--label", "x"], f), 2);
    assert.match(f.stderr(), /--label names one setting/);
    const h = captureIo();
    assert.equal(
      await tableMain(["--slurm", "--dry-run", "--parallel", "12", "--sbatch=--time=1:00:00"], h),
      0,
    );
    assert.match(h.stdout(), /#SBATCH --array=0-11\n/);
    assert.match(h.stdout(), /#SBATCH --time=1:00:00\n/);
    assert.match(h.stdout(), /--shard "\$SLURM_ARRAY_TASK_ID\/12"/);
    const i = captureIo();
    assert.equal(await tableMain(["--dry-run"], i), 2);
    assert.match(i.stderr(), /--dry-run and --sbatch go with --slurm/);
    // A kept run searched with other settings is not scored as this setting's.
    await Deno.mkdir(`${dir}/lookup/runs`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/lookup/runs/asap-seed0.json`,
      JSON.stringify({
        label: "asap",
        algorithm: "asap",
        seed: 0,
        key: "normal: none, none, none",
        searchSeconds: 1,
        settings: { set: [["t0", 1.3]], searchEpochs: 10 },
      }),
    );
    const k = captureIo();
    const lookupArgs = ["--table", "bench/bench201.table.json", "--algorithms", "asap", "--seeds", "0"];
    assert.equal(await compareMain([...lookupArgs, "--out", `${dir}/lookup`], k), 1);
    assert.match(k.stderr(), /"asap" seed 0 in .* was searched with other settings/);
    const g = captureIo();
    assert.equal(await tableMain(["--stats", "--out", `${dir}/none.json`], g), 0);
    assert.match(g.stdout(), /no runs yet/);
  });
});

import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import { telemetryRecords, writeRun } from "./_dashboard_fixtures.ts";
import { RunStatusFile } from "../runtime/report/run_status.ts";
import {
  findRuns,
  parseTelemetry,
  readRun,
  STALE_MS,
  telemetryPoint,
} from "../runtime/report/telemetry_read.ts";

const lines = (records: unknown[]) => records.map((r) => JSON.stringify(r) + "\n").join("");

Deno.test("parseTelemetry() keeps every complete line and reports a truncated last line", () => {
  const text = lines(telemetryRecords().slice(0, 2)) + JSON.stringify(telemetryRecords()[2]).slice(0, 40);
  const { points, problems } = parseTelemetry(text);
  assert.deepEqual(points.map((p) => p.epoch), [1, 2]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /line 3 is not valid JSON \(a truncated last line\?\)/);
});

Deno.test("parseTelemetry() reports records without an epoch and epochs out of order, by line", () => {
  const text = lines([{ epoch: 1 }, { temperature: 1 }, { epoch: 1 }, "text", { epoch: 2 }]);
  const { points, problems } = parseTelemetry(text);
  assert.deepEqual(points.map((p) => p.epoch), [1, 2]);
  assert.deepEqual(problems.map((p) => p.match(/line (\d)/)?.[1]), ["2", "3", "4"]);
});

Deno.test("parseTelemetry() counts an old run folder's epochs (from 0) from 1, its pruning events' too", () => {
  const old = parseTelemetry(lines(telemetryRecords(true, true)));
  const now = parseTelemetry(lines(telemetryRecords()));
  assert.deepEqual(old.problems, []);
  assert.deepEqual(old.points.map((p) => p.epoch), [1, 2, 3]);
  assert.deepEqual(old.points, now.points);
  assert.deepEqual(old.points[1]!.pruned.map((e) => e.epoch), [2]);
});

Deno.test("telemetryPoint() keeps well-typed fields and drops the rest", () => {
  const p = telemetryPoint({
    epoch: 4,
    temperature: "hot",
    threshold: 0.1,
    valLoss: null,
    entropy: { normal: 0.5, reduction: "x" },
    opsLeft: { normal: [2, 1], reduction: [1, "a"] },
    phi: { normal: [[0.4, null, 0.6]], reduction: [[0.5, "b"]] },
    pruned: [{ cellType: "normal", edge: 0, op: "skip", epoch: 2, phi: 0.01 }, { edge: "?" }],
  });
  assert.ok(p);
  assert.equal(p.temperature, null);
  assert.equal(p.threshold, 0.1);
  assert.equal(p.valLoss, null);
  assert.deepEqual(p.entropy, { normal: 0.5 });
  assert.deepEqual(p.opsLeft, { normal: [2, 1] });
  assert.deepEqual(p.phi, { normal: [[0.4, null, 0.6]] });
  assert.equal(p.pruned.length, 1);
  assert.equal(telemetryPoint({ epoch: 1.5 }), null);
  assert.equal(telemetryPoint([1, 2]), null);
});

Deno.test("readRun() reads a finished run: status, Φ per epoch, cell shape and found cells", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/a`);
    const { detail } = await readRun(`${dir}/a`, "a");
    assert.equal(detail.status, "done");
    assert.deepEqual(detail.problems, []);
    assert.equal(detail.space, "fixture");
    assert.equal(detail.algorithm, "asap");
    assert.equal(detail.epochs, 3);
    assert.equal(detail.maxEpochs, 3);
    assert.deepEqual(detail.telemetry[1]!.phi, { normal: [[1, null], [0.6, 0.4], [0.45, 0.55]] });
    assert.deepEqual(detail.cellTypes[0]!.edges[2], {
      from: "n0",
      to: "n1",
      candidates: ["skip_connect", "max_pool_3x3"],
    });
    assert.deepEqual(detail.found?.[0]?.edges[2], { from: "n0", to: "n1", op: "max_pool_3x3" });
  });
});

Deno.test("readRun() reads a run folder written before Φ was recorded, without problems", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/old`, { withPhi: false, status: null });
    const { detail } = await readRun(`${dir}/old`, "old");
    assert.equal(detail.status, "done");
    assert.deepEqual(detail.problems, []);
    assert.equal(detail.telemetry[2]!.phi, null);
    assert.equal(detail.telemetry[2]!.entropy.normal, 0.6);
  });
});

Deno.test("readRun() shows a run with a truncated telemetry line, a missing file or garbage as broken", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/truncated`, {
      done: false,
      telemetry: lines(telemetryRecords().slice(0, 1)) + '{"epo',
    });
    await writeRun(`${dir}/missing`);
    await Deno.remove(`${dir}/missing/run.json`);
    await writeRun(`${dir}/garbage`);
    await Deno.writeFile(`${dir}/garbage/genotype.json`, new Uint8Array([0xff, 0xfe, 0x00, 0x7b]));
    await Deno.writeTextFile(`${dir}/garbage/space.space`, "space {{{");
    const expected: Record<string, RegExp> = {
      truncated: /telemetry\.jsonl line 2 is not valid JSON/,
      missing: /run\.json is missing/,
      garbage: /genotype\.json is not a genotype/,
    };
    for (const [id, problem] of Object.entries(expected)) {
      const { detail } = await readRun(`${dir}/${id}`, id);
      assert.equal(detail.status, "broken", id);
      assert.ok(detail.problems.some((p) => problem.test(p)), `${id}: ${detail.problems.join("; ")}`);
    }
    const { detail } = await readRun(`${dir}/truncated`, "truncated");
    assert.equal(detail.epochs, 1); // what did parse is still shown
  });
});

Deno.test("readRun() reports a running run whose process went silent as interrupted", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/r`, { done: false });
    assert.equal((await readRun(`${dir}/r`, "r")).detail.status, "running");
    const later = Date.now() + STALE_MS + 60_000;
    const { detail } = await readRun(`${dir}/r`, "r", later);
    assert.equal(detail.status, "interrupted");
    assert.match(detail.message ?? "", /seems to have stopped/);
  });
});

Deno.test("readRun() shows a failed run with its message, and a malformed status.json as broken", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/f`, {
      done: false,
      status: { state: "failed", updated: "x", message: "loss became NaN" },
    });
    const failed = (await readRun(`${dir}/f`, "f")).detail;
    assert.equal(failed.status, "failed");
    assert.equal(failed.message, "loss became NaN");
    await writeRun(`${dir}/m`, { done: false, status: { state: "exploded" } });
    const malformed = (await readRun(`${dir}/m`, "m")).detail;
    assert.equal(malformed.status, "broken");
    assert.match(malformed.problems.join(), /status\.json is malformed/);
  });
});

Deno.test("findRuns() finds run folders up to three levels down and skips symbolic links", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/root/a`);
    await writeRun(`${dir}/root/sweep/seed-1`);
    await Deno.mkdir(`${dir}/root/empty`);
    await writeRun(`${dir}/outside`);
    await Deno.symlink(`${dir}/outside`, `${dir}/root/link`);
    const runs = await findRuns(`${dir}/root`);
    assert.deepEqual([...runs.keys()], ["a", "sweep/seed-1"]);
    assert.deepEqual([...(await findRuns(`${dir}/root/a`)).keys()], ["."]);
  });
});

Deno.test("RunStatusFile writes what readRun() reads: running, then failed with its message", async () => {
  await withTempDir(async (dir) => {
    await writeRun(`${dir}/r`, { done: false, status: null });
    const status = new RunStatusFile(`${dir}/r`);
    await status.set("running");
    assert.equal((await readRun(`${dir}/r`, "r")).detail.status, "running");
    await status.set("failed", "the w loss became NaN");
    const { detail } = await readRun(`${dir}/r`, "r");
    assert.equal(detail.status, "failed");
    assert.equal(detail.message, "the w loss became NaN");
  });
});

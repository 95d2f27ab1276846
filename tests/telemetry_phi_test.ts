import { assert } from "./deps.ts";
import { fastSpace } from "./_helpers.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { SearchRun } from "../runtime/loops/search.ts";
import { syntheticDataset } from "../runtime/data/datasets.ts";
import { compileSpace } from "../dsl/compile.ts";
import { telemetryPoint } from "../runtime/report/telemetry_read.ts";

await useBackend("wasm");

const SPACE = fastSpace("fast", 3);

Deno.test("each epoch's telemetry carries Φ per edge and candidate, null exactly for the pruned ops", async () => {
  const { ir } = compileSpace(SPACE);
  assert.ok(ir);
  const data = syntheticDataset({ n: 48, height: 8, width: 8, channels: 3, classes: 3, seed: 7 });
  const run = new SearchRun(ir, { data, seed: 5, stepsPerEpoch: 3 });
  try {
    let prunedSoFar = 0;
    while (!run.done) {
      const t = await run.runEpoch();
      const phis = await run.phiValues(t.temperature); // the finished epoch's T (run.epoch has moved on)
      for (const cell of ir.cellTypes) {
        const rows = t.phi?.[cell.name];
        assert.ok(rows, `no Φ for ${cell.name} in epoch ${t.epoch}`);
        assert.equal(rows.length, cell.edges.length);
        rows.forEach((row, e) => {
          assert.equal(row.length, cell.edges[e]!.candidates.length);
          const alive = run.net.alive.get(cell.name)![e]!;
          // Alive candidates hold the run's Φ, in candidate order; pruned ones null.
          assert.deepEqual(row.map((v, o) => v === null ? null : o).filter((o) => o !== null), alive);
          const live = row.filter((v): v is number => v !== null);
          live.forEach((v, k) => assert.ok(Math.abs(v - phis.get(cell.name)![e]![k]!) < 1e-6));
          assert.ok(Math.abs(live.reduce((a, b) => a + b, 0) - 1) < 1e-5);
          assert.equal(live.length, t.opsLeft[cell.name]![e]);
        });
      }
      for (const p of t.pruned) {
        const o = ir.cellTypes.find((c) => c.name === p.cellType)!.edges[p.edge]!.candidates.indexOf(p.op);
        assert.equal(t.phi?.[p.cellType]?.[p.edge]?.[o], null, `${p.op} was pruned in epoch ${t.epoch}`);
      }
      prunedSoFar += t.pruned.length;
      // What telemetry.jsonl holds reads back the same.
      assert.deepEqual(telemetryPoint(JSON.parse(JSON.stringify(t)))?.phi, t.phi);
    }
    assert.ok(prunedSoFar > 0, "the search pruned nothing: the test space should prune");
  } finally {
    run.dispose();
  }
});

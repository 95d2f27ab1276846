// Run folders for the dashboard tests, written by hand: a finished run with Φ, variants of it.
import { compileSpace } from "../dsl/compile.ts";
import type { Genotype } from "../dsl/ir.ts";

/** The space of the fixture runs: one cell type, two nodes, 3 edges × 2 candidates. */
export const SPACE = `space fixture {
  operation skip_connect = identity
  operation max_pool_3x3 = max_pool(kernel: 3)
  cell normal { inputs: x  nodes: 2  candidates: skip_connect, max_pool_3x3 }
  supernet { channels: 4  cells: 1  reductions: [] }
  search asap { max_epochs: 3  grace_epochs: 0 }
}
`;

/**
 * Three epochs, counted from 1 (`countFromZero`: as run folders written before 2026-12-05 count them);
 * max_pool_3x3 on the first edge is pruned in the second.
 */
export function telemetryRecords(withPhi = true, countFromZero = false): Record<string, unknown>[] {
  const phis = [
    [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
    [[1, null], [0.6, 0.4], [0.45, 0.55]],
    [[1, null], [0.7, 0.3], [0.4, 0.6]],
  ];
  const first = countFromZero ? 0 : 1;
  return phis.map((phi, epoch) => ({
    epoch: first + epoch,
    temperature: 1.3 * 0.95 ** epoch,
    threshold: 0.2,
    lr: 0.025,
    grace: epoch === 0,
    opsLeft: { normal: phi.map((row) => row.filter((v) => v !== null).length) },
    sparsity: epoch === 0 ? 0 : 1 / 6,
    entropy: { normal: 1 - 0.2 * epoch },
    pruned: epoch === 1
      ? [{ cellType: "normal", edge: 0, op: "max_pool_3x3", epoch: first + 1, step: 3, phi: 0.1 }]
      : [],
    steps: 4,
    epochMs: 1000 + epoch,
    trainLoss: 2 - 0.1 * epoch,
    trainAccuracy: 0.1 * epoch,
    valLoss: epoch === 0 ? null : 2.1 - 0.1 * epoch,
    valAccuracy: epoch === 0 ? null : 0.1 * epoch,
    tfBytes: 1000,
    tfTensors: 10,
    ...(withPhi ? { phi: { normal: phi } } : {}),
  }));
}

/** A genotype for SPACE: skip_connect on edges 0 and 1, max_pool_3x3 on edge 2. */
export function genotype(): Genotype {
  const { ir } = compileSpace(SPACE, "space.space");
  if (!ir) throw new Error("the fixture space does not compile");
  const cell = ir.cellTypes[0]!;
  const ops = ["skip_connect", "skip_connect", "max_pool_3x3"];
  return {
    version: 1,
    space: ir,
    spaceHash: "0".repeat(64),
    seed: 3,
    algorithm: "asap",
    cells: [{
      cellType: "normal",
      edges: cell.edges.map((e, i) => ({ from: e.from, to: e.to, op: ops[i]! })),
    }],
    alpha: { normal: [[1, 0], [0.4, 0], [0, 0.2]] },
    versions: {},
  };
}

/** Writes a run folder: `state` picks which files exist (a finished run by default). */
export async function writeRun(
  dir: string,
  options: { done?: boolean; status?: unknown; telemetry?: string; withPhi?: boolean } = {},
): Promise<void> {
  const done = options.done ?? true;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/space.space`, SPACE);
  await Deno.writeTextFile(
    `${dir}/run.json`,
    JSON.stringify({
      version: 1,
      spaceFile: "fixture.space",
      spaceHash: "0".repeat(64),
      seed: 3,
      epochs: 3,
      batchSize: 8,
      stepsPerEpoch: 4,
      backend: "cpu",
      data: { kind: "synthetic", n: 16 },
      started: "2026-12-01T00:00:00.000Z",
    }),
  );
  const records = telemetryRecords(options.withPhi ?? true).slice(0, done ? 3 : 2);
  await Deno.writeTextFile(
    `${dir}/telemetry.jsonl`,
    options.telemetry ?? records.map((r) => JSON.stringify(r) + "\n").join(""),
  );
  if (done) await Deno.writeTextFile(`${dir}/genotype.json`, JSON.stringify(genotype()));
  const status = options.status ?? { state: done ? "done" : "running", updated: new Date().toISOString() };
  if (status !== null) await Deno.writeTextFile(`${dir}/status.json`, JSON.stringify(status));
}

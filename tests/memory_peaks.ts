// The measurements behind dsl/memory.ts's factors: the peak memory of two training steps of one
// network at one batch, one process per configuration (a process's peak RSS never falls, so each point
// needs its own). Native reads the process's peak RSS (getrusage, as `deno task bench` does); wasm its
// heap (wasm memory never shrinks). Prints one JSON line per configuration, with the estimate beside it.
//
//   deno run -A tests/memory_peaks.ts                  # every configuration below, native
//   deno run -A tests/memory_peaks.ts --backend wasm   # wasm's
//   deno run -A tests/memory_peaks.ts --backend wasm --net v2 --batch 4 --recompute
//   deno run -A tests/memory_peaks.ts --net darts --batch 2           # one configuration, in this process
//
// --net: v2 (DARTS_V2's evaluation network, C = 36, 20 cells, auxiliary head, drop-path 0.2, 32×32×3, as
// `deno task bench --eval` trains it), darts (spaces/darts.space's supernet, 32×32×3) or quickstart
// (spaces/quickstart.space's supernet, 32×32×1); the supernets run bench's first-order step (w and α).
import { parseArgs } from "../dsl/deps.ts";
import { compileSpace, fixedCells, inferEvaluation, summarize } from "../dsl/mod.ts";
import type { SpaceIR } from "../dsl/ir.ts";
import { evaluationMemory, type MemoryFactors, PEAK_FACTORS, searchMemory } from "../dsl/memory.ts";
import { resourceUsage, tf } from "../runtime/deps.ts";
import { type BackendName, useBackend } from "../runtime/kernels/backend.ts";
import { syntheticDataset } from "../runtime/data/datasets.ts";
import { SearchRun } from "../runtime/loops/search.ts";
import { prepareEvaluation } from "../runtime/cli/_bench_eval.ts";

/** The configurations of one backend: DARTS_V2 at two batches, the supernets at fixed ones. */
function configurations(v2Batches: readonly [number, number]) {
  return [
    ...v2Batches.map((batch) => ({ net: "v2", batch, recompute: false })),
    ...v2Batches.map((batch) => ({ net: "v2", batch, recompute: true })),
    { net: "quickstart", batch: 16, recompute: false },
    { net: "quickstart", batch: 128, recompute: false },
    { net: "darts", batch: 2, recompute: false },
    { net: "darts", batch: 8, recompute: false },
    { net: "darts", batch: 8, recompute: true },
    { net: "darts", batch: 32, recompute: true },
  ];
}

/** The configurations of the calibration per backend: network, batches, recomputation. */
const CONFIGURATIONS: Readonly<
  Record<string, readonly { net: string; batch: number; recompute: boolean }[]>
> = {
  native: configurations([8, 32]),
  // Single-threaded and slower: smaller batches, far enough apart that the heap's growth ahead of need
  // (up to 96 MiB) does not blur the slopes.
  wasm: configurations([4, 16]),
};

function space(name: string): SpaceIR {
  const file = new URL(`../spaces/${name}.space`, import.meta.url);
  const { ir } = compileSpace(Deno.readTextFileSync(file), file.pathname);
  if (!ir) throw new Error(`spaces/${name}.space does not compile`);
  return ir;
}

/** The estimate of one configuration with `factors`. */
function estimate(net: string, batch: number, recompute: boolean, factors: MemoryFactors): number {
  const key = recompute ? "recomputed" : "kept";
  if (net === "v2") {
    const ir = space("darts_v2");
    const fixed = fixedCells(ir);
    if (!("cells" in fixed)) throw new Error("darts_v2.space is not a found cell");
    const summary = inferEvaluation(ir, fixed.cells, { inputSize: 32, inputChannels: 3 });
    return evaluationMemory(ir, summary, { size: 32, channels: 3 }, batch, factors).total[key];
  }
  const ir = space(net);
  const summary = summarize(ir, { inputChannels: net === "quickstart" ? 1 : 3 });
  return searchMemory(ir, summary, batch, factors).total[key];
}

/** The bytes this backend holds at its peak so far. */
function peakBytes(): number {
  if (tf.getBackend() === "wasm") {
    return (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  }
  return resourceUsage().maxRSS * 1024; // KiB on Linux
}

async function measureHere(net: string, batch: number, recompute: boolean, steps: number) {
  const before = peakBytes();
  let step: () => Promise<void>;
  let dispose: () => void;
  if (net === "v2") {
    const prepared = await prepareEvaluation("darts_v2", batch);
    prepared.run.net.recompute = recompute;
    step = prepared.step;
    dispose = prepared.dispose;
  } else {
    const ir = space(net);
    const channels = net === "quickstart" ? 1 : 3;
    const data = syntheticDataset({ n: 4 * batch, height: 32, width: 32, channels, classes: 10, seed: 0 });
    // As `deno task bench` steps it: grace off (a w step and an α step each time), no pruning.
    const search = {
      ...ir.search,
      grace: { kind: "epochs" as const, epochs: 0 },
      threshold: { kind: "fixed" as const, c: 0 },
    };
    const run = new SearchRun({ ...ir, search }, { data, seed: 0, batchSize: batch, recompute });
    step = () => run.runStep();
    dispose = () => run.dispose();
  }
  try {
    for (let i = 0; i < steps; i++) await step();
  } finally {
    dispose();
  }
  return { before, peak: peakBytes() };
}

async function main(args: string[]): Promise<number> {
  const flags = parseArgs({
    args,
    options: {
      backend: { type: "string", default: "native" },
      net: { type: "string" },
      batch: { type: "string" },
      recompute: { type: "boolean", default: false },
      steps: { type: "string", default: "2" },
    },
  }).values;
  const backend = flags.backend as Exclude<BackendName, "auto">;
  if (flags.net === undefined) {
    for (const c of CONFIGURATIONS[backend] ?? []) {
      const cmd = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL(import.meta.url).pathname,
          "--backend",
          backend,
          "--net",
          c.net,
          "--batch",
          String(c.batch),
          "--steps",
          flags.steps,
          ...(c.recompute ? ["--recompute"] : []),
        ],
        stderr: "inherit",
      });
      const out = await cmd.output();
      if (!out.success) return 1;
      await Deno.stdout.write(out.stdout);
    }
    return 0;
  }
  await useBackend(backend, () => {});
  const batch = Number(flags.batch ?? 8);
  const { before, peak } = await measureHere(flags.net, batch, flags.recompute, Number(flags.steps));
  const factors = PEAK_FACTORS[backend === "native" ? "native" : "wasm"];
  const estimated = estimate(flags.net, batch, flags.recompute, factors);
  console.log(JSON.stringify({
    backend,
    net: flags.net,
    batch,
    recompute: flags.recompute,
    bytesBeforeNetwork: before,
    peakBytes: peak,
    estimate: estimated,
    estimateWasmFactors: estimate(flags.net, batch, flags.recompute, PEAK_FACTORS.wasm),
    ratio: +(estimated / peak).toFixed(3),
  }));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

// The memory estimate (dsl/memory.ts) against the wasm heap measured for DARTS' supernet, the check
// against a backend's memory (runtime/kernels/memory_limit.ts), and the search command refusing a
// space that cannot fit before it allocates anything.
import { assert } from "./deps.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { compileSpace, fixedCells, inferEvaluation, summarize } from "../dsl/mod.ts";
import { evaluationMemory, searchMemory } from "../dsl/memory.ts";
import { fitsMemory, memoryLimit, WASM_HEAP_BYTES } from "../runtime/kernels/memory_limit.ts";
import { main as searchMain } from "../runtime/cli/search.ts";
import type { SpaceIR } from "../dsl/ir.ts";

function space(file: string): SpaceIR {
  const path = new URL(`../spaces/${file}`, import.meta.url);
  const { ir } = compileSpace(Deno.readTextFileSync(path), file);
  assert.ok(ir);
  return ir;
}

const WASM = { bytes: WASM_HEAP_BYTES, bufferBytes: null, what: "wasm's 4 GiB heap" };
const WORDS = { run: "the search", shrink: "channels or cells" };

/**
 * Peak wasm heap after one training step at 32×32×3 (tfjs 4.22.0, Deno 2.9.6), measured with
 * `wasm.HEAPU8.buffer.byteLength` (wasm memory never shrinks; it also grows ahead of need by up to
 * 96 MiB, so small batches read high): bytes by network, batch and recomputation.
 */
const MEASURED_HEAP = [
  { net: "search", batch: 1, recompute: false, bytes: 1_547_173_888 },
  { net: "search", batch: 2, recompute: false, bytes: 2_859_270_144 },
  { net: "search", batch: 1, recompute: true, bytes: 104_529_920 },
  { net: "search", batch: 2, recompute: true, bytes: 180_682_752 },
  { net: "search", batch: 8, recompute: true, bytes: 640_614_400 },
  { net: "search", batch: 32, recompute: true, bytes: 2_180_055_040 },
  { net: "evaluation", batch: 1, recompute: false, bytes: 1_044_447_232 },
  { net: "evaluation", batch: 4, recompute: false, bytes: 3_487_629_312 },
  { net: "evaluation", batch: 4, recompute: true, bytes: 640_811_008 },
  { net: "evaluation", batch: 16, recompute: true, bytes: 2_184_118_272 },
];

Deno.test("the memory estimates are within 20% of the wasm heap measured for DARTS' supernet and DARTS_V2's evaluation network", () => {
  const search = space("darts.space");
  const v2 = space("darts_v2.space");
  const fixed = fixedCells(v2);
  assert.ok("cells" in fixed);
  const evaluation = inferEvaluation(v2, fixed.cells, { inputSize: 32, inputChannels: 3 });
  for (const m of MEASURED_HEAP) {
    const estimate = m.net === "search"
      ? searchMemory(search, summarize(search), m.batch)
      : evaluationMemory(v2, evaluation, { size: 32, channels: 3 }, m.batch);
    const ratio = estimate.total[m.recompute ? "recomputed" : "kept"] / m.bytes;
    assert.ok(
      ratio > 0.8 && ratio < 1.2,
      `${m.net} batch ${m.batch}, recompute ${m.recompute}: ratio ${ratio}`,
    );
  }
});

Deno.test("fitsMemory() lets darts.space search at batch 32 on wasm with recomputation and refuses batch 128", () => {
  const ir = space("darts.space");
  const summary = summarize(ir);
  assert.deepEqual(fitsMemory(searchMemory(ir, summary, 32), WASM, WORDS), { fits: true, recompute: true });
  const verdict = fitsMemory(searchMemory(ir, summary, 128), WASM, WORDS);
  assert.equal(verdict.fits, false);
  if (verdict.fits) return;
  assert.match(
    verdict.message,
    /^the search needs about [78]\.\d GiB at batch 128 .* but wasm's 4 GiB heap cannot hold it: use --batch-size (6\d) or less, or fewer channels or cells$/,
  );
});

Deno.test("DARTS_V2's evaluation network trains at batch 32 on wasm (as the benchmark does) and not at 96", () => {
  const ir = space("darts_v2.space");
  const fixed = fixedCells(ir);
  assert.ok("cells" in fixed);
  const summary = inferEvaluation(ir, fixed.cells, { inputSize: 32, inputChannels: 3 });
  const at = (batch: number) =>
    fitsMemory(evaluationMemory(ir, summary, { size: 32, channels: 3 }, batch), WASM, WORDS);
  assert.deepEqual(at(32), { fits: true, recompute: true });
  assert.equal(at(96).fits, false);
});

Deno.test("the quickstart and the tiny space fit wasm at their batch sizes", () => {
  for (const file of ["quickstart.space", "tiny.space"]) {
    const ir = space(file);
    const summary = summarize(ir, { inputChannels: 1 });
    const verdict = fitsMemory(searchMemory(ir, summary), WASM, WORDS);
    assert.ok(verdict.fits, file);
  }
});

Deno.test("fitsMemory() refuses a tensor larger than the GPU's largest buffer", () => {
  const ir = space("darts.space");
  const limit = { bytes: 2 ** 40, bufferBytes: 2 ** 20, what: "the GPU's largest buffer of 1 MiB" };
  const verdict = fitsMemory(searchMemory(ir, summarize(ir), 64), limit, WORDS);
  assert.ok(!verdict.fits && /a tensor of .* at batch 64/.test(verdict.message));
});

Deno.test("memoryLimit() is wasm's 4 GiB heap, and unknown for cpu without permission to read the machine's memory", async () => {
  assert.equal((await memoryLimit("wasm")).bytes, 4 * 2 ** 30);
  const state = (await Deno.permissions.query({ name: "sys", kind: "systemMemoryInfo" })).state;
  const cpu = await memoryLimit("cpu");
  if (state === "granted") assert.equal(cpu.bytes, Deno.systemMemoryInfo().total);
  else assert.equal(cpu.bytes, null);
});

Deno.test("search exits 1 with one message, and writes nothing, when the space cannot fit wasm's heap", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/wide.space`;
    await Deno.writeTextFile(
      file,
      `space wide {
  operation sep = sep_conv(kernel: 3)
  cell normal { nodes: 4 candidates: sep }
  cell reduction extends normal { reduction: true }
  supernet { channels: 4096 cells: 8 }
  search asap { batch_size: 32 }
}`,
    );
    const io = captureIo();
    const out = `${dir}/run`;
    const code = await searchMain([file, "--synthetic", "64", "--backend", "wasm", "--out", out], io);
    assert.equal(code, 1);
    const lines = io.stderr().trim().split("\n");
    assert.equal(lines.length, 1, io.stderr());
    assert.match(
      lines[0]!,
      /^error: the search needs about .* GiB at batch 32 .* but wasm's 4 GiB heap cannot hold it: /,
    );
    assert.match(lines[0]!, /fewer channels, cells, nodes or candidates in the space$/);
    await assert.rejects(() => Deno.lstat(out), Deno.errors.NotFound);
  });
});

// The memory estimate (dsl/memory.ts) against the wasm heap and the native peak RSS measured for DARTS'
// supernet, the quickstart's and DARTS_V2's evaluation network (tests/memory_peaks.ts measures them), the check
// against a backend's memory (runtime/kernels/memory_limit.ts), and the search command refusing a
// space that cannot fit before it allocates anything.
import { assert } from "./deps.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { compileSpace, fixedCells, inferEvaluation, summarize } from "../dsl/mod.ts";
import { evaluationMemory, type MemoryFactors, PEAK_FACTORS, searchMemory } from "../dsl/memory.ts";
import { fitsMemory, memoryLimit, WASM_HEAP_BYTES } from "../runtime/kernels/memory_limit.ts";
import { main as searchMain } from "../runtime/cli/search.ts";
import { memoryFactors } from "../runtime/cli/_memory.ts";
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
 * Peak wasm heap of a process that built one network and ran two training steps (tfjs 4.22.0, Deno 2.9.6,
 * 2026-12-05), 32×32 images, `wasm.HEAPU8.buffer.byteLength` (wasm memory never shrinks; it grows ahead
 * of need in steps, so small batches read high), by `deno run -A tests/memory_peaks.ts --backend wasm`:
 * bytes by network, batch and recomputation. "search" is DARTS' supernet, "quickstart"
 * spaces/quickstart.space's (one-channel images), both a w and an α step; "evaluation" DARTS_V2 at C = 36,
 * 20 cells, with its auxiliary head and drop-path, as bench --eval trains it. The factors of 2026-12-01,
 * from before runtime/kernels/lean_backprop.ts, estimated 3.1–14× these.
 */
const MEASURED_HEAP = [
  { net: "evaluation", batch: 4, recompute: false, bytes: 640_745_472 },
  { net: "evaluation", batch: 16, recompute: false, bytes: 1_949_761_536 },
  { net: "evaluation", batch: 4, recompute: true, bytes: 180_682_752 },
  { net: "evaluation", batch: 16, recompute: true, bytes: 438_239_232 },
  { net: "quickstart", batch: 16, recompute: false, bytes: 104_529_920 },
  { net: "quickstart", batch: 128, recompute: false, bytes: 758_448_128 },
  { net: "search", batch: 2, recompute: false, bytes: 216_858_624 },
  { net: "search", batch: 8, recompute: false, bytes: 741_670_912 },
  { net: "search", batch: 8, recompute: true, bytes: 125_435_904 },
  { net: "search", batch: 32, recompute: true, bytes: 377_225_216 },
];

/** Peak bytes of one measured configuration by the estimate with `factors`. */
function estimated(
  m: { net: string; batch: number; recompute: boolean },
  factors: MemoryFactors,
): number {
  const key = m.recompute ? "recomputed" : "kept";
  if (m.net === "evaluation") {
    const v2 = space("darts_v2.space");
    const fixed = fixedCells(v2);
    assert.ok("cells" in fixed);
    const summary = inferEvaluation(v2, fixed.cells, { inputSize: 32, inputChannels: 3 });
    return evaluationMemory(v2, summary, { size: 32, channels: 3 }, m.batch, factors).total[key];
  }
  const ir = space(m.net === "quickstart" ? "quickstart.space" : "darts.space");
  const summary = summarize(ir, { inputChannels: m.net === "quickstart" ? 1 : 3 });
  return searchMemory(ir, summary, m.batch, factors).total[key];
}

Deno.test("the wasm estimates are at or above the wasm heap measured, and within 1.5× of it", () => {
  for (const m of MEASURED_HEAP) {
    const ratio = estimated(m, PEAK_FACTORS.wasm) / m.bytes;
    assert.ok(
      ratio >= 1 && ratio < 1.5,
      `${m.net} batch ${m.batch}, recompute ${m.recompute}: ratio ${ratio}`,
    );
  }
});

/**
 * Peak RSS of a process that built one network and ran two training steps on native (ATen through
 * libtorch 1.13, 2 threads, Deno 2.9.6, 2026-12-05), 32×32 images, by `deno run -A tests/memory_peaks.ts`
 * (one process per line; the machine busy with other jobs, which does not move RSS); the networks as
 * above. The estimates then in use on native, the wasm factors of 2026-12-01, were 1.1–9.1× these
 * (DARTS_V2 at batch 32: 27.7 GiB against 4.07 GB measured).
 */
const MEASURED_NATIVE_RSS = [
  { net: "evaluation", batch: 8, recompute: false, bytes: 1_236_217_856 },
  { net: "evaluation", batch: 32, recompute: false, bytes: 4_065_665_024 },
  { net: "evaluation", batch: 8, recompute: true, bytes: 521_990_144 },
  { net: "evaluation", batch: 32, recompute: true, bytes: 1_006_260_224 },
  { net: "quickstart", batch: 16, recompute: false, bytes: 414_449_664 },
  { net: "quickstart", batch: 128, recompute: false, bytes: 1_151_623_168 },
  { net: "search", batch: 2, recompute: false, bytes: 613_949_440 },
  { net: "search", batch: 8, recompute: false, bytes: 1_165_856_768 },
  { net: "search", batch: 8, recompute: true, bytes: 510_754_816 },
  { net: "search", batch: 32, recompute: true, bytes: 737_906_688 },
];

Deno.test("the native estimates are at or above the peak RSS measured on native, and within 1.5× of it", () => {
  for (const m of MEASURED_NATIVE_RSS) {
    const ratio = estimated(m, PEAK_FACTORS.native) / m.bytes;
    assert.ok(
      ratio >= 1 && ratio < 1.5,
      `${m.net} batch ${m.batch}, recompute ${m.recompute}: ratio ${ratio}`,
    );
  }
});

Deno.test("DARTS_V2 at batch 32 keeps its activations on a 24 GiB machine with native's factors, and recomputed with the old ones", () => {
  const m = { net: "evaluation", batch: 32, recompute: false };
  const measured = MEASURED_NATIVE_RSS.find((r) => r.net === m.net && r.batch === 32 && !r.recompute)!.bytes;
  const native = estimated(m, PEAK_FACTORS.native);
  assert.ok(native >= measured && native < 1.5 * measured, `native estimate ${native}`);
  // The factors of 2026-12-01 (wasm's, then used for every backend) estimated 27.7 GiB.
  const old = { kept: 5.0, evaluationKept: 5.0, recomputed: 2.25, cell: 6.4, baseBytes: 16 * 2 ** 20 };
  assert.ok(estimated(m, old) > 1.5 * measured);
  // The check evaluate runs before it builds the network (runtime/cli/_memory.ts), on this machine kind.
  const ir = space("darts_v2.space");
  const fixed = fixedCells(ir);
  assert.ok("cells" in fixed);
  const summary = inferEvaluation(ir, fixed.cells, { inputSize: 32, inputChannels: 3 });
  const machine = { bytes: 24 * 2 ** 30, bufferBytes: null, what: "this machine's 24.0 GiB of memory" };
  const at = (factors: MemoryFactors) =>
    fitsMemory(evaluationMemory(ir, summary, { size: 32, channels: 3 }, 32, factors), machine, WORDS);
  assert.deepEqual(at(memoryFactors("native")), { fits: true, recompute: false });
  assert.deepEqual(at(old), { fits: true, recompute: true });
});

Deno.test("memoryFactors() gives native its own factors and every tfjs-engine backend wasm's", () => {
  assert.equal(memoryFactors("native"), PEAK_FACTORS.native);
  for (const backend of ["wasm", "cpu", "webgpu"] as const) {
    assert.equal(memoryFactors(backend), PEAK_FACTORS.wasm);
  }
});

Deno.test("fitsMemory() lets darts.space search on wasm at batch 32, at its own 64 with recomputation, and refuses batch 512", () => {
  const ir = space("darts.space");
  const summary = summarize(ir);
  assert.deepEqual(fitsMemory(searchMemory(ir, summary, 32), WASM, WORDS), { fits: true, recompute: false });
  assert.deepEqual(fitsMemory(searchMemory(ir, summary, 64), WASM, WORDS), { fits: true, recompute: true });
  const verdict = fitsMemory(searchMemory(ir, summary, 512), WASM, WORDS);
  assert.equal(verdict.fits, false);
  if (verdict.fits) return;
  assert.match(
    verdict.message,
    /^the search needs about [56]\.\d GiB at batch 512 .* but wasm's 4 GiB heap cannot hold it: use --batch-size (3\d\d) or less, or fewer channels or cells$/,
  );
});

Deno.test("DARTS_V2's evaluation network trains on wasm at batch 16, at 32 and 96 with recomputation, and not at 192", () => {
  const ir = space("darts_v2.space");
  const fixed = fixedCells(ir);
  assert.ok("cells" in fixed);
  const summary = inferEvaluation(ir, fixed.cells, { inputSize: 32, inputChannels: 3 });
  const at = (batch: number) =>
    fitsMemory(evaluationMemory(ir, summary, { size: 32, channels: 3 }, batch), WASM, WORDS);
  assert.deepEqual(at(16), { fits: true, recompute: false });
  assert.deepEqual(at(32), { fits: true, recompute: true });
  assert.deepEqual(at(96), { fits: true, recompute: true });
  assert.equal(at(192).fits, false);
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

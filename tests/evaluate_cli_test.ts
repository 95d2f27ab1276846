import { assert } from "./deps.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { main } from "../runtime/cli/evaluate.ts";
import { compileSpace } from "../dsl/compile.ts";
import { inferEvaluation } from "../dsl/infer.ts";
import { fixedCells, type GenotypeCell } from "../dsl/ir.ts";

/** A found cell, as a search's found.space writes it: one candidate per kept edge. */
const FOUND = `space found {
  operation skip_connect = identity
  operation conv_3x3 = relu > conv(kernel: 3) > batch_norm
  cell normal {
    nodes: 2
    edges {
      prev_prev -> n0 [conv_3x3]
      prev -> n0 [skip_connect]
      prev -> n1 [conv_3x3]
      n0 -> n1 [skip_connect]
    }
  }
  cell reduction extends normal { reduction: true }
  supernet { channels: 4  cells: 3  reductions: [1] }
  evaluate { cells: 4  channels: 4  reductions: [1/3, 2/3]  epochs: 2  batch_size: 8  cutout: 0 }
}
`;

function foundCells(): { ir: NonNullable<ReturnType<typeof compileSpace>["ir"]>; cells: GenotypeCell[] } {
  const ir = compileSpace(FOUND).ir!;
  const fixed = fixedCells(ir);
  assert.ok("cells" in fixed);
  const cells = fixed.cells;
  return { ir, cells };
}

Deno.test("evaluate exits 2 with the usage when the found cell is missing or a flag is unknown", async () => {
  for (
    const [args, message] of [[[], /expected a run folder/], [
      ["x.space", "--bogus"],
      /unknown option/,
    ]] as const
  ) {
    const io = captureIo();
    assert.equal(await main([...args], io), 2);
    assert.match(io.stderr(), message);
    assert.match(io.stderr(), /usage: deno task evaluate/);
  }
});

Deno.test("evaluate --dry-run prints the parameter counts with and without the auxiliary head", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/found.space`;
    await Deno.writeTextFile(file, FOUND);
    const io = captureIo();
    assert.equal(await main([file, "--dry-run", "--channels", "8"], io), 0, io.stderr());
    const { ir, cells } = foundCells();
    const options = { channels: 8, inputSize: 32, inputChannels: 1, classes: 10 };
    const without = inferEvaluation(ir, cells, { ...options, auxiliary: false }).params;
    const withAux = inferEvaluation(ir, cells, { ...options, auxiliary: true }).paramsWithAuxiliary;
    assert.ok(withAux > without);
    const n = (x: number) => x.toLocaleString("en-US");
    assert.ok(
      io.stdout().includes(`parameters: ${n(without)} without the auxiliary head, ${n(withAux)} with it`),
      io.stdout(),
    );
    assert.match(io.stdout(), /4 cells \(reductions at 1, 2\), C = 8, input 32×32×1/);
  });
});

Deno.test("evaluate refuses --cells past the language's limit, and a network too large for wasm before training", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/found.space`;
    await Deno.writeTextFile(file, FOUND);
    const huge = captureIo();
    assert.equal(await main([file, "--cells", "100000000"], huge), 2);
    assert.match(huge.stderr(), /^error: --cells must be at most 512 but is 100000000 \(/);
    const wide = captureIo();
    const out = `${dir}/eval`;
    const args = [file, "--channels", "8192", "--batch-size", "64", "--backend", "wasm", "--out", out];
    assert.equal(await main(args, wide), 1);
    assert.match(
      wide.stderr(),
      /^error: the evaluation training needs about .* at batch 64 .* but wasm's 4 GiB heap cannot hold it: .*--channels or --cells\n$/,
    );
    await assert.rejects(() => Deno.lstat(out), Deno.errors.NotFound);
  });
});

Deno.test("evaluate refuses a search space whose edges still have several candidates", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/search.space`;
    await Deno.writeTextFile(
      file,
      FOUND.replace("prev -> n0 [skip_connect]", "prev -> n0 [skip_connect, conv_3x3]"),
    );
    const io = captureIo();
    assert.equal(await main([file, "--dry-run"], io), 1);
    assert.match(
      io.stderr(),
      /is a search space, not a found cell: an edge of cell "normal" has 2 candidates/,
    );
  });
});

Deno.test("evaluate refuses an auxiliary head that does not fit the map after the last reduction, before training", async () => {
  await withTempDir(async (dir) => {
    // One reduction on the 32×32 digits leaves a 16×16 map where the head needs 8×8 (it used to fail
    // in the first step, as "failed unexpectedly").
    const file = `${dir}/found.space`;
    await Deno.writeTextFile(
      file,
      FOUND.replace("reductions: [1/3, 2/3]", "reductions: [1/2]  auxiliary_weight: 0.4"),
    );
    const io = captureIo();
    assert.equal(await main([file, "--steps-per-epoch", "1", "--out", `${dir}/eval`], io), 1);
    assert.match(io.stderr(), /auxiliary head .* needs an 8×8 map after cell 2, but 32×32 images give 16×16/);
    assert.match(io.stderr(), /auxiliary_weight: 0/);
    assert.doesNotMatch(io.stderr(), /unexpected/);
  });
});

Deno.test("evaluate trains the found cells, reports test accuracy and saves the weights", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/found.space`;
    await Deno.writeTextFile(file, FOUND);
    const out = `${dir}/eval`;
    const io = captureIo();
    const args = [file, "--synthetic", "32", "--steps-per-epoch", "2", "--out", out];
    assert.equal(await main(args, io), 0, io.stderr());
    assert.match(io.stdout(), /^epoch 1\/2 {2}lr /m);
    assert.match(io.stdout(), /^done in \d+:\d\d: test accuracy \d+\.\d\d% on 8 images; /m);
    const result = JSON.parse(await Deno.readTextFile(`${out}/result.json`));
    const { ir, cells } = foundCells();
    const expected = inferEvaluation(ir, cells, {
      inputSize: 8,
      inputChannels: 3,
      classes: 4,
      auxiliary: false,
    });
    assert.equal(result.parameters, expected.params);
    assert.ok(result.testAccuracy >= 0 && result.testAccuracy <= 1);
    const telemetry = (await Deno.readTextFile(`${out}/telemetry.jsonl`)).trimEnd().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(telemetry.length, 2);
    // Throughput and what building the batches took of it, in the file and on the terminal.
    for (const t of telemetry) assert.ok(t.batchMs > 0 && t.batchMs < t.trainMs, JSON.stringify(t));
    assert.match(io.stdout(), /^epoch 2\/2 .* \d+ img\/s \(batches \d+\.\d%\)$/m);
    assert.ok((await Deno.stat(`${out}/weights/weights.json`)).isFile);
    assert.ok((await Deno.stat(`${out}/weights/weights.bin`)).size > 0);
    assert.ok((await Deno.stat(`${out}/checkpoint/latest.json`)).isFile);
  });
});

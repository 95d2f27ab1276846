// The bench's own plumbing: kernel counting, the PyTorch peer's contract, ratios, the JSON report.
import { assert } from "./deps.ts";
import { captureIo, stripSpans } from "./_helpers.ts";
import { DEFAULT_PYTHONS, parsePeerReport, ratios, runPeer } from "../runtime/cli/_bench_peer.ts";
import { main } from "../runtime/cli/bench.ts";
import { compileSpace } from "../dsl/compile.ts";
import { summarize } from "../dsl/infer.ts";
import { useBackend } from "../runtime/kernels/backend.ts";

/** The first interpreter that imports torch, or null (then the peer tests say so and are ignored). */
function pythonWithTorch(): string | null {
  for (const python of DEFAULT_PYTHONS) {
    try {
      const out = new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" }).outputSync();
      if (out.success) return python;
    } catch { /* not installed */ }
  }
  return null;
}
const python = pythonWithTorch();
if (!python) console.log("bench_test: no python3 with torch here, the PyTorch peer tests are ignored");

Deno.test("parsePeerReport() names the missing field of a malformed peer report", () => {
  assert.throws(() => parsePeerReport("Traceback …"), /printed no JSON/);
  assert.throws(() => parsePeerReport(JSON.stringify({ threads: 1, batch: 8 })), /"weightParams"/);
  const result = { name: "all", opsPerEdge: 8, stepMs: 1, cpuMs: 1 };
  assert.throws(
    () => parsePeerReport(JSON.stringify({ threads: 1, batch: 8, weightParams: 1, results: [result] })),
    /result 0 has no number "peakRssBytes"/,
  );
});

Deno.test("ratios() divides ours by the peer's per configuration, matched by ops per edge", () => {
  const ours = [
    { name: "all", opsPerEdge: 8, stepMs: 30, cpuMs: 30, peakRssBytes: 4 },
    { name: "one", opsPerEdge: 1, stepMs: 6, cpuMs: 6, peakRssBytes: 4 },
  ];
  const peer = {
    threads: 2,
    results: [{ name: "all ops", opsPerEdge: 8, stepMs: 10, cpuMs: 15, peakRssBytes: 2 }],
  };
  assert.deepEqual(ratios(ours, peer), [{ opsPerEdge: 8, peerThreads: 2, time: 3, cpu: 2, peakRss: 2 }]);
});

Deno.test("bench --json prints one object with kernels, step and CPU time and peak RSS per configuration", async () => {
  const io = captureIo();
  const code = await main(["--space", "spaces/tiny.space", "--batch", "2", "--steps", "1", "--json"], io);
  assert.equal(code, 0, io.stderr());
  const lines = io.stdout().trim().split("\n");
  assert.equal(lines.length, 1, "one JSON object");
  const report = JSON.parse(lines[0]!);
  assert.equal(report.ours.batch, 2);
  assert.deepEqual(report.peers, []);
  const [all, one] = report.ours.results;
  assert.equal(all.opsPerEdge, 3);
  assert.equal(one.opsPerEdge, 1);
  for (const r of [all, one]) {
    assert.ok(r.kernels > 0 && r.stepMs > 0 && r.cpuMs >= 0 && r.peakRssBytes > 2 ** 20 && r.tfBytes > 0);
    assert.equal(r.topKernels.reduce((n: number, k: { calls: number }) => n + k.calls, 0) <= r.kernels, true);
  }
  assert.ok(all.kernels > one.kernels, "pruning to one op per edge leaves fewer kernels");
});

Deno.test("bench --profile lists every kernel of a step by time, as text and in --json", async () => {
  const args = ["--space", "spaces/tiny.space", "--batch", "2", "--steps", "1", "--profile"];
  const io = captureIo();
  assert.equal(await main([...args, "--json"], io), 0, io.stderr());
  for (const r of JSON.parse(io.stdout()).ours.results) {
    const profile = r.profile as { name: string; calls: number; ms: number }[];
    assert.equal(profile.reduce((n, k) => n + k.calls, 0), r.kernels, "every call of the step");
    assert.ok(profile.every((k, i) => i === 0 || profile[i - 1]!.ms >= k.ms), "the most time first");
    assert.ok(Math.abs(profile.reduce((ms, k) => ms + k.ms, 0) - r.kernelMs) < 1e-6 * (1 + r.kernelMs));
    assert.ok(r.profileStepMs >= r.kernelMs, "the kernels ran inside the profiled step");
  }
  const text = captureIo();
  assert.equal(await main(args, text), 0, text.stderr());
  assert.match(
    text.stdout(),
    /profile of one step after two warm-up steps: \d+ ms, \d+ ms inside \d+ kernel calls \(\d+ kernels\), \d+ ms outside/,
  );
  assert.match(text.stdout(), /^ {2}\w+ +\d+ calls +[\d.]+ ms +\d+ µs\/call$/m);
});

Deno.test("bench --peer refuses a space other than DARTS, and bad flags, with exit code 2", async () => {
  for (
    const args of [
      ["--space", "spaces/tiny.space", "--peer"],
      ["--threads", "0"],
      ["--peer-device", "tpu"],
      ["--rounds", "2"],
      ["--peer", "--rounds", "two"],
      ["--no-such-flag"],
    ]
  ) {
    const io = captureIo();
    assert.equal(await main(args, io), 2, args.join(" "));
    assert.match(io.stderr(), /--peer|--threads|--peer-device|--rounds|no-such-flag/);
  }
});

Deno.test({
  name: "the PyTorch peer has exactly the weights dsl/infer counts for spaces/darts.space (1,930,618)",
  ignore: !python,
  fn: async () => {
    const file = "spaces/darts.space";
    const { ir } = compileSpace(await Deno.readTextFile(file), file);
    const ours = summarize(ir!).weightParams;
    assert.equal(ours, 1930618);
    const peer = await runPeer({
      batch: 1,
      steps: 1,
      threads: 1,
      keep: "sep_conv_3x3",
      device: "cpu",
      memoryFormat: "channels_last",
      pythons: [python!],
      paramsOnly: true,
    });
    assert.equal(peer.weightParams, ours);
  },
});

Deno.test({
  name: "the PyTorch peer times a step (here one op per edge) and reports wall time, CPU time and peak RSS",
  ignore: !python,
  fn: async () => {
    const peer = await runPeer({
      batch: 1,
      steps: 1,
      threads: 1,
      keep: "skip_connect",
      device: "cpu",
      memoryFormat: "contiguous",
      pythons: [python!],
      only: "one", // all ops: the bench's own runs (minutes on a busy 2-core machine)
    });
    assert.equal(peer.batch, 1);
    assert.equal(peer.threads, 1);
    assert.deepEqual(peer.results.map((r) => r.opsPerEdge), [1]);
    for (const r of peer.results) assert.ok(r.stepMs > 0 && r.cpuMs > 0 && r.peakRssBytes > 2 ** 20);
    assert.equal(peer.python, python);
  },
});

Deno.test({
  name:
    "bench --peer --rounds times our all-ops step and the peer's back to back and reports the median ratio",
  ignore: !python,
  fn: async () => {
    const io = captureIo();
    const args = ["--peer", "--rounds", "1", "--batch", "1", "--steps", "1", "--threads", "1", "--json"];
    assert.equal(await main([...args, "--python", python!], io), 0, io.stderr());
    const report = JSON.parse(io.stdout().trim().split("\n").at(-1)!);
    const [round] = report.paired.rounds;
    assert.equal(report.paired.rounds.length, 1);
    assert.ok(round.oursMs > 0 && round.peerMs > 0);
    assert.equal(round.ratio, round.oursMs / round.peerMs);
    assert.equal(report.paired.medianRatio, round.ratio);
  },
});

Deno.test({
  name: "the PyTorch peer's evaluation network has DARTS_V2's 3,349,342 weights, as ours (C = 36, 20 cells)",
  ignore: !python,
  fn: async () => {
    const { prepareEvaluation } = await import("../runtime/cli/_bench_eval.ts");
    await useBackend("cpu");
    const prepared = await prepareEvaluation("darts_v2", 1);
    try {
      const ours = prepared.run.net.parameterCount();
      assert.equal(ours, 3349342);
      const peer = await runPeer({
        batch: 1,
        steps: 1,
        threads: 1,
        keep: "sep_conv_3x3",
        device: "cpu",
        memoryFormat: "contiguous",
        pythons: [python!],
        paramsOnly: true,
        evaluation: prepared.spec,
      });
      assert.equal(peer.weightParams, ours);
      assert.equal(
        (peer as unknown as { weightParamsWithAuxiliary: number }).weightParamsWithAuxiliary,
        prepared.run.net.parameterCount({ auxiliary: true }),
      );
    } finally {
      prepared.dispose();
    }
  },
});

Deno.test({
  name:
    "the PyTorch peer times the quickstart evaluation network's training step, with the same weights as ours",
  ignore: !python,
  fn: async () => {
    const { prepareEvaluation } = await import("../runtime/cli/_bench_eval.ts");
    await useBackend("cpu");
    const prepared = await prepareEvaluation("quickstart", 2);
    try {
      const peer = await runPeer({
        batch: 2,
        steps: 1,
        threads: 1,
        keep: "sep_conv_3x3",
        device: "cpu",
        memoryFormat: "channels_last",
        pythons: [python!],
        evaluation: prepared.spec,
      });
      assert.equal(peer.weightParams, prepared.run.net.parameterCount());
      const [result] = peer.results;
      assert.equal(peer.results.length, 1);
      assert.ok(result!.stepMs > 0 && result!.cpuMs > 0 && result!.peakRssBytes > 2 ** 20);
    } finally {
      prepared.dispose();
    }
  },
});

Deno.test("spaces/quickstart_cell.space is spaces/quickstart.space with each edge fixed to one of its candidates", async () => {
  const read = async (name: string) => {
    const file = `spaces/${name}.space`;
    const { ir } = compileSpace(await Deno.readTextFile(new URL(`../${file}`, import.meta.url)), file);
    assert.ok(ir, file);
    return ir;
  };
  const [space, cell] = [await read("quickstart"), await read("quickstart_cell")];
  // What the bench's quickstart network and `evaluate spaces/quickstart_cell.space` train with.
  assert.deepEqual(stripSpans(cell.operations), stripSpans(space.operations));
  assert.deepEqual(stripSpans(cell.supernet), stripSpans(space.supernet));
  assert.deepEqual(stripSpans(cell.search), stripSpans(space.search));
  assert.deepEqual(stripSpans(cell.evaluate), stripSpans(space.evaluate));
  for (const type of cell.cellTypes) {
    const searched = space.cellTypes.find((t) => t.name === type.name)!;
    assert.equal(type.edges.length, searched.edges.length, type.name);
    for (const [i, e] of type.edges.entries()) {
      const from = searched.edges[i]!;
      assert.deepEqual([e.from, e.to], [from.from, from.to], `${type.name} edge ${i}`);
      assert.equal(e.candidates.length, 1);
      assert.ok(from.candidates.includes(e.candidates[0]!), `${type.name} edge ${i}: ${e.candidates[0]}`);
    }
  }
});

Deno.test("evaluationSpec() refuses a cell type the peer cannot build, naming it", async () => {
  const { evaluationSpec } = await import("../runtime/cli/_bench_peer.ts");
  const { ir } = compileSpace(`space one_input {
    operation skip = identity
    cell normal { inputs: prev  nodes: 1 candidates: skip }
    cell reduction extends normal { reduction: true }
    supernet { channels: 4 cells: 3 reductions: [1] }
  }`);
  const edges = [{ from: { kind: "input" as const, index: 0 }, to: 0, op: "skip" }];
  const cells = [{ cellType: "normal", edges }, { cellType: "reduction", edges }];
  assert.throws(
    () =>
      evaluationSpec(ir!, cells, { name: "x", inputChannels: 3, imageSize: 32, classes: 10, dropPath: 0 }),
    /DARTS-style cells .*"normal"/,
  );
});

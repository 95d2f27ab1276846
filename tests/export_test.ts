// Export (runtime/export/) with the real runtimes, no mocks: a tiny evaluation network holding every
// op of the shipped spaces and of the `.space` language (tests/_export_fixture.ts), exported as ONNX
// and run by onnxruntime-web (and onnxruntime-node where --allow-ffi is granted: the test task grants
// it only for .asap-cache), and as a tfjs graph model run by stock tfjs-converter on the cpu and wasm
// backends, gives the logits of our own forward pass on 32 images.
import { assert } from "./deps.ts";
import { tf } from "../runtime/deps.ts";
import { useBackend } from "../runtime/kernels/backend.ts";
import { GraphBuilder, GraphError } from "../runtime/nets/inference_graph.ts";
import { encodeTfjsGraph } from "../runtime/export/tfjs_graph.ts";
import { type ExportMetadata, readExport, writeExport } from "../runtime/export/model_files.ts";
import { loadRunner, type OnnxRuntimeName } from "../runtime/export/run_model.ts";
import { exportNetwork } from "./_export_fixture.ts";
import { withTempDir } from "./_helpers.ts";

await useBackend("cpu");

/** onnxruntime-node loads a native addon: only with --allow-ffi for any path. */
const nativeOnnx = (await Deno.permissions.query({ name: "ffi" })).state === "granted";
if (!nativeOnnx) {
  console.warn("export_test: no --allow-ffi, so onnxruntime-node is not run (onnxruntime-web is)");
}

const SIZE = 8;
const CHANNELS = 3;
const STANDARDIZE = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] };

function metadata(layout: "NCHW" | "NHWC"): ExportMetadata {
  return {
    format: "asap-export",
    version: 1,
    space: "export_ops",
    spaceHash: "0".repeat(64),
    genotype: [],
    input: {
      layout,
      height: SIZE,
      width: SIZE,
      channels: CHANNELS,
      range: [0, 1],
      standardization: { ...STANDARDIZE, inModel: true },
    },
    output: { name: "logits", classes: 5 },
    classNames: ["a", "b", "c", "d", "e"],
    source: { run: "test", testAccuracy: null, parameters: 0 },
    exported: new Date(0).toISOString(),
  };
}

/** 32 images in [0, 1] and the logits of our forward pass on them (standardized as training does). */
function reference(net: ReturnType<typeof exportNetwork>): { images: Float32Array; logits: Float32Array } {
  return tf.tidy(() => {
    const x = tf.randomUniform([32, SIZE, SIZE, CHANNELS], 0, 1, "float32", 5) as tf.Tensor4D;
    const standardized = tf.div(tf.sub(x, STANDARDIZE.mean), STANDARDIZE.std) as tf.Tensor4D;
    return {
      images: x.dataSync() as Float32Array,
      logits: net.forward(standardized, false).logits.dataSync() as Float32Array,
    };
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

Deno.test("an exported network of every op gives our logits in onnxruntime (web, node) and in stock tfjs (cpu, wasm)", async () => {
  const net = exportNetwork(CHANNELS);
  try {
    const graph = net.inferenceGraph([SIZE, SIZE, CHANNELS], STANDARDIZE);
    const kinds = new Set(graph.nodes.map((n) => n.kind));
    for (const kind of ["conv", "max_pool", "avg_pool", "subsample", "scale_shift", "concat", "add"]) {
      assert.ok(kinds.has(kind as never), `the test network has no ${kind}`);
    }
    // Batch norms are folded where a conv feeds them: only the standardization, the batch norm
    // after a pool and the zero node remain as scale_shift nodes.
    assert.ok(graph.nodes.filter((n) => n.kind === "scale_shift").length <= 8);
    // Depthwise and dilated convs at stride 1 and 2, grouped convs of C groups.
    const convs = graph.nodes.flatMap((n) => n.kind === "conv" ? [n] : []);
    assert.ok(convs.some((c) => c.dilation === 2 && c.stride === 2 && c.groups > 1));
    assert.ok(convs.some((c) => c.dilation === 2 && c.stride === 2 && c.groups === 1));

    const { images, logits } = reference(net);
    await withTempDir(async (dir) => {
      await writeExport(`${dir}/onnx`, "onnx", graph, metadata("NCHW"));
      await writeExport(`${dir}/tfjs`, "tfjs", graph, metadata("NHWC"));
      const runs: [string, string][] = [
        ["onnx", "web"],
        ...(nativeOnnx ? [["onnx", "node"] as [string, string]] : []),
        ["tfjs", "cpu"],
        ["tfjs", "wasm"],
      ];
      for (const [format, backend] of runs) {
        if (format === "tfjs") await useBackend(backend as "cpu" | "wasm");
        const runner = await loadRunner(
          `${dir}/${format}`,
          format === "onnx" ? backend as OnnxRuntimeName : "auto",
        );
        try {
          assert.equal(runner.model.format, format);
          assert.equal(runner.runtime, format === "onnx" ? `onnxruntime-${backend}` : "tfjs");
          assert.deepEqual(runner.model.metadata.classNames, ["a", "b", "c", "d", "e"]);
          const out = await runner.logits(images, 32);
          const diff = maxAbsDiff(out, logits);
          assert.ok(diff <= 1e-4, `${format} on ${backend}: max |Δ| = ${diff}`);
        } finally {
          await runner.dispose();
        }
      }
    });
  } finally {
    await useBackend("cpu");
    net.dispose();
  }
});

Deno.test("a wrong export would be caught: a perturbed weight moves the logits beyond the tolerance", async () => {
  const net = exportNetwork(CHANNELS);
  try {
    const graph = net.inferenceGraph([SIZE, SIZE, CHANNELS], STANDARDIZE);
    const conv = graph.nodes.find((n) => n.kind === "conv" && n.groups === 1 && n.shape[0] === 3);
    assert.ok(conv && conv.kind === "conv");
    conv.weight[0]! += 0.5;
    const { images, logits } = reference(net);
    await withTempDir(async (dir) => {
      await writeExport(dir, "onnx", graph, metadata("NCHW"));
      const runner = await loadRunner(dir, "web");
      try {
        assert.ok(maxAbsDiff(await runner.logits(images, 32), logits) > 1e-4);
      } finally {
        await runner.dispose();
      }
    });
  } finally {
    net.dispose();
  }
});

Deno.test("a conv with groups that is neither full nor depthwise is refused for tfjs with a clear message", () => {
  const g = new GraphBuilder([4, 4, 4]);
  const y = g.conv(g.input, {
    weight: new Float32Array(9 * 2 * 4),
    shape: [3, 3, 2, 4],
    stride: 1,
    groups: 2,
  });
  const graph = g.finish(g.globalMean(y));
  assert.throws(
    () => encodeTfjsGraph(graph, {}),
    (error: unknown) =>
      error instanceof GraphError && /2 groups on 4 channels.*export it as ONNX/.test(error.message),
  );
});

Deno.test("readExport() names what is missing: no model in a folder, a file without asap's metadata", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => readExport(dir), /holds no exported model/);
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify({ format: "graph-model" }));
    await assert.rejects(() => readExport(dir), /was not exported by asap/);
    await assert.rejects(() => readExport(`${dir}/nothing`), /does not exist/);
  });
});

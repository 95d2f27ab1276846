/**
 * `deno task bench`: the first-order search-step time (w step + α step) of a supernet with every
 * candidate alive, and of the same supernet with one op left per edge, in one run, with their ratio
 * and tfjs memory; with `--eval`, a training step of the DARTS_V2 evaluation network too. `--json`
 * prints one object per line.
 *
 * @module
 */
import { parseArgs } from "../../dsl/deps.ts";
import { compileSpace } from "../../dsl/compile.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import { tf } from "../deps.ts";
import { type BackendName, isBackendName, useBackend } from "../kernels/backend.ts";
import { setNativeThreads } from "../kernels/native/load.ts";
import { syntheticDataset } from "../data/datasets.ts";
import { SearchRun } from "../loops/search.ts";
import { EvaluationNetwork } from "../nets/evaluation_network.ts";
import { fixedCells } from "../../dsl/ir.ts";

const USAGE =
  `usage: deno task bench [--space FILE] [--backend NAME] [--batch N] [--steps N] [--keep OP] [--json]
  --space    the space to time (default spaces/darts.space)
  --backend  auto (default: native if libtorch is installed, else wasm), native, wasm, webgpu, cpu,
             tensorflow, tensorflow-gpu
  --batch    batch size (default 32)
  --steps    timed steps per configuration, after one warm-up step (default 2)
  --keep     the op left on every edge in the pruned configuration (default sep_conv_3x3)
  --eval     also time a training step of the evaluation network of spaces/darts_v2.space (C=36,
             20 cells, auxiliary head); --eval-only: only that (a fresh wasm heap)
  --threads  ATen threads of the native backend (default: every core)
  --json     one JSON object per line: {"name","backend","batch","opsPerEdge","stepMs","tfBytes"}`;

/** One measured configuration. */
export interface BenchResult {
  readonly name: string;
  readonly backend: string;
  readonly batch: number;
  readonly opsPerEdge: number;
  readonly stepMs: number;
  /** tfjs bytes alive at the end of the last forward pass (weights, optimizer slots, saved activations). */
  readonly tfBytes: number;
}

async function timeSteps(run: SearchRun, steps: number): Promise<number> {
  await run.runStep(); // warm-up: kernel compilation, first allocations
  const start = performance.now();
  for (let i = 0; i < steps; i++) await run.runStep();
  return (performance.now() - start) / steps;
}

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      space: { type: "string", default: new URL("../../spaces/darts.space", import.meta.url).pathname },
      backend: { type: "string", default: "auto" },
      batch: { type: "string", default: "32" },
      steps: { type: "string", default: "2" },
      keep: { type: "string", default: "sep_conv_3x3" },
      json: { type: "boolean", default: false },
      eval: { type: "boolean", default: false },
      "eval-only": { type: "boolean", default: false },
      threads: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(steps) || steps < 1) {
    console.error(`--batch and --steps take positive integers\n${USAGE}`);
    return 2;
  }
  if (!isBackendName(values.backend)) {
    console.error(`unknown backend "${values.backend}"\n${USAGE}`);
    return 2;
  }
  const text = await Deno.readTextFile(values.space);
  const { ir, diagnostics } = compileSpace(text, values.space);
  if (!ir) {
    console.error(renderDiagnostics(diagnostics, text));
    return 1;
  }
  const backend = await useBackend(values.backend as BackendName);
  if (values.threads !== undefined) {
    if (backend !== "native") {
      console.error(`--threads sets the native backend's threads; the backend here is ${backend}`);
      return 2;
    }
    const threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) {
      console.error(`--threads takes a positive integer\n${USAGE}`);
      return 2;
    }
    setNativeThreads(threads);
  }
  const size = 32;
  const data = syntheticDataset({
    n: 4 * batch,
    height: size,
    width: size,
    channels: 3,
    classes: 10,
    seed: 0,
  });
  // Grace off: every step is a w step and an α step (the first-order alternation).
  const space = { ...ir, search: { ...ir.search, grace: { kind: "epochs" as const, epochs: 0 } } };
  const threshold = { kind: "fixed" as const, c: 0 }; // no pruning while timing
  const results: BenchResult[] = [];
  const report = (r: BenchResult) => {
    results.push(r);
    console.log(
      values.json
        ? JSON.stringify(r)
        : `${r.name.padEnd(34)} ${(r.stepMs / 1000).toFixed(2).padStart(8)} s/step  ` +
          `${(r.tfBytes / 2 ** 20).toFixed(1).padStart(8)} MiB  (${r.backend}, batch ${r.batch})`,
    );
  };

  for (const keep of values["eval-only"] ? [] : [null, values.keep]) {
    const run = new SearchRun({ ...space, search: { ...space.search, threshold } }, {
      data,
      seed: 0,
      batchSize: batch,
    });
    try {
      let opsPerEdge = Math.max(...ir.cellTypes.flatMap((c) => c.edges.map((e) => e.candidates.length)));
      if (keep) {
        for (const cell of ir.cellTypes) {
          cell.edges.forEach((edge, e) => {
            const at = edge.candidates.indexOf(keep);
            if (at < 0) {
              throw new Error(`--keep: edge ${e} of cell type "${cell.name}" has no candidate "${keep}"`);
            }
            edge.candidates.forEach((_, o) => {
              if (o !== at) run.net.prune({ cellType: cell.name, edge: e }, o);
            });
          });
        }
        opsPerEdge = 1;
      }
      const stepMs = await timeSteps(run, steps);
      report({
        name: (keep ? `${ir.name} supernet, only ${keep}` : `${ir.name} supernet, all ops`) +
          (run.net.recompute ? " (recomputed)" : ""),
        backend: tf.getBackend(),
        batch,
        opsPerEdge,
        stepMs,
        tfBytes: run.net.forwardBytes,
      });
    } finally {
      run.dispose();
    }
  }
  if (values.eval || values["eval-only"]) report(await timeEvaluation(batch, steps));
  const [all, one] = results;
  if (all && one && !values.json) {
    console.log(
      `ratio all ops / one op per edge: ${(all.stepMs / one.stepMs).toFixed(2)}× time, ` +
        `${(all.tfBytes / one.tfBytes).toFixed(2)}× memory`,
    );
    console.log("(with one op per edge no α is left to update: its step is only the w step)");
  }
  return 0;
}

/**
 * One training step (forward + backward with the auxiliary head, drop-path 0.2) of the DARTS_V2
 * evaluation network at the paper's size: C = 36, 20 cells, 32×32×3 inputs.
 */
async function timeEvaluation(batch: number, steps: number): Promise<BenchResult> {
  const file = new URL("../../spaces/darts_v2.space", import.meta.url).pathname;
  const { ir } = compileSpace(await Deno.readTextFile(file), file);
  if (!ir) throw new Error(`${file} does not compile`);
  const fixed = fixedCells(ir);
  if (!("cells" in fixed)) throw new Error(`${file} is not a found cell`);
  const cells = fixed.cells;
  let seed = 0;
  const net = new EvaluationNetwork(ir, cells, {
    inputChannels: 3,
    classes: 10,
    auxiliary: true,
    nextSeed: () => seed++,
  });
  net.recompute = true;
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"),
    10,
  ) as tf.Tensor2D;
  let bytes = 0;
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => {
      const { logits, auxLogits } = net.forward(x, true, 0.2);
      bytes = tf.memory().numBytes;
      const aux = tf.mul(tf.losses.softmaxCrossEntropy(labels, auxLogits!), ir.evaluate.auxiliaryWeight);
      return tf.add(tf.losses.softmaxCrossEntropy(labels, logits), aux) as tf.Scalar;
    }, net.weights());
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  try {
    await step();
    const start = performance.now();
    for (let i = 0; i < steps; i++) await step();
    return {
      name: `darts_v2 evaluation network, C=36, 20 cells (${
        (net.parameterCount({ auxiliary: false }) / 1e6).toFixed(2)
      }M)`,
      backend: tf.getBackend(),
      batch,
      opsPerEdge: 1,
      stepMs: (performance.now() - start) / steps,
      tfBytes: bytes,
    };
  } finally {
    tf.dispose([x, labels]);
    net.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

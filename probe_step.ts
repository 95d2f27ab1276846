import { compileSpace } from "./dsl/compile.ts";
import { useBackend } from "./runtime/kernels/backend.ts";
import { setNativeThreads } from "./runtime/kernels/native/load.ts";
import { syntheticDataset } from "./runtime/data/datasets.ts";
import { TrainRun } from "./runtime/loops/train.ts";
const [threads = "1", ch = "8", bs = "128"] = Deno.args;
const { ir } = compileSpace(await Deno.readTextFile("spaces/bench201.space"), "b.space");
await useBackend("native");
setNativeThreads(Number(threads));
const data = syntheticDataset({ n: 2048, height: 16, width: 16, channels: 1, classes: 10, seed: 1 });
const normal = ir!.cellTypes.find((c) => c.name === "normal")!;
const red = ir!.cellTypes.find((c) => c.name === "reduction")!;
const cells = [
  { cellType: "normal", edges: normal.edges.map((e) => ({ from: e.from, to: e.to, op: "conv_3x3" })) },
  { cellType: "reduction", edges: red.edges.map((e) => ({ from: e.from, to: e.to, op: e.candidates[0]! })) },
];
const run = new TrainRun(ir!, cells, { data, test: data, seed: 0, epochs: 1, channels: Number(ch), cells: 5, auxiliary: false, batchSize: Number(bs), augment: { pad: 0, flip: false } });
for (let i = 0; i < 12; i++) { const t = performance.now(); await run.runStep(); console.log(i, (performance.now() - t).toFixed(1)); }

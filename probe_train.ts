import { compileSpace } from "./dsl/compile.ts";
import { useBackend } from "./runtime/kernels/backend.ts";
import { setNativeThreads } from "./runtime/kernels/native/load.ts";
import { loadSource } from "./runtime/data/sources.ts";
import { balancedParts, downsample, pick } from "./runtime/data/reshape.ts";
import { train } from "./runtime/loops/train.ts";
const [ops = "conv_3x3,conv_3x3,conv_3x3", nTrain = "10000", epochs = "2", threads = "1", ch = "16"] = Deno.args;
const { ir } = compileSpace(await Deno.readTextFile("spaces/bench201.space"), "b.space");
await useBackend("native");
setNativeThreads(Number(threads));
let t = performance.now();
const full = downsample(await loadSource({ kind: "fashion-mnist" }, "train"), 2);
const testFull = downsample(await loadSource({ kind: "fashion-mnist" }, "test"), 2);
const [tr, va] = balancedParts(full, [Number(nTrain), 5000], 0);
const data = pick(full, tr!, "tr"); const val = pick(full, va!, "va");
console.log("data", (performance.now() - t).toFixed(0), "ms");
const normal = ir!.cellTypes.find((c) => c.name === "normal")!;
const red = ir!.cellTypes.find((c) => c.name === "reduction")!;
const names = ops.split(",");
const cells = [
  { cellType: "normal", edges: normal.edges.map((e, i) => ({ from: e.from, to: e.to, op: names[i]! })) },
  { cellType: "reduction", edges: red.edges.map((e) => ({ from: e.from, to: e.to, op: e.candidates[0]! })) },
];
t = performance.now();
const r = await train(ir!, cells, { data, test: val, seed: 0, epochs: Number(epochs), channels: Number(ch), cells: 5, auxiliary: false, augment: { pad: 0, flip: false }, testBatchSize: 500,
  onEpoch: (x) => console.log(x.epoch, x.trainAccuracy.toFixed(3), x.testAccuracy.toFixed(4), x.epochMs.toFixed(0)) });
console.log("train", (performance.now() - t).toFixed(0), "ms", r.parameters);

// `--data DIR` with torchvision's ImageFolder layout: a small folder of PNG and JPEG images of three
// classes, made here, loads with its class names, trains (search and evaluate, tiny) with the names
// recorded in run.json and eval.json, exports and predicts with them, and a corrupt file is named before
// training starts.
import { assert } from "./deps.ts";
import { captureIo, fastSpace, withTempDir } from "./_helpers.ts";
import { main as evaluate } from "../runtime/cli/evaluate.ts";
import { main as search } from "../runtime/cli/search.ts";
import { main as compare } from "../runtime/cli/compare.ts";
import { main as exportModel } from "../runtime/cli/export.ts";
import { main as predict } from "../runtime/cli/predict.ts";
import { DataError } from "../runtime/data/datasets.ts";
import { dataSourceOf, inputOf, loadSource } from "../runtime/data/sources.ts";
import { encodePng, jpegJs } from "../runtime/deps_images.ts";

/** A found cell small enough to train in a second (as evaluate_cli_test's). */
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
  evaluate { cells: 3  channels: 4  reductions: [1/3, 2/3]  epochs: 1  batch_size: 4  cutout: 0 }
}
`;

const CLASSES = ["dark", "light", "red"] as const;

/** An RGBA picture of a class: its colour with some noise, `width`×`height`. */
function picture(label: number, width: number, height: number, seed: number): Uint8Array {
  const base = [[30, 30, 30], [220, 220, 220], [200, 30, 30]][label]!;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const noise = ((i * 7919 + seed * 104729) % 31) - 15;
    rgba.set([...base.map((v) => Math.min(255, Math.max(0, v + noise))), 255], 4 * i);
  }
  return rgba;
}

/** Writes `n` images per class into `dir/split/<class>/`: PNGs (RGB, grey, sizes vary) and JPEGs. */
async function writeSplit(dir: string, split: string, n: number): Promise<number> {
  let written = 0;
  for (const [label, name] of CLASSES.entries()) {
    await Deno.mkdir(`${dir}/${split}/${name}/more`, { recursive: true });
    for (let k = 0; k < n; k++) {
      const [w, h] = ([[40, 40], [24, 20], [64, 48]] as const)[k % 3]!;
      const rgba = picture(label, w, h, k);
      if (k % 2 === 0) {
        await Deno.writeFile(
          `${dir}/${split}/${name}/${k}.jpg`,
          jpegJs.encode({ width: w, height: h, data: rgba }, 90).data,
        );
      } else if (label === 2) {
        await Deno.writeFile(
          `${dir}/${split}/${name}/more/${k}.PNG`,
          encodePng({ width: w, height: h, channels: 4, data: rgba }),
        );
      } else {
        const grey = Uint8Array.from({ length: w * h }, (_, i) => rgba[4 * i]!);
        await Deno.writeFile(
          `${dir}/${split}/${name}/${k}.png`,
          encodePng({ width: w, height: h, channels: 1, data: grey }),
        );
      }
      written++;
    }
  }
  await Deno.writeTextFile(`${dir}/${split}/${CLASSES[0]}/notes.txt`, "not an image: skipped");
  return written;
}

Deno.test("an image folder loads as 32×32 RGB with sorted class names and labels from its folders", async () => {
  await withTempDir(async (dir) => {
    const trainCount = await writeSplit(dir, "train", 4);
    await writeSplit(dir, "test", 2);
    const source = dataSourceOf(dir, undefined);
    assert.deepEqual(source, { kind: "image-folder", dir, classNames: [...CLASSES] });
    assert.deepEqual(inputOf(source), { inputSize: 32, inputChannels: 3, classes: 3 });
    const train = await loadSource(source, "train");
    assert.equal(train.labels.length, trainCount);
    assert.deepEqual([...train.labels], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert.equal(train.images.length, trainCount * 32 * 32 * 3);
    // Each image keeps its class's colour through decoding and resizing (noise ±15, JPEG loss).
    const expected = [[30, 30, 30], [220, 220, 220], [200, 30, 30]];
    for (let n = 0; n < trainCount; n++) {
      const pixel = train.images.subarray(n * 3072 + 3 * 500, n * 3072 + 3 * 500 + 3);
      const want = expected[train.labels[n]!]!;
      pixel.forEach((v, c) => assert.ok(Math.abs(v * 255 - want[c]!) < 30, `image ${n}: ${[...pixel]}`));
    }
  });
});

Deno.test("an image folder with a test class that train lacks, or without test/, is refused in one line", async () => {
  await withTempDir(async (dir) => {
    await writeSplit(dir, "train", 1);
    assert.throws(
      () => dataSourceOf(dir, undefined),
      (e: unknown) => e instanceof DataError && /no test\/ folder/.test(e.message),
    );
    await writeSplit(dir, "test", 1);
    await Deno.mkdir(`${dir}/test/zebra`);
    const source = dataSourceOf(dir, undefined);
    await assert.rejects(
      () => loadSource(source, "test"),
      /test\/zebra" is a class the train split does not have/,
    );
  });
});

Deno.test("search, evaluate and compare read an image folder and record its class names; a corrupt image is named before training", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/images`;
    await writeSplit(data, "train", 4);
    await writeSplit(data, "test", 2);
    const space = `${dir}/fast.space`;
    await Deno.writeTextFile(space, fastSpace());
    const tiny = ["--data", data, "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4"];

    const searched = captureIo();
    assert.equal(await search([space, ...tiny, "--out", `${dir}/run`], searched), 0, searched.stderr());
    const run = JSON.parse(await Deno.readTextFile(`${dir}/run/run.json`));
    assert.deepEqual(run.classNames, [...CLASSES]);
    assert.deepEqual(run.data, { kind: "image-folder", dir: data, classNames: [...CLASSES] });

    const found = `${dir}/found.space`;
    await Deno.writeTextFile(found, FOUND);
    const evaluated = captureIo();
    assert.equal(await evaluate([found, ...tiny, "--out", `${dir}/eval`], evaluated), 0, evaluated.stderr());
    assert.match(evaluated.stdout(), /input 32×32×3, 3 classes/);
    assert.match(evaluated.stdout(), /test accuracy \d+\.\d\d% on 6 images/);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/eval/eval.json`));
    assert.deepEqual(config.classNames, [...CLASSES]);

    // The trained network exports with its class names, and predict names them on the folder's test images.
    const exported = captureIo();
    assert.equal(await exportModel([`${dir}/eval`, "--format", "onnx"], exported), 0, exported.stderr());
    assert.match(exported.stdout(), /3 classes \(dark, light, red\)/);
    await Deno.remove(`${data}/test/${CLASSES[0]}/notes.txt`);
    const predicted = captureIo();
    assert.equal(
      await predict([`${dir}/eval/export-onnx`, `${data}/test`], predicted),
      0,
      predicted.stderr(),
    );
    assert.match(predicted.stdout(), /\.(png|jpg|PNG): (dark|light|red) \d+\.\d%/);
    assert.match(predicted.stdout(), /\(label (dark|light|red)\)/);
    assert.match(predicted.stdout(), /accuracy \d+\.\d\d% \(\d\/\d\) on \d labelled images/);

    // compare reads the folder too; its evaluate block's batch (128) does not fit 12 images: said plainly.
    const compared = captureIo();
    const quick = ["--algorithms", "random", "--seeds", "0", "--eval-epochs", "1", "--steps-per-epoch", "1"];
    assert.equal(await compare([space, "--data", data, ...quick, "--out", `${dir}/compare`], compared), 1);
    assert.equal(compared.stderr(), "error: batch size 128 is larger than the training set (12 images)\n");
    const settings = JSON.parse(await Deno.readTextFile(`${dir}/compare/settings.json`));
    assert.deepEqual(settings.data.classNames, [...CLASSES]);

    // One corrupt file among good ones: evaluate exits 1 naming it, and writes no evaluation.
    const png = encodePng({ width: 8, height: 8, channels: 3, data: new Uint8Array(192).fill(90) });
    await Deno.writeFile(`${data}/train/light/broken.png`, png.slice(0, png.length - 25));
    const broken = captureIo();
    assert.equal(await evaluate([found, ...tiny, "--out", `${dir}/eval2`], broken), 1);
    assert.match(
      broken.stderr(),
      /^error: 1 of 13 images in ".*\/images\/train" do not decode: ".*\/train\/light\/broken\.png" is a corrupt PNG: .+\(fix or remove them\)\n$/,
    );
    await assert.rejects(() => Deno.stat(`${dir}/eval2/eval.json`), Deno.errors.NotFound);
  });
});

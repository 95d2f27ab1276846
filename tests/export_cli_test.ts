// `deno task export` and `deno task predict` (runtime/cli/export.ts, predict.ts) end to end on the
// embedded digits: a tiny search, its evaluation, both exports, and predict on the test split through
// onnxruntime and stock tfjs reports exactly the test accuracy evaluate reported. Also their usage
// errors and one-line failures, and predict on image files (PNG, a corrupt one named on stderr).
import { assert } from "./deps.ts";
import { captureIo, fastSpace, withTempDir } from "./_helpers.ts";
import { main as search } from "../runtime/cli/search.ts";
import { main as evaluate } from "../runtime/cli/evaluate.ts";
import { main as exportModel } from "../runtime/cli/export.ts";
import { main as predict } from "../runtime/cli/predict.ts";
import { encodePng } from "../runtime/deps_images.ts";
import { loadMnist } from "../runtime/data/datasets.ts";
import { decodeImage, imageToInput } from "../runtime/data/image_decode.ts";
import { loadRunner } from "../runtime/export/run_model.ts";
import { findChromium, openPage } from "./_browser.ts";
import { TFJS_BROWSER } from "./deps.ts";

const chromium = await findChromium();
if (!chromium) {
  console.warn(
    "export_cli_test: chromium is not installed (apt-get install chromium): the browser step is ignored",
  );
}

/** fastSpace with a tiny evaluate block; no auxiliary head (it needs an 8×8 map after the 2/3 reduction). */
const SPACE = fastSpace("roundtrip", 2).replace(
  /}\n$/,
  "  evaluate { cells: 3  channels: 4  reductions: [1]  epochs: 1  batch_size: 16  auxiliary_weight: 0  cutout: 0 }\n}\n",
);

Deno.test("tiny search → evaluate → export (onnx, tfjs) → predict reports the test accuracy evaluate reported", async (t) => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/roundtrip.space`, SPACE);
    const run = `${dir}/search`;
    const io = captureIo();
    const quick = ["--steps-per-epoch", "2", "--backend", "wasm"];
    assert.equal(await search([`${dir}/roundtrip.space`, ...quick, "--out", run], io), 0, io.stderr());
    const evaluated = `${dir}/eval`;
    assert.equal(await evaluate([run, ...quick, "--out", evaluated], io), 0, io.stderr());
    const result = JSON.parse(await Deno.readTextFile(`${evaluated}/result.json`));
    const expected = `${(100 * result.testAccuracy).toFixed(2)}%`;

    for (const format of ["onnx", "tfjs"]) {
      const exported = captureIo();
      assert.equal(await exportModel([evaluated, "--format", format], exported), 0, exported.stderr());
      assert.match(exported.stdout(), /output logits of 10 classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\)/);
      const predicted = captureIo();
      assert.equal(
        await predict([`${evaluated}/export-${format}`, "--data", "digits"], predicted),
        0,
        predicted.stderr(),
      );
      const line = predicted.stdout();
      assert.ok(
        line.startsWith(
          `accuracy ${expected} (${Math.round(result.testAccuracy * 1663)}/1663) on the test split`,
        ),
        `${format}: evaluate reported ${expected}, predict: ${line}`,
      );
    }

    // The run folder itself: predict finds its export; images from files, one corrupt.
    const test = await loadMnist({ split: "test" });
    const images = `${dir}/images`;
    await Deno.mkdir(`${images}/7`, { recursive: true });
    const pixels = 32 * 32;
    const digit = (i: number) =>
      encodePng({
        width: 32,
        height: 32,
        channels: 1,
        data: Uint8Array.from(test.images.subarray(i * pixels, (i + 1) * pixels), (v) => Math.round(v * 255)),
      });
    const seven = [...test.labels].indexOf(7);
    await Deno.writeFile(`${images}/7/a.png`, digit(seven));
    await Deno.writeFile(`${images}/loose.png`, digit(0));
    await Deno.writeFile(
      `${images}/broken.png`,
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]),
    );
    const files = captureIo();
    assert.equal(await predict([evaluated, images, "--top", "3"], files), 1);
    assert.match(files.stderr(), /^error: ".*broken\.png" is a corrupt PNG/);
    assert.match(files.stdout(), /7\/a\.png: \d \d+\.\d%, \d \d+\.\d%, \d \d+\.\d% {2}\(label 7/);
    assert.match(files.stdout(), /loose\.png: \d \d+\.\d%, /);
    assert.match(files.stdout(), /accuracy (0\.00|100\.00)% \(\d\/1\) on 1 labelled images/);

    await t.step({
      name:
        "headless Chromium loads the tfjs export from 127.0.0.1 with stock tfjs and classifies a digit as predict does",
      ignore: chromium === null,
      fn: async () => {
        // The first of 40 test digits that predict classifies correctly (the model trained for 2 steps).
        const labelled = `${dir}/labelled`;
        for (let i = 0; i < 40; i++) {
          await Deno.mkdir(`${labelled}/${test.labels[i]}`, { recursive: true });
          await Deno.writeFile(`${labelled}/${test.labels[i]}/${String(i).padStart(2, "0")}.png`, digit(i));
        }
        const tfjsModel = `${evaluated}/export-tfjs`;
        const listed = captureIo();
        assert.equal(await predict([tfjsModel, labelled], listed), 0, listed.stderr());
        const right = listed.stdout().split("\n").find((l) => /\(label \d\)$/.test(l));
        assert.ok(right, `predict classified none of 40 digits correctly:\n${listed.stdout()}`);
        const [, file, label, percent] = right.match(/^(\S+\.png): (\d) (\d+\.\d)%/)!;
        const pixels = imageToInput(decodeImage(await Deno.readFile(file!), file!), 32, 1);
        const runner = await loadRunner(tfjsModel);
        const expected = await runner.logits(pixels, 1);
        await runner.dispose();

        const tfjs = await tfjsBundle();
        const html = await readmePage();
        const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
          const path = new URL(request.url).pathname;
          if (path === "/") return new Response(html, { headers: { "content-type": "text/html" } });
          if (path === "/tf.min.js") {
            return new Response(tfjs, { headers: { "content-type": "text/javascript" } });
          }
          const name = path.match(/^\/model\/([\w.-]+)$/)?.[1];
          if (name) return new Response(await Deno.readFile(`${tfjsModel}/${name}`));
          return new Response("not found", { status: 404 });
        });
        const { cdp, close } = await openPage(chromium!);
        try {
          await cdp.send("Page.enable");
          await cdp.send("Page.navigate", { url: `http://127.0.0.1:${server.addr.port}/` });
          const page = await cdp.send<{
            result: {
              value?: { className: string; probability: number; logits: number[]; backend: string };
              description?: string;
            };
          }>("Runtime.evaluate", {
            expression: `(async () => {
              while (typeof classify !== "function") await new Promise((r) => setTimeout(r, 50));
              const out = await classify(${JSON.stringify(Array.from(pixels))});
              return { ...out, backend: tf.getBackend() };
            })()`,
            awaitPromise: true,
            returnByValue: true,
          });
          const value = page.result.value;
          assert.ok(value, `the page failed: ${page.result.description}`);
          assert.equal(
            value.className,
            label,
            `Chromium (${value.backend}) says ${value.className}, predict ${label}`,
          );
          const diff = Math.max(...value.logits.map((v, i) => Math.abs(v - expected[i]!)));
          assert.ok(diff <= 1e-4, `Chromium (${value.backend}) logits differ from predict's by ${diff}`);
          assert.equal((100 * value.probability).toFixed(1), percent);
        } finally {
          await close();
          await server.shutdown();
        }
      },
    });
  });
});

/** The page: the README's snippet ("Use what you found"), its tf.min.js and model/ served beside it. */
async function readmePage(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("## Use what you found"));
  const snippet = section.match(/```html\n([\s\S]*?)```/)?.[1];
  assert.ok(snippet, 'the README\'s "Use what you found" has no html snippet');
  return `<!doctype html><meta charset="utf-8">\n${snippet}`;
}

/** Stock tfjs' browser bundle (dist/tf.min.js of the pinned union package) from Deno's npm cache. */
async function tfjsBundle(): Promise<string> {
  const deno = (args: string[]) =>
    new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "null" }).output();
  await deno(["info", "--no-lock", TFJS_BROWSER.specifier]); // caches the package (deno.lock stays the default path's)
  const { npmCache } = JSON.parse(new TextDecoder().decode((await deno(["info", "--json"])).stdout));
  return await Deno.readTextFile(`${npmCache}/registry.npmjs.org/${TFJS_BROWSER.path}`);
}

Deno.test("export and predict: usage errors exit 2; a search folder, missing weights and a missing model exit 1 in one line", async () => {
  await withTempDir(async (dir) => {
    const usage = [
      [exportModel, [dir], /--format is required/],
      [exportModel, [dir, "--format", "pb"], /unknown format "pb"/],
      [predict, [dir], /expected images/],
      [predict, [dir, "x.png", "--data", "digits"], /not both/],
    ] as const;
    for (const [command, args, message] of usage) {
      const io = captureIo();
      assert.equal(await command([...args], io), 2, io.stderr());
      assert.match(io.stderr(), message);
    }
    await Deno.writeTextFile(`${dir}/genotype.json`, "{}");
    const searchFolder = captureIo();
    assert.equal(await exportModel([dir, "--format", "onnx", "--out", `${dir}/out`], searchFolder), 1);
    assert.match(
      searchFolder.stderr(),
      /^error: ".*" is not an evaluate run folder \(it has no eval\.json\)/,
    );
    await Deno.writeTextFile(
      `${dir}/eval.json`,
      JSON.stringify({ data: { kind: "mnist" }, channels: null, cells: null }),
    );
    const noModel = captureIo();
    assert.equal(await predict([dir, "--data", "digits"], noModel), 1);
    assert.match(noModel.stderr(), /^error: the evaluate run folder ".*" has no exported model/);
    for (const io of [searchFolder, noModel]) {
      assert.equal(io.stderr().trim().split("\n").length, 1, io.stderr());
    }
  });
});

// MNIST-format IDX folders and Fashion-MNIST (--data fashion-mnist, --data DIR).
import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import { DataError } from "../runtime/data/datasets.ts";
import { FASHION_MNIST_DIR, isIdxFolder, loadIdx } from "../runtime/data/idx.ts";
import { dataSourceOf, describeSource, inputOf, loadSource } from "../runtime/data/sources.ts";
import { balancedParts, downsample, pick } from "../runtime/data/reshape.ts";

/** IDX bytes: a big-endian header (magic, dimensions) then the values. */
function idx(magic: number, dims: number[], values: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(values, 4 + 4 * dims.length);
  return out;
}

/** n 28×28 images where pixel (y, x) of image k is (k + y + x) % 256, and their labels. */
function images(n: number): Uint8Array {
  const values = new Uint8Array(n * 784);
  for (let k = 0; k < n; k++) {
    for (let p = 0; p < 784; p++) values[k * 784 + p] = (k + Math.floor(p / 28) + (p % 28)) % 256;
  }
  return idx(0x803, [n, 28, 28], values);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("loadIdx() reads gzipped and plain IDX files, padding 28×28 to 32×32", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte.gz`, await gzip(images(3)));
    await Deno.writeFile(
      `${dir}/train-labels-idx1-ubyte.gz`,
      await gzip(idx(0x801, [3], Uint8Array.from([4, 0, 9]))),
    );
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(2));
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [2], Uint8Array.from([1, 2])));
    const train = await loadIdx(dir, "train");
    assert.deepEqual([...train.labels], [4, 0, 9]);
    assert.deepEqual([train.height, train.width, train.channels, train.classes], [32, 32, 1, 10]);
    // Image 2, pixel (y 5, x 7) of the 28×28 original sits at (7, 9): (2 + 5 + 7) / 255.
    assert.ok(Math.abs(train.images[2 * 1024 + 7 * 32 + 9]! - 14 / 255) < 1e-7);
    assert.equal(train.images[2 * 1024 + 1 * 32 + 1], 0); // padding
    const test = await loadIdx(dir, "test");
    assert.deepEqual([...test.labels], [1, 2]);
    assert.ok(isIdxFolder(dir));
    assert.equal(dataSourceOf(dir, undefined).kind, "idx");
    assert.equal((await loadSource(dataSourceOf(dir, undefined), "test")).labels.length, 2);
  });
});

Deno.test("loadIdx() names the file and what is wrong for bad IDX folders", async () => {
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    ["missing labels", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(1));
    }, /t10k-labels-idx1-ubyte.*is missing/],
    ["wrong magic", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idx(0x801, [1], new Uint8Array(1)));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [1], new Uint8Array(1)));
    }, /t10k-images-idx3-ubyte" is not an IDX file of images/],
    ["truncated", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(2).slice(0, 900));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [2], new Uint8Array(2)));
    }, /has 900 bytes; its header \(2×28×28\) says 1584/],
    ["counts differ", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(2));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [3], new Uint8Array(3)));
    }, /holds 2 images but .* 3 labels/],
    ["not 28×28", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idx(0x803, [1, 32, 32], new Uint8Array(1024)));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [1], new Uint8Array(1)));
    }, /holds 32×32 images; MNIST's format is 28×28/],
    ["bad label", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(1));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [1], Uint8Array.from([10])));
    }, /label 10 of image 0 is not in 0–9/],
    ["corrupt gzip", async (dir) => {
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte.gz`, (await gzip(images(1))).slice(0, 40));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x801, [1], new Uint8Array(1)));
    }, /is not a valid gzip file/],
  ];
  for (const [what, make, message] of cases) {
    await withTempDir(async (dir) => {
      await make(dir);
      await assert.rejects(() => loadIdx(dir, "test"), (error: unknown) => {
        assert.ok(error instanceof DataError, what);
        assert.match(error.message, message, what);
        return true;
      });
    });
  }
});

Deno.test("--data fashion-mnist loads Debian's Fashion-MNIST, or names the package to install", async () => {
  const source = dataSourceOf("fashion-mnist", undefined);
  assert.equal(describeSource(source), "Fashion-MNIST");
  assert.deepEqual(inputOf(source), { inputSize: 32, inputChannels: 1, classes: 10 });
  if (!isIdxFolder(FASHION_MNIST_DIR)) {
    if (Deno.env.get("ASAP_FASHION_MNIST_REQUIRED") === "1") {
      throw new Error("dataset-fashion-mnist is not installed");
    }
    await assert.rejects(() => loadSource(source, "test"), /apt-get install dataset-fashion-mnist/);
    return;
  }
  const test = await loadSource(source, "test");
  assert.equal(test.labels.length, 10_000);
  const perClass = Array.from({ length: 10 }, (_, c) => test.labels.filter((l) => l === c).length);
  assert.deepEqual(perClass, new Array(10).fill(1000)); // the published test split: 1,000 per class
  const train = await loadSource(source, "train");
  assert.equal(train.labels.length, 60_000);
});

Deno.test("balancedParts() deals disjoint class-balanced parts; downsample() takes block means", () => {
  const n = 40;
  const data = {
    name: "d",
    images: Float32Array.from({ length: n * 16 }, (_, i) => i % 16),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 4),
    height: 4,
    width: 4,
    channels: 1,
    classes: 4,
  };
  const [a, b] = balancedParts(data, [8, 12], 3);
  assert.equal(new Set([...a!, ...b!]).size, 20);
  for (const part of [a!, b!]) {
    const counts = [0, 1, 2, 3].map((c) => part.filter((i) => data.labels[i] === c).length);
    assert.ok(counts.every((c) => c === part.length / 4), `unbalanced: ${counts}`);
  }
  assert.deepEqual(balancedParts(data, [8, 12], 3), [a, b]); // fixed for a seed
  assert.throws(() => balancedParts(data, [40, 4], 0), /class 0 has 10 images, the selection needs 11/);
  const small = downsample(pick(data, [0], "one"), 2);
  // Top-left 2×2 block of 0 1 2 3 / 4 5 6 7: (0 + 1 + 4 + 5) / 4.
  assert.deepEqual([...small.images], [2.5, 4.5, 10.5, 12.5]);
  assert.throws(() => downsample(data, 3), /cannot shrink 4×4 images by 3/);
});

import { assert } from "./deps.ts";
import { CheckpointError, readCheckpoint, sha256Hex, writeCheckpoint } from "../runtime/io/checkpoint_io.ts";
import type { EpochTelemetry, SearchCheckpoint } from "../runtime/loops/search.ts";

/** A checkpoint as plain data, without tfjs: every kind of field a real one has. */
function fakeCheckpoint(epoch: number, fill: number): SearchCheckpoint {
  const telemetry: EpochTelemetry = {
    epoch: 0,
    temperature: 1.6,
    threshold: 0.05,
    lr: 0.025,
    grace: true,
    opsLeft: { normal: [3, 2] },
    sparsity: 0.1,
    entropy: { normal: 0.9 },
    pruned: [{ cellType: "normal", edge: 1, op: "skip", epoch: 0, step: 3, phi: 0.01 }],
    steps: 4,
    epochMs: 120,
    trainLoss: 2.1,
    trainAccuracy: 0.25,
    // No α step ran during grace: the val loss is NaN, and must come back as NaN.
    valLoss: NaN,
    valAccuracy: NaN,
    tfBytes: 1024,
    tfTensors: 12,
  };
  const values = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => fill + k + i / 8);
  return {
    version: 1,
    seed: 7,
    epoch,
    step: 0,
    alive: { normal: [[0, 1, 2], [0, 2]] },
    tensors: {
      "stem/conv": { shape: [3, 3, 1, 4], values: values(36, 0) },
      "alpha/normal/0": { shape: [3], values: values(3, 1) },
    },
    sgd: { "stem/conv#momentum": { shape: [3, 3, 1, 4], values: values(36, 2) } },
    adam: { "alpha/normal/0#m": { shape: [3], values: values(3, 3) } },
    adamSteps: 12,
    rng: { kind: "mulberry32", a: 123456789 },
    order: { train: [3, 1, 0], val: [2, 4, 5] },
    accumulated: { normal: [[0, 0, 0], [0, 0, 0]] },
    telemetry: [telemetry],
    epochProgress: {
      trainLoss: 0,
      trainCorrect: 0,
      valLoss: 0,
      valCorrect: 0,
      trainSeen: 0,
      valSeen: 0,
      steps: 0,
      ms: 0,
      pruned: [],
    },
  } as SearchCheckpoint;
}

async function withRunDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "asap-checkpoint-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("readCheckpoint() gives back every tensor, slot and field writeCheckpoint() wrote, NaN included", async () => {
  await withRunDir(async (dir) => {
    const saved = fakeCheckpoint(3, 0.5);
    await writeCheckpoint(dir, saved);
    const read = await readCheckpoint(dir);
    assert.deepEqual(read, saved);
    assert.ok(Number.isNaN(read.telemetry[0]!.valLoss));
  });
});

Deno.test("writeCheckpoint() leaves one manifest and one data file, removing the previous data file", async () => {
  await withRunDir(async (dir) => {
    await writeCheckpoint(dir, fakeCheckpoint(1, 0));
    await writeCheckpoint(dir, fakeCheckpoint(2, 1));
    const files = await names(`${dir}/checkpoint`);
    assert.equal(files.length, 2);
    assert.ok(files.includes("latest.json"));
    assert.match(files.find((f) => f !== "latest.json")!, /^e0002-s0000-.*\.bin$/);
    assert.equal((await readCheckpoint(dir)).epoch, 2);
  });
});

Deno.test("readCheckpoint() still reads the previous checkpoint after a write killed at any point", async () => {
  await withRunDir(async (dir) => {
    const previous = fakeCheckpoint(1, 0);
    await writeCheckpoint(dir, previous);
    const cp = `${dir}/checkpoint`;
    // Killed while writing the next data file: a half-written temporary file.
    await Deno.writeFile(`${cp}/.e0002-s0000-abc.bin.999.0.x.tmp`, new Uint8Array([1, 2, 3]));
    // Killed after the data file was renamed into place, before the manifest was replaced.
    await Deno.writeFile(`${cp}/e0002-s0000-abc.bin`, new Uint8Array(64));
    // Killed while writing the new manifest: a truncated temporary manifest.
    await Deno.writeTextFile(`${cp}/.latest.json.999.1.x.tmp`, '{"format": "asap-che');
    assert.deepEqual(await readCheckpoint(dir), previous);
    // The next checkpoint cleans the leftovers up.
    await writeCheckpoint(dir, fakeCheckpoint(3, 2));
    assert.equal((await names(cp)).length, 2);
    assert.equal((await readCheckpoint(dir)).epoch, 3);
  });
});

Deno.test("readCheckpoint() refuses a corrupt data file and names it", async () => {
  await withRunDir(async (dir) => {
    await writeCheckpoint(dir, fakeCheckpoint(1, 0));
    const cp = `${dir}/checkpoint`;
    const data = `${cp}/${(await names(cp)).find((f) => f.endsWith(".bin"))!}`;
    const bytes = await Deno.readFile(data);
    bytes[10] = bytes[10]! ^ 0xff;
    await Deno.writeFile(data, bytes);
    await assert.rejects(() => readCheckpoint(dir), (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /SHA-256/);
      assert.ok(e.message.includes(data));
      return true;
    });
    await Deno.writeFile(data, bytes.subarray(0, 20));
    await assert.rejects(() => readCheckpoint(dir), /has 20 bytes, expected/);
    await Deno.remove(data);
    await assert.rejects(() => readCheckpoint(dir), /data file .* is missing/);
  });
});

Deno.test("readCheckpoint() says a run folder has no checkpoint, or that its manifest is not one", async () => {
  await withRunDir(async (dir) => {
    await assert.rejects(() => readCheckpoint(dir), /has no checkpoint/);
    await Deno.mkdir(`${dir}/checkpoint`);
    await Deno.writeTextFile(`${dir}/checkpoint/latest.json`, "{ not json");
    await assert.rejects(() => readCheckpoint(dir), /corrupt: it is not valid JSON/);
    await Deno.writeTextFile(`${dir}/checkpoint/latest.json`, '{"epoch": 3}');
    await assert.rejects(() => readCheckpoint(dir), /not an asap checkpoint/);
  });
});

Deno.test("sha256Hex() matches the SHA-256 test vector of 'abc'", async () => {
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import { writeFileAtomic, writeJsonAtomic } from "../runtime/core/atomic.ts";

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("writeFileAtomic() replaces the content and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/a.txt`, "old");
    await writeFileAtomic(`${dir}/a.txt`, new Uint8Array([110, 101, 119]));
    assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "new");
    assert.deepEqual(await entries(dir), ["a.txt"]);
  });
});

Deno.test("writeFileAtomic() lets a concurrent reader see only the whole old or the whole new content", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/checkpoint.bin`;
    const versions = Array.from({ length: 6 }, (_, v) => new Uint8Array(2_000_000 + v * 1000).fill(v + 1));
    await writeFileAtomic(path, versions[0] as Uint8Array);
    let writing = true;
    const writer = (async () => {
      for (const version of versions.slice(1)) await writeFileAtomic(path, version);
      writing = false;
    })();
    let reads = 0;
    while (writing || reads === 0) {
      const seen = await Deno.readFile(path);
      const v = (seen[0] ?? 0) - 1;
      const expected = versions[v];
      assert.ok(expected, `unexpected first byte ${seen[0]}`);
      assert.equal(seen.length, expected.length, "a read saw a half-written file");
      assert.ok(seen.every((b) => b === v + 1), "a read saw mixed content");
      reads++;
    }
    await writer;
    assert.deepEqual(await Deno.readFile(path), versions[5]);
    assert.deepEqual(await entries(dir), ["checkpoint.bin"]);
  });
});

Deno.test("writeFileAtomic() into a missing folder fails and creates nothing", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => writeFileAtomic(`${dir}/missing/a.txt`, "x"), Deno.errors.NotFound);
    assert.deepEqual(await entries(dir), []);
  });
});

Deno.test("writeFileAtomic() keeps the old file when the rename fails", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/target`);
    await Deno.writeTextFile(`${dir}/target/inside.txt`, "keep");
    await assert.rejects(() => writeFileAtomic(`${dir}/target`, "x"));
    assert.equal(await Deno.readTextFile(`${dir}/target/inside.txt`), "keep");
    assert.deepEqual(await entries(dir), ["target"]);
  });
});

Deno.test("writeJsonAtomic() writes pretty JSON that parses back to the value", async () => {
  await withTempDir(async (dir) => {
    const value = { epoch: 3, alpha: [[0.1, -0.2]], name: "normal" };
    await writeJsonAtomic(`${dir}/state.json`, value);
    const text = await Deno.readTextFile(`${dir}/state.json`);
    assert.deepEqual(JSON.parse(text), value);
    assert.ok(text.endsWith("}\n"));
    assert.match(text, /\n {2}"epoch": 3,/);
  });
});

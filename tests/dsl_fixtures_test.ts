// Fixture snapshots: every invalid fixture's rendered diagnostics must equal its `.expected.txt`
// (regenerate with `UPDATE=1 deno test -A tests/dsl_fixtures_test.ts`); every valid fixture and
// every space in spaces/ compiles without diagnostics and its IR survives a JSON round trip.
import { assert } from "./deps.ts";
import { compileSpace, irToJson, parseIr, renderDiagnostics } from "../dsl/mod.ts";

const root = new URL("../", import.meta.url);
const update = Deno.env.get("UPDATE") === "1";

function spaceFiles(folder: string): string[] {
  return [...Deno.readDirSync(new URL(folder, root))]
    .filter((e) => e.isFile && e.name.endsWith(".space"))
    .map((e) => `${folder}${e.name}`)
    .sort();
}

for (const path of spaceFiles("tests/fixtures/invalid/")) {
  Deno.test(`compileSpace() reports the expected diagnostics for ${path}`, async () => {
    const text = await Deno.readTextFile(new URL(path, root));
    const { ir, diagnostics } = compileSpace(text, path);
    const rendered = renderDiagnostics(diagnostics, text);
    const expectedUrl = new URL(path.replace(/\.space$/, ".expected.txt"), root);
    if (update) await Deno.writeTextFile(expectedUrl, rendered);
    assert.equal(ir, null);
    assert.ok(diagnostics.some((d) => d.severity === "error"));
    assert.equal(rendered, await Deno.readTextFile(expectedUrl));
  });
}

for (const path of [...spaceFiles("tests/fixtures/valid/"), ...spaceFiles("spaces/")]) {
  Deno.test(`compileSpace() compiles ${path} cleanly and its IR round-trips through JSON`, async () => {
    const text = await Deno.readTextFile(new URL(path, root));
    const { ir, diagnostics } = compileSpace(text, path);
    assert.deepEqual(diagnostics, [], renderDiagnostics(diagnostics, text));
    assert.ok(ir);
    assert.equal(ir.source, path);
    assert.deepEqual(parseIr(irToJson(ir)), ir);
  });
}

Deno.test("spaces/ holds the darts, asap and tiny spaces", () => {
  const names = spaceFiles("spaces/");
  for (const name of ["spaces/asap.space", "spaces/darts.space", "spaces/tiny.space"]) {
    assert.ok(names.includes(name));
  }
});

// A clean first run: Deno downloads every npm package that deno.lock lists (not only those the program
// imports) and prints a yellow "Ignored build scripts for packages: …" box for each one with an install
// script. So the lockfile may list only what the code imports, and none of that may have install scripts.
// export and predict (onnxruntime, onnx-proto: install scripts) and the tests use deploy.lock instead
// (deno.json's tasks pass --lock=deploy.lock), so deno.lock stays the default path's.
// (.ci/run also runs `deno task search` with an empty DENO_DIR and fails on any warning.)
import { assert } from "./deps.ts";

interface Lock {
  specifiers: Record<string, string>;
  npm: Record<string, { dependencies?: string[]; scripts?: boolean }>;
}

const root = new URL("../", import.meta.url);
const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", root))) as Lock;

/** The `npm:` specifiers that the project's modules import, statically or by a literal dynamic import. */
async function importedNpmSpecifiers(): Promise<Set<string>> {
  const found = new Set<string>();
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)"(npm:[^"]+)"/g;
  async function walk(dir: URL): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory && entry.name !== "fixtures") await walk(url);
      else if (entry.name.endsWith(".ts")) {
        for (const match of (await Deno.readTextFile(url)).matchAll(pattern)) found.add(match[1]!);
      }
    }
  }
  for (const dir of ["dsl/", "runtime/", "tests/"]) await walk(new URL(dir, root));
  return found;
}

Deno.test("deno.lock lists no npm package with an install script, so a first run prints no warning box", () => {
  const withScripts = Object.entries(lock.npm).filter(([, entry]) => entry.scripts).map(([name]) => name);
  assert.deepEqual(withScripts, []);
});

Deno.test("deno.lock lists only the npm packages that the code imports, and their dependencies", async () => {
  const imported = await importedNpmSpecifiers();
  const stale = Object.keys(lock.specifiers).filter((s) => s.startsWith("npm:") && !imported.has(s));
  assert.deepEqual(stale, [], "in deno.lock but imported nowhere (loaded from a variable, or gone)");
  // Every package of the npm section is reached from a listed specifier.
  const reached = new Set<string>();
  const visit = (key: string) => {
    if (reached.has(key) || !(key in lock.npm)) return;
    reached.add(key);
    for (const dep of lock.npm[key]!.dependencies ?? []) {
      for (const candidate of Object.keys(lock.npm)) {
        if (candidate === dep || candidate.startsWith(`${dep}@`) || candidate.startsWith(`${dep}_`)) {
          visit(candidate);
        }
      }
    }
  };
  for (const [specifier, version] of Object.entries(lock.specifiers)) {
    visit(`${specifier.slice("npm:".length).replace(/@[^@]*$/, "")}@${version}`);
  }
  assert.deepEqual(Object.keys(lock.npm).filter((key) => !reached.has(key)), []);
});

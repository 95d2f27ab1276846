// The dependency rule that the folders state, read from the imports of every module: dsl/ imports
// nothing of the runtime; in runtime/ a layer imports only layers below it; no CLI imports another;
// external packages come in only through a deps.ts.
import { assert } from "./deps.ts";

const ROOT = new URL("../", import.meta.url);

/** runtime/'s layers, lowest first; a module may import its own folder and the layers before it. */
const LAYERS = ["core", "kernels|data", "nets", "loops", "io|export", "report|sweep|table", "cli"] as const;

function rank(folder: string): number {
  return LAYERS.findIndex((names) => names.split("|").includes(folder));
}

async function* modules(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* modules(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) yield path;
  }
}

/** Every specifier a module imports or re-exports, statically or with `import()`. */
function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found = [...code.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']/g)]
    .map((m) => m[1]!);
  found.push(...[...code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!));
  found.push(...[...code.matchAll(/(?:^|\n)\s*import\s*["']([^"']+)["']/g)].map((m) => m[1]!));
  return found;
}

/** `runtime/loops/search.ts` for a relative specifier of `runtime/cli/search.ts`. */
function resolve(from: string, specifier: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

async function importGraph(): Promise<[string, string][]> {
  const edges: [string, string][] = [];
  for (const dir of ["dsl", "runtime"]) {
    for await (const path of modules(dir)) {
      for (const specifier of importsOf(await Deno.readTextFile(new URL(path, ROOT)))) {
        edges.push([path, specifier.startsWith(".") ? resolve(path, specifier) : specifier]);
      }
    }
  }
  return edges;
}

/** Why an import breaks the rule, or null. */
function violation(from: string, to: string): string | null {
  const isDeps = (path: string) => /(^|\/)deps(_\w+)?\.ts$/.test(path);
  if (!to.startsWith("dsl/") && !to.startsWith("runtime/") && !to.startsWith("spaces/")) {
    return isDeps(from) ? null : "an external package outside a deps.ts";
  }
  if (from.startsWith("dsl/")) return to.startsWith("runtime/") ? "the DSL imports the runtime" : null;
  if (to === "runtime/mod.ts") return "a module imports the public entry point";
  const [, fromFolder = "", fromRest] = from.split("/");
  const [, toFolder = "", toRest] = to.split("/");
  if (fromRest === undefined || to.startsWith("dsl/") || isDeps(to)) return null; // runtime/mod.ts, deps
  if (toRest === undefined) return `runtime/${toFolder} is not a layer folder`;
  if (rank(fromFolder) < 0) return `runtime/${fromFolder}/ is not a layer (${LAYERS.join(" → ")})`;
  if (rank(toFolder) < 0) return `runtime/${toFolder}/ is not a layer (${LAYERS.join(" → ")})`;
  if (fromFolder === "cli" && toFolder === "cli" && !to.split("/").at(-1)!.startsWith("_")) {
    return "a CLI imports another CLI (shared CLI code belongs in a _-prefixed module)";
  }
  if (fromFolder === toFolder) return null;
  return rank(toFolder) < rank(fromFolder) ? null : `${fromFolder}/ imports the layer ${toFolder}/ above it`;
}

Deno.test("every import follows the layer rule: dsl ← core ← kernels|data ← nets ← loops ← io|export ← report|sweep|table ← cli", async () => {
  const edges = await importGraph();
  const broken = edges.flatMap(([from, to]) => {
    const why = violation(from, to);
    return why === null ? [] : [`${from} → ${to}: ${why}`];
  });
  assert.deepEqual(broken, []);
  // The graph was read: the search CLI imports the search loop.
  assert.deepEqual(
    edges.some(([from, to]) => from === "runtime/cli/search.ts" && to === "runtime/loops/search.ts"),
    true,
  );
});

Deno.test("the layer rule catches an upward import, a CLI importing a CLI, and a bare package", () => {
  assert.deepEqual(
    violation("runtime/nets/ops.ts", "runtime/loops/search.ts"),
    "nets/ imports the layer loops/ above it",
  );
  assert.deepEqual(
    violation("runtime/kernels/backend.ts", "runtime/data/datasets.ts"),
    "kernels/ imports the layer data/ above it",
  );
  assert.deepEqual(
    violation("runtime/cli/evaluate.ts", "runtime/cli/search.ts")?.startsWith("a CLI imports"),
    true,
  );
  assert.deepEqual(violation("runtime/cli/evaluate.ts", "runtime/cli/_common.ts"), null);
  assert.deepEqual(violation("dsl/infer.ts", "runtime/nets/ops.ts"), "the DSL imports the runtime");
  assert.deepEqual(
    violation("runtime/nets/ops.ts", "npm:@tensorflow/tfjs@4.22.0"),
    "an external package outside a deps.ts",
  );
  assert.deepEqual(violation("runtime/deps.ts", "npm:@tensorflow/tfjs@4.22.0"), null);
  assert.deepEqual(violation("runtime/loops/search.ts", "runtime/nets/supernet.ts"), null);
  // export/ sits beside io/: it reads the nets' graphs; the nets never import their exporters.
  assert.deepEqual(violation("runtime/export/onnx.ts", "runtime/nets/inference_graph.ts"), null);
  assert.deepEqual(
    violation("runtime/nets/evaluation_network.ts", "runtime/export/onnx.ts"),
    "nets/ imports the layer export/ above it",
  );
});

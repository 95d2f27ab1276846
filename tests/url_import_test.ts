import { assert } from "./deps.ts";

const ROOT = new URL("../", import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript; charset=utf-8",
  json: "application/json; charset=utf-8",
};

/** Serves the repository's files read-only over HTTP on 127.0.0.1, as a static file host would. */
function serveRepository(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, ROOT));
      const type = CONTENT_TYPES[path.split(".").pop() ?? ""] ?? "text/plain; charset=utf-8";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** A user's script: imports mod.ts by URL, compiles a tiny space and runs one search step. */
const SCRIPT = (base: string) => `
import { compileSpace, renderDiagnostics, SearchRun, summarize, syntheticDataset, useBackend } from "${base}/mod.ts";
import type { Genotype, SpaceIR } from "${base}/mod.ts";

const text = \`space remote {
  operation skip = identity
  operation pool = avg_pool(kernel: 3)
  cell normal { nodes: 2  candidates: skip, pool }
  cell reduction extends normal { reduction: true }
  supernet { channels: 4  cells: 3  reductions: [1] }
  search asap { batch_size: 4 }
}\`;
const { ir, diagnostics } = compileSpace(text, "remote.space");
if (!ir) throw new Error(renderDiagnostics(diagnostics, text));
const space: SpaceIR = ir;
await useBackend("wasm");
const data = syntheticDataset({ n: 16, height: 8, width: 8, channels: 3, classes: 2, seed: 1 });
const run = new SearchRun(space, { data, seed: 1, epochs: 1, stepsPerEpoch: 1 });
await run.runStep();
const genotype: Genotype = await run.genotype();
run.dispose();
const edges = summarize(space).cellTypes.join("+");
console.log(\`url import ok: space \${space.name}, \${edges}, step \${run.step}, \${genotype.cells.length} cells\`);
`;

Deno.test("mod.ts imported by URL from a folder without deno.json compiles a space and runs a search step", async () => {
  const server = serveRepository();
  const dir = await Deno.makeTempDir({ prefix: "asap-url-import-" });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    await Deno.writeTextFile(`${dir}/script.ts`, SCRIPT(base));
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--allow-import=127.0.0.1:${server.addr.port}`,
        "--allow-net=127.0.0.1",
        "--allow-read",
        "script.ts",
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.match(out, /^url import ok: space remote, normal\+reduction, step 1, 2 cells$/m);
    // Nothing but the program's own output: no download notes, no warnings about packages' build scripts.
    assert.equal(err.replace(/^Download .*\n/gm, ""), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await server.shutdown();
  }
});

Deno.test("dsl/mod.ts imported by URL compiles a space and loads no tfjs module", async () => {
  const server = serveRepository();
  const dir = await Deno.makeTempDir({ prefix: "asap-url-dsl-" });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    await Deno.writeTextFile(
      `${dir}/script.ts`,
      `import { compileSpace, summarize } from "${base}/dsl/mod.ts";
const text = "space s { operation skip = identity cell normal { nodes: 2 candidates: skip } " +
  "cell reduction extends normal { reduction: true } supernet { channels: 4 cells: 3 reductions: [1] } }";
const { ir, diagnostics } = compileSpace(text, "s.space");
if (!ir) throw new Error(diagnostics.map((d) => d.message).join("; "));
console.log(\`dsl ok: \${summarize(ir).cellTypes.join("+")}\`);
`,
    );
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", `--allow-import=127.0.0.1:${server.addr.port}`, "script.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    assert.match(new TextDecoder().decode(run.stdout), /^dsl ok: normal\+reduction$/m);
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `--allow-import=127.0.0.1:${server.addr.port}`, "script.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(info.code, 0, new TextDecoder().decode(info.stderr));
    const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: { specifier: string }[];
      npmPackages?: Record<string, unknown>;
    };
    const specifiers = [...graph.modules.map((m) => m.specifier), ...Object.keys(graph.npmPackages ?? {})];
    assert.ok(specifiers.some((s) => s.includes("chevrotain")), "the graph was read: chevrotain is in it");
    assert.deepEqual(specifiers.filter((s) => s.includes("tensorflow")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await server.shutdown();
  }
});

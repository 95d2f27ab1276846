import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import { telemetryRecords, writeRun } from "./_dashboard_fixtures.ts";
import { dashboardHandler, serveDashboard } from "../runtime/report/dashboard_server.ts";
import { main as dashboardMain } from "../runtime/cli/dashboard.ts";

const SECRET = "top-secret-outside-the-root";

/** A root with a finished run, a running one, a broken one; a secret file beside the root. */
async function withRoot(fn: (root: string, get: (path: string) => Promise<Response>) => Promise<void>) {
  await withTempDir(async (dir) => {
    const root = `${dir}/runs`;
    await writeRun(`${root}/done`);
    await writeRun(`${root}/live`, { done: false });
    await writeRun(`${root}/broken`, {
      done: false,
      telemetry: JSON.stringify(telemetryRecords()[0]) + '\n{"epoch": 1, "temper',
    });
    await Deno.writeTextFile(`${dir}/secret.txt`, SECRET);
    await Deno.mkdir(`${dir}/secret-run`);
    await Deno.writeTextFile(`${dir}/secret-run/run.json`, JSON.stringify({ note: SECRET }));
    const handle = dashboardHandler(root);
    await fn(root, (path) => handle(new Request(`http://127.0.0.1:8765${path}`)));
  });
}

Deno.test("GET / serves the page, which loads nothing from other hosts", async () => {
  await withRoot(async (_root, get) => {
    const response = await get("/");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/);
    const html = await response.text();
    assert.match(html, /<script>/);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//);
    assert.doesNotMatch(html, /<script[^>]+src=/);
    assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  });
});

Deno.test("GET /api/runs lists every run with its status, the broken one as broken", async () => {
  await withRoot(async (_root, get) => {
    const response = await get("/api/runs");
    assert.equal(response.status, 200);
    const runs = await response.json() as {
      id: string;
      status: string;
      epochs: number;
      problems: string[];
    }[];
    assert.deepEqual(runs.map((r) => [r.id, r.status, r.epochs]), [
      ["broken", "broken", 1],
      ["done", "done", 3],
      ["live", "running", 2],
    ]);
    assert.match(runs[0]!.problems[0]!, /line 2 is not valid JSON/);
  });
});

Deno.test("GET /api/run returns a run's telemetry with Φ, its cell types and found cells", async () => {
  await withRoot(async (_root, get) => {
    const run = await (await get("/api/run?id=done")).json();
    assert.equal(run.telemetry.length, 3);
    assert.deepEqual(run.telemetry[2].phi.normal[1], [0.7, 0.3]);
    assert.equal(run.cellTypes[0].edges.length, 3);
    assert.equal(run.found[0].edges[2].op, "max_pool_3x3");
    assert.equal((await get("/api/run?id=nope")).status, 404);
    assert.equal((await get("/api/run")).status, 400);
  });
});

Deno.test("GET /api/supernet.svg draws the supernet cell at each recorded epoch, without pruned ops", async () => {
  await withRoot(async (_root, get) => {
    const first = await get("/api/supernet.svg?id=done&type=normal&epoch=1");
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("content-type"), "image/svg+xml");
    const svg0 = await first.text();
    const svg2 = await (await get("/api/supernet.svg?id=done&type=normal&epoch=3")).text();
    assert.match(svg0, /^<svg/);
    assert.notEqual(svg0, svg2);
    // Epoch 1: 6 candidates drawn; epoch 3: max_pool_3x3 of the first edge is gone.
    const paths = (svg: string) => (svg.match(/<path /g) ?? []).length;
    assert.equal(paths(svg0) - paths(svg2), 1);
    assert.equal((await get("/api/supernet.svg?id=done&type=normal&epoch=9")).status, 404);
    assert.equal((await get("/api/supernet.svg?id=done&type=normal&epoch=0")).status, 404);
    assert.equal((await get("/api/supernet.svg?id=done&type=reduction&epoch=1")).status, 404);
  });
});

Deno.test("GET /api/cell.svg draws a found cell, and 404s before the search is done", async () => {
  await withRoot(async (_root, get) => {
    const response = await get("/api/cell.svg?id=done&type=normal");
    assert.equal(response.status, 200);
    assert.match(await response.text(), /max_pool_3x3/);
    assert.equal((await get("/api/cell.svg?id=live&type=normal")).status, 404);
  });
});

Deno.test("the dashboard serves nothing outside its folder, whatever the path or id", async () => {
  await withRoot(async (root, get) => {
    await Deno.symlink(`${root}/../secret-run`, `${root}/link`);
    const attempts = [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/runs/../../secret.txt",
      "/api/run?id=../secret-run",
      "/api/run?id=..%2Fsecret-run",
      `/api/run?id=${encodeURIComponent(`${root}/../secret-run`)}`,
      "/api/run?id=link",
      "/api/run?id=done/../../secret-run",
      "/api/run?id=.",
      "/api/cell.svg?id=../secret-run&type=normal",
      "/secret.txt",
      "/api/runs/../../secret.txt",
    ];
    for (const path of attempts) {
      const response = await get(path);
      const body = await response.text();
      assert.ok(response.status === 404 || response.status === 400, `${path}: ${response.status}`);
      assert.ok(!body.includes(SECRET), path);
    }
    const list = await (await get("/api/runs")).text();
    assert.ok(!list.includes(SECRET) && !list.includes("link"));
  });
});

Deno.test("the dashboard answers every request even when a run folder changes into garbage", async () => {
  await withRoot(async (root, get) => {
    await Deno.writeFile(`${root}/done/telemetry.jsonl`, crypto.getRandomValues(new Uint8Array(4096)));
    await Deno.writeTextFile(`${root}/done/run.json`, "[1, 2");
    await Deno.remove(`${root}/live/space.space`);
    await Deno.mkdir(`${root}/done/status.json/`, { recursive: true }).catch(() => {});
    const runs = await (await get("/api/runs")).json() as { id: string; status: string }[];
    assert.deepEqual(runs.map((r) => r.status), ["broken", "broken", "broken"]);
    for (const id of ["done", "live", "broken"]) {
      assert.equal((await get(`/api/run?id=${id}`)).status, 200);
      const svg = await get(`/api/supernet.svg?id=${id}&type=normal&epoch=0`);
      assert.ok([200, 404].includes(svg.status));
      await svg.body?.cancel();
    }
  });
});

Deno.test("the dashboard refuses other methods and, when served, other Host headers", async () => {
  await withTempDir(async (root) => {
    const handle = dashboardHandler(root, { hosts: () => ["127.0.0.1:1"] });
    assert.equal((await handle(new Request("http://127.0.0.1:1/api/runs", { method: "POST" }))).status, 405);
    const rebound = new Request("http://evil.example/api/runs", { headers: { host: "evil.example" } });
    assert.equal((await handle(rebound)).status, 421);
    assert.equal((await handle(new Request("http://127.0.0.1:1/api/runs"))).status, 200);
  });
});

Deno.test("serveDashboard() listens on 127.0.0.1 only and answers over HTTP", async () => {
  await withTempDir(async (root) => {
    await writeRun(`${root}/a`);
    const server = serveDashboard(root, 0);
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const runs = await (await fetch(`${server.url}api/runs`)).json();
      assert.equal(runs[0].id, "a");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("deno task dashboard reports a bad port, a missing folder and a taken port, and stops on its signal", async () => {
  const errors: string[] = [];
  const err = (line: string) => errors.push(line);
  assert.equal(await dashboardMain(["--port", "http"], { err }), 2);
  assert.match(errors.pop()!, /--port expects an integer from 0 to 65535, got "http"/);
  assert.equal(await dashboardMain(["/no/such/folder"], { err }), 1);
  assert.match(errors.pop()!, /folder "\/no\/such\/folder" does not exist/);
  await withTempDir(async (root) => {
    const taken = serveDashboard(root, 0);
    const port = new URL(taken.url).port;
    try {
      assert.equal(await dashboardMain([root, "--port", port], { err }), 1);
      assert.match(errors.pop()!, new RegExp(`port ${port} is in use`));
    } finally {
      await taken.shutdown();
    }
    const stop = new AbortController();
    const said: string[] = [];
    const code = dashboardMain([root, "--port", "0"], {
      say: (line) => said.push(line),
      onListen: () => stop.abort(),
      signal: stop.signal,
    });
    assert.equal(await code, 0);
    assert.match(said[0]!, /^dashboard of .* at http:\/\/127\.0\.0\.1:\d+\/ \(Ctrl-C stops it\)$/);
  });
});

/**
 * The dashboard's HTTP side: a request handler over the run folders under one root, and a server
 * for it on 127.0.0.1. It serves no files by path: a run is addressed by the id `findRuns` gave it
 * and looked up, so no request reaches outside the root. A run folder in any state (even garbage)
 * gives a "broken" run, never a failed server.
 *
 * Routes (GET or HEAD):
 * - `/`: the page;
 * - `/api/runs`: every run's summary (`RunSummary[]`);
 * - `/api/run?id=ID`: one run with its telemetry, cell types and found cells (`RunDetail`);
 * - `/api/supernet.svg?id=ID&type=CELL&epoch=E`: the supernet cell at the end of epoch E, widths ∝ Φ;
 * - `/api/cell.svg?id=ID&type=CELL`: a found cell.
 *
 * @module
 */
import type { CellType } from "../../dsl/ir.ts";
import { cellToSvg, supernetToSvg } from "./render.ts";
import { dashboardPage } from "./dashboard_page.ts";
import { findRuns, type Reading, readRun, summaryOf } from "./telemetry_read.ts";

/** The port `deno task dashboard` listens on unless told otherwise. */
export const DEFAULT_PORT = 8765;

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // The page is one document with its script and style inline; it loads nothing from elsewhere.
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'",
};

function respond(body: string, status: number, type: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": type, "cache-control": "no-store", ...SECURITY_HEADERS },
  });
}
const json = (value: unknown, status = 200) => respond(JSON.stringify(value), status, "application/json");
const problem = (status: number, message: string) => json({ error: message }, status);
const svg = (text: string) => respond(text, 200, "image/svg+xml");

/** The supernet cell at an epoch's end from the Φ in its telemetry (T·ln Φ at temperature T gives Φ back). */
function supernetAt(reading: Reading, type: string, epoch: number): string | null {
  const cell = reading.ir?.cellTypes.find((c) => c.name === type);
  const point = reading.detail.telemetry.find((p) => p.epoch === epoch);
  const rows = point?.phi?.[type];
  if (!cell || !point || !rows || rows.length !== cell.edges.length) return null;
  const t = point.temperature ?? 1;
  const alpha: number[][] = [];
  const names: string[][] = [];
  cell.edges.forEach((edge, e) => {
    const live = (rows[e] ?? []).flatMap((phi, o) =>
      phi === null ? [] : [{ phi, name: edge.candidates[o] ?? "?" }]
    );
    alpha.push(live.map((x) => t * Math.log(Math.max(x.phi, 1e-30))));
    names.push(live.map((x) => x.name));
  });
  return supernetToSvg(cell as CellType, alpha, names, t);
}

/**
 * The dashboard's request handler over the runs under `root`.
 *
 * @param root The folder whose run folders are shown (e.g. `runs`).
 * @param options `hosts`: the Host header values accepted (guards against DNS rebinding); all when absent.
 * @returns A handler for `Deno.serve`, or to call directly in tests.
 * @example
 * ```ts
 * import { dashboardHandler } from "./dashboard_server.ts";
 * const handle = dashboardHandler(await Deno.makeTempDir());
 * const response = await handle(new Request("http://127.0.0.1/api/runs"));
 * if (!(response.status === 200)) throw new Error("the example's claim does not hold");
 * ```
 */
export function dashboardHandler(
  root: string,
  options: { readonly hosts?: () => readonly string[] } = {},
): (request: Request) => Promise<Response> {
  const cache = new Map<string, { key: string; reading: Reading }>();

  /** A run's reading, re-read only when one of its files changed (or a running run may have gone stale). */
  const read = async (id: string, path: string): Promise<Reading> => {
    const stats = await Promise.all(
      ["run.json", "space.space", "telemetry.jsonl", "genotype.json", "status.json"].map((name) =>
        Deno.lstat(`${path}/${name}`).then((s) => `${s.mtime?.getTime()}:${s.size}`, () => "-")
      ),
    );
    const key = `${stats.join("|")}|${Math.floor(Date.now() / 60_000)}`;
    const hit = cache.get(id);
    if (hit && hit.key === key) return hit.reading;
    const reading = await readRun(path, id);
    cache.set(id, { key, reading });
    return reading;
  };
  const lookup = async (url: URL): Promise<Reading | Response> => {
    const id = url.searchParams.get("id");
    if (id === null) return problem(400, 'the "id" parameter is missing');
    const path = (await findRuns(root)).get(id);
    if (path === undefined) return problem(404, `no run "${id}" under the dashboard's folder`);
    return await read(id, path);
  };

  const route = async (request: Request): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return problem(405, "only GET and HEAD are served");
    }
    const url = new URL(request.url);
    const hosts = options.hosts?.();
    if (hosts && !hosts.includes(request.headers.get("host") ?? url.host)) {
      return problem(421, "this dashboard answers only to 127.0.0.1 and localhost");
    }
    switch (url.pathname) {
      case "/":
        return respond(dashboardPage(), 200, "text/html; charset=utf-8");
      case "/api/runs": {
        const runs = await findRuns(root);
        const readings = await Promise.all([...runs].map(([id, path]) => read(id, path)));
        return json(readings.map((r) => summaryOf(r.detail)));
      }
      case "/api/run": {
        const reading = await lookup(url);
        return reading instanceof Response ? reading : json(reading.detail);
      }
      case "/api/supernet.svg": {
        const reading = await lookup(url);
        if (reading instanceof Response) return reading;
        const epoch = Number(url.searchParams.get("epoch"));
        const text = supernetAt(reading, url.searchParams.get("type") ?? "", epoch);
        return text === null
          ? problem(404, `no Φ recorded for cell type "${url.searchParams.get("type")}" at epoch ${epoch}`)
          : svg(text);
      }
      case "/api/cell.svg": {
        const reading = await lookup(url);
        if (reading instanceof Response) return reading;
        const type = url.searchParams.get("type") ?? "";
        const cell = reading.cells?.find((c) => c.cellType === type);
        const cellType = reading.ir?.cellTypes.find((c) => c.name === type);
        if (!cell || !cellType) return problem(404, `no found cell "${type}" in run "${reading.detail.id}"`);
        return svg(cellToSvg(cellType, cell));
      }
      default:
        return problem(404, `no such page: ${url.pathname}`);
    }
  };

  return async (request) => {
    try {
      return await route(request);
    } catch (error) {
      // A folder that changed or vanished mid-read, a permission missing: the request fails, not the server.
      return problem(500, error instanceof Error ? error.message : String(error));
    }
  };
}

/** A running dashboard server. */
export interface DashboardServer {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Stops listening; resolves when the server is closed. */
  shutdown(): Promise<void>;
}

/**
 * Serves the dashboard of `root` on 127.0.0.1 (only).
 *
 * @param root The folder whose runs are shown.
 * @param port The port; 0 picks a free one.
 * @returns The server, listening.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export function serveDashboard(root: string, port: number = DEFAULT_PORT): DashboardServer {
  let hosts: string[] = [];
  const handler = dashboardHandler(root, { hosts: () => hosts });
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
  const address = server.addr as Deno.NetAddr;
  hosts = [`127.0.0.1:${address.port}`, `localhost:${address.port}`];
  return {
    url: `http://127.0.0.1:${address.port}/`,
    shutdown: () => server.shutdown(),
  };
}

/**
 * Starts the dashboard of `root` in a worker thread (so that a search busy with tensors does not
 * hold up its answers); on 127.0.0.1:`port`, or on a free port when that one is taken.
 *
 * @param root The folder whose runs are shown.
 * @param port The preferred port.
 * @returns Its URL and a function that stops it.
 * @throws {Error} When the server cannot start (e.g. no --allow-net=127.0.0.1); the message says why.
 */
export async function startDashboardWorker(
  root: string,
  port: number = DEFAULT_PORT,
): Promise<{ url: string; stop: () => void }> {
  const worker = new Worker(new URL("./dashboard_worker.ts", import.meta.url), { type: "module" });
  const reply = await new Promise<{ url?: string; error?: string }>((resolve) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      resolve({ error: event.message });
    };
    worker.postMessage({ root, port });
  });
  if (reply.url === undefined) {
    worker.terminate();
    throw new Error(reply.error ?? "the dashboard did not start");
  }
  return { url: reply.url, stop: () => worker.terminate() };
}

/**
 * Resolves on the next Ctrl-C (SIGINT), for a process that serves the dashboard until then.
 *
 * @returns When SIGINT arrives.
 */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
  });
}

/**
 * For `deno task search --dashboard`: the dashboard of the run folder's parent (the runs beside
 * this one) in a worker. Prints `dashboard: URL`; when it cannot start, prints why and returns
 * undefined: the search goes on without it.
 *
 * @param runDir The run folder of the search.
 * @param say Where the URL goes.
 * @param warn Where a failure to start goes.
 * @returns Its URL and stop function, or undefined.
 */
export async function dashboardBeside(
  runDir: string,
  say: (line: string) => void,
  warn: (text: string) => void,
): Promise<{ url: string; stop: () => void } | undefined> {
  const trimmed = runDir.replace(/\/+$/, "");
  const root = trimmed.includes("/") ? trimmed.slice(0, trimmed.lastIndexOf("/")) || "/" : ".";
  try {
    const dashboard = await startDashboardWorker(root);
    say(`dashboard: ${dashboard.url}`);
    return dashboard;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const reason = /net access/i.test(message)
      ? "it may not listen: run with --allow-net=127.0.0.1"
      : message;
    warn(`warning: the dashboard did not start (${reason}); the search goes on without it\n`);
    return undefined;
  }
}

/**
 * `deno task dashboard [DIR] [--port N]`: serves a live page over the run folders under DIR
 * (default `runs/`) on 127.0.0.1 only. Ctrl-C stops it.
 *
 * Exit codes: 0 stopped by Ctrl-C; 1 the folder or the port cannot be used; 2 a usage error.
 *
 * @module
 */
import { parseArgs } from "../../dsl/deps.ts";
import {
  type DashboardServer,
  DEFAULT_PORT,
  serveDashboard,
  untilInterrupted,
} from "../report/dashboard_server.ts";

export const USAGE = `usage: deno task dashboard [DIR] [--port N]

Serves a live page over the run folders under DIR (default: runs) at http://127.0.0.1:PORT/:
each run's curves, Φ per edge over epochs, the supernet cell as it prunes, the found cells,
and two runs side by side. Runs in progress update by themselves.

options:
  --port N      the port on 127.0.0.1 (default: ${DEFAULT_PORT}; 0 picks a free one)
  -h, --help    show this help`;

/**
 * Starts the dashboard and serves until `signal` aborts (Ctrl-C when run as a program).
 *
 * @param args The command-line arguments.
 * @param options Where to write, and the signal that stops the server (tests pass their own).
 * @returns The exit code.
 * @example
 * ```ts ignore
 * const stop = new AbortController();
 * const code = main(["runs", "--port", "0"], { signal: stop.signal });
 * stop.abort();
 * await code; // 0
 * ```
 */
export async function main(
  args: string[],
  options: {
    readonly say?: (line: string) => void;
    readonly err?: (line: string) => void;
    readonly signal?: AbortSignal;
    readonly onListen?: (url: string) => void;
  } = {},
): Promise<number> {
  const say = options.say ?? ((line: string) => console.log(line));
  const err = options.err ?? ((line: string) => console.error(line));
  let dir: string, port: number;
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { port: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (parsed.values.help) {
      say(USAGE);
      return 0;
    }
    if (parsed.positionals.length > 1) {
      throw new Error(`expected one folder, got ${parsed.positionals.join(" ")}`);
    }
    dir = parsed.positionals[0] ?? "runs";
    const text = parsed.values.port ?? String(DEFAULT_PORT);
    port = Number(text);
    if (text.trim() === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`--port expects an integer from 0 to 65535, got "${text}"`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    err(`error: ${message}\n\n${USAGE}`);
    return 2;
  }

  try {
    // The task may read only runs/; another folder is asked for (a prompt on a terminal).
    if ((await Deno.permissions.query({ name: "read", path: dir })).state === "prompt") {
      await Deno.permissions.request({ name: "read", path: dir });
    }
    const info = await Deno.stat(dir);
    if (!info.isDirectory) throw new Error(`"${dir}" is a file, not a folder of runs`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      err(`error: folder "${dir}" does not exist (searches write into runs/)`);
    } else if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      err(
        `error: "${dir}" cannot be read: run deno run --allow-read=${dir} --allow-net=127.0.0.1 ${
          import.meta.filename ?? "dashboard.ts"
        }`,
      );
    } else err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  let server: DashboardServer;
  try {
    server = serveDashboard(dir, port);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      err(`error: port ${port} is in use: choose another --port (0 picks a free one)`);
    } else if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      err("error: the dashboard may not listen: run with --allow-net=127.0.0.1");
    } else err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  say(`dashboard of ${dir} at ${server.url} (Ctrl-C stops it)`);
  options.onListen?.(server.url);

  if (options.signal) {
    const signal = options.signal;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } else await untilInterrupted();
  await server.shutdown();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * The dashboard in a worker, for `deno task search --dashboard`: the search keeps its own thread
 * busy with tensor work, so the server runs on another one and answers between steps too.
 * Message in: `{ root, port }`; message out: `{ url }` once listening, or `{ error }`.
 *
 * @module
 */
import { serveDashboard } from "./dashboard_server.ts";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<{ root: string; port: number }>) => void) | null;
  postMessage(message: { url: string } | { error: string }): void;
};

scope.onmessage = (event) => {
  const { root, port } = event.data;
  try {
    let server;
    try {
      server = serveDashboard(root, port);
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      server = serveDashboard(root, 0); // the usual port is taken (another dashboard): any free one
    }
    scope.postMessage({ url: server.url });
  } catch (error) {
    scope.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};

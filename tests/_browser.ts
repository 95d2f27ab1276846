// Headless Chromium for the browser tests, driven over the DevTools protocol (a WebSocket; no
// Playwright): finding the binary, starting it, and a minimal protocol client.

/** The Chromium binary ($CHROMIUM, chromium, chromium-browser, google-chrome), or null when none runs. */
export async function findChromium(): Promise<string | null> {
  const names = [Deno.env.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"];
  for (const name of names) {
    if (!name) continue;
    try {
      if (
        (await new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).output())
          .success
      ) {
        return name;
      }
    } catch {
      // Not installed under this name.
    }
  }
  return null;
}

/** A minimal DevTools protocol client: send a command, await its result. */
export class Cdp {
  #next = 1;
  readonly #pending = new Map<number, (message: { result?: unknown; error?: { message: string } }) => void>();
  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.#pending.get(message.id)?.(message);
      this.#pending.delete(message.id);
    };
  }
  static open(url: string): Promise<Cdp> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new Cdp(socket));
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(
        id,
        (m) => m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result as T),
      );
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send<{ result: { value: T } }>("Runtime.evaluate", {
      expression,
      returnByValue: true,
    });
    return r.result.value;
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.onclose = () => resolve();
      this.socket.close();
    });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * Starts headless Chromium on about:blank, with a fresh profile folder, and connects to its page.
 *
 * @param chromium The binary.
 * @returns A client of its page, and `close()`, which ends the browser and removes its profile.
 */
export async function openPage(chromium: string): Promise<{ cdp: Cdp; close: () => Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "asap-chromium-" });
  const browser = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox", // CI runs as root
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let cdp: Cdp | undefined;
  const close = async () => {
    await cdp?.close();
    browser.kill("SIGTERM");
    await browser.status;
    // Chromium's helper processes may still write into the profile for a moment after it exits.
    await until("the profile's removal", async () => {
      try {
        await Deno.remove(profile, { recursive: true });
        return true;
      } catch (error) {
        return error instanceof Deno.errors.NotFound ? true : null;
      }
    }, 10_000);
  };
  try {
    const port = await until("Chromium's DevTools port", async () => {
      try {
        return (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n")[0] || null;
      } catch {
        return null;
      }
    }, 30_000);
    const target = await until("a page target", async () => {
      try {
        const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
        return list.find((t: { type: string }) => t.type === "page") ?? null;
      } catch {
        return null;
      }
    }, 30_000);
    cdp = await Cdp.open(target.webSocketDebuggerUrl);
    return { cdp, close };
  } catch (error) {
    await close();
    throw error;
  }
}

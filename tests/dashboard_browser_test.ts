// A real browser on the dashboard of a running search: headless Chromium driven over the DevTools
// protocol (a WebSocket; no Playwright). Needs Debian's `chromium` (CHROMIUM names another binary);
// without it this test is ignored and says so, and the route tests still run.
import { assert } from "./deps.ts";
import { Cdp, findChromium, sleep, until } from "./_browser.ts";
import { fastSpace, withTempDir } from "./_helpers.ts";

const SEARCH_CLI = new URL("../runtime/cli/search.ts", import.meta.url).pathname;
/** Where the screenshot goes, for people to look at. */
const OUTPUT = new URL("./output/", import.meta.url).pathname;

const SPACE = fastSpace("live");

const chromium = await findChromium();
if (!chromium) {
  console.warn(
    "dashboard_browser_test: chromium is not installed (apt-get install chromium): the browser test is ignored",
  );
}

/** Reads a child's stdout line by line until `pattern` matches; returns the match. */
async function waitForLine(
  child: Deno.ChildProcess,
  pattern: RegExp,
  seen: string[],
): Promise<RegExpMatchArray> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the search ended before printing ${pattern}:\n${seen.join("\n")}`);
    buffer += value;
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      seen.push(line);
      const match = line.match(pattern);
      if (match) {
        // Keep draining stdout so that the child never blocks on a full pipe.
        (async () => {
          for (;;) if ((await reader.read()).done) return;
        })();
        return match;
      }
    }
  }
}

interface PageState {
  id: string;
  origin: number;
  epochs: number;
  status: string;
}

const PAGE_STATE = `(() => {
  const run = document.querySelector("section.run");
  return { id: window.asapPageId, origin: performance.timeOrigin,
    epochs: run ? Number(run.dataset.epochs) : -1, status: run ? run.dataset.status : "" };
})()`;

Deno.test({
  name: "the dashboard of a running search shows a new epoch without a reload, in headless Chromium",
  ignore: chromium === null,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/live.space`, SPACE);
      const search = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--allow-read",
          `--allow-write=${dir}`,
          "--allow-net=127.0.0.1",
          SEARCH_CLI,
          `${dir}/live.space`,
          "--synthetic",
          "48",
          "--steps-per-epoch",
          "3",
          "--out",
          `${dir}/runs/live`,
          "--dashboard",
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      let browser: Deno.ChildProcess | undefined;
      let cdp: Cdp | undefined;
      const seen: string[] = [];
      try {
        const url = (await waitForLine(search, /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/, seen))[1]!;
        browser = new Deno.Command(chromium!, {
          args: [
            "--headless",
            "--no-sandbox", // CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            `--user-data-dir=${dir}/profile`,
            "--remote-debugging-port=0",
            "--window-size=1400,2200",
            "about:blank",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn();
        const port = await until("Chromium's DevTools port", async () => {
          try {
            return (await Deno.readTextFile(`${dir}/profile/DevToolsActivePort`)).split("\n")[0] || null;
          } catch {
            return null;
          }
        }, 30_000);
        const targets = await until("a page target", async () => {
          try {
            const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
            return list.find((t: { type: string }) => t.type === "page") ?? null;
          } catch {
            return null;
          }
        }, 30_000);
        cdp = await Cdp.open(targets.webSocketDebuggerUrl);
        await cdp.send("Page.enable");
        await cdp.send("Page.navigate", { url });

        // The run appears with some epoch e; then, without navigating, a later one.
        const first = await until("the run on the page", async () => {
          const s = await cdp!.evaluate<PageState>(PAGE_STATE);
          return s.epochs >= 0 && s.status === "running" ? s : null;
        }, 90_000);
        const later = await until("a new epoch on the page", async () => {
          const s = await cdp!.evaluate<PageState>(PAGE_STATE);
          return s.epochs > first.epochs ? s : null;
        }, 120_000);
        assert.equal(later.id, first.id, "the page was reloaded");
        assert.equal(later.origin, first.origin, "the page was reloaded");

        // Until the search is done: then every view is on the page, and the screenshot shows them.
        const done = await until("the finished run", async () => {
          const s = await cdp!.evaluate<PageState>(PAGE_STATE);
          return s.status === "done" ? s : null;
        }, 180_000);
        assert.equal(done.id, first.id, "the page was reloaded");
        await sleep(1000); // the pictures of the last poll
        const views = await cdp.evaluate<
          { charts: number; heat: number; pruned: number; sliders: number; images: number }
        >(`({
          charts: document.querySelectorAll("svg.chart").length,
          heat: document.querySelectorAll("svg.heat rect").length,
          pruned: [...document.querySelectorAll("svg.heat text")].filter((t) => t.textContent.startsWith("×")).length,
          sliders: document.querySelectorAll("input[type=range]").length,
          images: [...document.querySelectorAll(".picture img")].filter((i) => i.complete && i.naturalWidth > 0).length,
        })`);
        assert.equal(views.charts, 7);
        assert.ok(views.heat > 0 && views.pruned > 0 && views.sliders === 2, JSON.stringify(views));
        assert.equal(views.images, 4, JSON.stringify(views)); // 2 supernet cells + 2 found cells
        const shot = await cdp.send<{ data: string }>("Page.captureScreenshot", { format: "png" });
        await Deno.mkdir(OUTPUT, { recursive: true });
        const bytes = Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0));
        await Deno.writeFile(`${OUTPUT}dashboard_live.png`, bytes);
        assert.ok(bytes.length > 10_000);
      } catch (error) {
        throw new Error(
          `${error instanceof Error ? error.message : error}\nsearch output:\n${seen.join("\n")}`,
        );
      } finally {
        await cdp?.close();
        if (browser) {
          browser.kill("SIGTERM");
          await browser.status;
        }
        search.kill("SIGINT");
        await search.status;
        await search.stdout.cancel().catch(() => {});
      }
    });
  },
});

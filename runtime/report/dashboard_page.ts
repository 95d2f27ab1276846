/**
 * The dashboard's one page: HTML and CSS here, the script in `dashboard_client.ts`. Everything is
 * inline and drawn as SVG by the script: the page loads nothing from the network but its own
 * `/api` routes, so it works on machines without internet access.
 *
 * @module
 */
import { DASHBOARD_SCRIPT } from "./dashboard_client.ts";

const STYLE = `
:root { --fg: #222; --muted: #667; --line: #dde; --bg: #f7f7fa; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 8px 16px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 16px; margin: 0; }
header .live { color: var(--muted); }
main { display: flex; min-height: calc(100vh - 40px); }
nav { width: 330px; flex: none; background: #fff; border-right: 1px solid var(--line); padding: 8px; overflow: auto; }
nav table { width: 100%; border-collapse: collapse; }
nav td { padding: 4px 3px; border-bottom: 1px solid var(--line); vertical-align: top; }
nav tr.run { cursor: pointer; }
nav tr.run:hover { background: #f0f4fa; }
nav tr.selected { background: #e4ecf7; }
nav .id { font-weight: bold; word-break: break-all; }
nav .sub { color: var(--muted); font-size: 11px; }
.hint { color: var(--muted); font-size: 11px; margin: 6px 2px; }
#columns { flex: 1; display: flex; gap: 12px; padding: 12px; overflow: auto; align-items: flex-start; }
section.run { flex: 1; min-width: 480px; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
section.run h2 { font-size: 15px; margin: 0 0 4px; word-break: break-all; }
section.run h3 { font-size: 13px; margin: 14px 0 4px; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; color: #fff; }
.badge.running { background: #4e79a7; } .badge.done { background: #59a14f; } .badge.failed { background: #e15759; }
.badge.interrupted { background: #edc948; color: #222; } .badge.broken { background: #222; }
.problems { background: #fdecec; border: 1px solid #e15759; border-radius: 4px; padding: 6px 10px; margin: 8px 0; }
.problems li { margin-left: 14px; }
.curves { display: flex; flex-wrap: wrap; gap: 6px; }
.slider { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.slider input { flex: 1; }
.picture img { max-width: 100%; border: 1px solid var(--line); }
.genotype { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; white-space: pre-wrap; }
.empty { color: var(--muted); padding: 40px; }
`;

/**
 * The dashboard page.
 *
 * @returns A complete HTML document.
 * @example
 * ```ts
 * import { dashboardPage } from "./dashboard_page.ts";
 * if (!(dashboardPage().startsWith("<!doctype html>"))) throw new Error("the example's claim does not hold");
 * ```
 */
export function dashboardPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>asap dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>asap dashboard</h1><span class="live" id="live">connecting…</span></header>
<main>
<nav>
<table id="runs"></table>
<p class="hint">Click a run to show it; tick a second one to compare side by side. The page follows new epochs by itself.</p>
</nav>
<div id="columns"><p class="empty">No run selected.</p></div>
</main>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
}

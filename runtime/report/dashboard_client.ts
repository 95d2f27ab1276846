/**
 * The dashboard page's script, as text (it runs in the browser, not in Deno): polls `/api/runs`,
 * re-reads a shown run when it changed, and draws its curves, Φ heat maps, supernet slider and
 * found cells as SVG. No library, no template literals (the text sits in a TS template string).
 *
 * @module
 */

/** The script, inlined into the page by `dashboardPage()`. */
export const DASHBOARD_SCRIPT = String.raw`
"use strict";
var POLL_MS = 1500;
var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
var state = { runs: [], selected: [], details: {}, stamps: {}, epochShown: {} };
window.asapPageId = Math.random().toString(36).slice(2);

function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  var a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  var s = v.toFixed(digits === undefined ? 3 : digits);
  return s.indexOf(".") >= 0 ? s.replace(/\.?0+$/, "") : s;
}
function q(id) { return encodeURIComponent(id); }

// ---- charts ---------------------------------------------------------------------------------
function niceTicks(lo, hi, count) {
  if (!(hi > lo)) { hi = lo + 1; lo = lo - (lo === 0 ? 0 : 1); }
  var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
  var err = (hi - lo) / count / step;
  if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
  var ticks = [];
  for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  return ticks;
}
function lineChart(title, series, opts) {
  opts = opts || {};
  var legend = series.length > 1;
  var W = 230, H = legend ? 162 : 150, L = 42, R = 8, T = legend ? 32 : 20, B = 28;
  var pts = [];
  series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] !== null && isFinite(p[1])) pts.push(p); }); });
  var svg = '<svg class="chart" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + " " + H + '">';
  svg += '<text x="' + (W / 2) + '" y="13" text-anchor="middle" font-size="12" font-weight="bold">' + esc(title) + "</text>";
  if (pts.length === 0) return svg + '<text x="' + (W / 2) + '" y="' + (H / 2) + '" text-anchor="middle" font-size="11" fill="#999">no data</text></svg>';
  var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });
  var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
  var y0 = opts.zero ? Math.min(0, Math.min.apply(null, ys)) : Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
  if (opts.max !== undefined) y1 = Math.max(y1, opts.max);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 = y0 + (Math.abs(y0) || 1) * 0.1; y0 = y0 - (Math.abs(y0) || 1) * 0.1; }
  var sx = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  var sy = function (y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  niceTicks(y0, y1, 4).forEach(function (t) {
    if (t < y0 - 1e-12 || t > y1 + 1e-12) return;
    svg += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + sy(t) + '" y2="' + sy(t) + '" stroke="#eee"/>';
    svg += '<text x="' + (L - 4) + '" y="' + (sy(t) + 3) + '" text-anchor="end" font-size="9" fill="#666">' + fmt(t) + "</text>";
  });
  niceTicks(x0, x1, 5).forEach(function (t) {
    if (t < x0 || t > x1 || Math.round(t) !== t) return;
    svg += '<text x="' + sx(t) + '" y="' + (H - B + 12) + '" text-anchor="middle" font-size="9" fill="#666">' + t + "</text>";
  });
  svg += '<line x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '" stroke="#999"/>';
  svg += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '" stroke="#999"/>';
  svg += '<text x="' + ((L + W - R) / 2) + '" y="' + (H - 3) + '" text-anchor="middle" font-size="9" fill="#666">epoch</text>';
  series.forEach(function (s, k) {
    var good = s.points.filter(function (p) { return p[1] !== null && isFinite(p[1]); });
    if (good.length === 0) return;
    var d = good.map(function (p, i) { return (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1); }).join("");
    svg += '<path d="' + d + '" fill="none" stroke="' + s.color + '" stroke-width="1.6"/>';
    good.forEach(function (p) {
      svg += '<circle cx="' + sx(p[0]).toFixed(1) + '" cy="' + sy(p[1]).toFixed(1) + '" r="2" fill="' + s.color + '"><title>' +
        esc(s.name + ", epoch " + p[0] + ": " + fmt(p[1], 4)) + "</title></circle>";
    });
    if (legend) {
      var lx = L + k * 70;
      svg += '<rect x="' + lx + '" y="20" width="10" height="3" fill="' + s.color + '"/>' +
        '<text x="' + (lx + 13) + '" y="25" font-size="9" fill="#444">' + esc(s.name) + "</text>";
    }
  });
  return svg + "</svg>";
}
function curves(run) {
  var t = run.telemetry;
  var one = function (key, scale) {
    return t.map(function (p) { return [p.epoch, p[key] === null ? null : p[key] * (scale || 1)]; });
  };
  var types = [];
  t.forEach(function (p) { Object.keys(p.entropy).forEach(function (k) { if (types.indexOf(k) < 0) types.push(k); }); });
  var entropy = types.map(function (name, k) {
    return { name: name, color: PALETTE[k % PALETTE.length], points: t.map(function (p) { return [p.epoch, name in p.entropy ? p.entropy[name] : null]; }) };
  });
  var c = PALETTE;
  return '<div class="curves">' +
    lineChart("temperature T", [{ name: "T", color: c[0], points: one("temperature") }]) +
    lineChart("threshold θ", [{ name: "θ", color: c[0], points: one("threshold") }]) +
    lineChart("normalized entropy", entropy, { zero: true }) +
    lineChart("sparsity", [{ name: "sparsity", color: c[0], points: one("sparsity") }], { zero: true }) +
    lineChart("epoch time (s)", [{ name: "s", color: c[0], points: one("epochMs", 0.001) }], { zero: true }) +
    lineChart("loss", [{ name: "train", color: c[0], points: one("trainLoss") }, { name: "val", color: c[1], points: one("valLoss") }]) +
    lineChart("accuracy", [{ name: "train", color: c[0], points: one("trainAccuracy") }, { name: "val", color: c[1], points: one("valAccuracy") }], { zero: true }) +
    "</div>";
}

// ---- Φ heat map: rows = edge × candidate, columns = epochs ------------------------------------
var STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]; // viridis
function viridis(v) {
  v = Math.max(0, Math.min(1, v)) * (STOPS.length - 1);
  var i = Math.min(STOPS.length - 2, Math.floor(v)), f = v - i, a = STOPS[i], b = STOPS[i + 1];
  return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
}
function heatMap(run, cell) {
  var points = run.telemetry.filter(function (p) { return p.phi && p.phi[cell.name]; });
  if (points.length === 0) {
    return '<p class="meta">No Φ in this run\'s telemetry' + (run.telemetry.length ? " (written before Φ was recorded)" : " yet") + ".</p>";
  }
  var prunedAt = {};
  run.telemetry.forEach(function (p) {
    p.pruned.forEach(function (e) { if (e.cellType === cell.name) prunedAt[e.edge + "/" + e.op] = e; });
  });
  var rows = [];
  cell.edges.forEach(function (edge, e) {
    edge.candidates.forEach(function (op, o) { rows.push({ e: e, o: o, op: op, label: edge.from + " → " + edge.to, first: o === 0 }); });
  });
  // Epochs count from 1 (telemetry_read.ts moves an old run's up): column ep − 1 is epoch ep.
  var lastEpoch = points[points.length - 1].epoch;
  var cw = Math.max(4, Math.min(22, Math.floor(520 / lastEpoch))), rh = 11, L = 200, T = 18;
  var W = Math.max(L + cw * lastEpoch + 60, L + 300), H = T + rows.length * rh + 26;
  var svg = '<svg class="heat" data-cell="' + esc(cell.name) + '" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + " " + H + '">';
  var byEpoch = {};
  points.forEach(function (p) { byEpoch[p.epoch] = p.phi[cell.name]; });
  rows.forEach(function (r, i) {
    var y = T + i * rh;
    if (r.first) {
      svg += '<line x1="0" x2="' + (L + cw * lastEpoch) + '" y1="' + y + '" y2="' + y + '" stroke="#bbb"/>';
      svg += '<text x="2" y="' + (y + 9) + '" font-size="9" font-weight="bold">' + esc(r.label) + "</text>";
    }
    svg += '<text x="' + (L - 4) + '" y="' + (y + 9) + '" text-anchor="end" font-size="9">' + esc(r.op) + "</text>";
    for (var ep = 1; ep <= lastEpoch; ep++) {
      var row = byEpoch[ep] && byEpoch[ep][r.e];
      var v = row ? row[r.o] : undefined;
      var x = L + (ep - 1) * cw;
      if (v === undefined) continue;
      var fill = v === null ? "#eee" : viridis(Math.sqrt(v)); // √: contrast among the small Φ of many ops
      svg += '<rect x="' + x + '" y="' + (y + 1) + '" width="' + (cw - 0.5) + '" height="' + (rh - 1) + '" fill="' + fill + '"><title>' +
        esc(r.label + " " + r.op + ", epoch " + ep + ": " + (v === null ? "pruned" : "Φ = " + fmt(v, 4))) + "</title></rect>";
    }
    var p = prunedAt[r.e + "/" + r.op];
    if (p) {
      var px = L + (p.epoch - 1) * cw + cw / 2;
      svg += '<text x="' + px + '" y="' + (y + 9) + '" text-anchor="middle" font-size="10" font-weight="bold" fill="#e15759">×<title>' +
        esc(r.op + " pruned in epoch " + p.epoch + (p.phi !== null ? " at Φ = " + fmt(p.phi, 4) : "")) + "</title></text>";
    }
  });
  for (var ep = 1; ep <= lastEpoch; ep += Math.max(1, Math.ceil(30 / cw))) {
    svg += '<text x="' + (L + (ep - 1) * cw + cw / 2) + '" y="' + (T - 4) + '" text-anchor="middle" font-size="9" fill="#666">' + ep + "</text>";
  }
  var ly = T + rows.length * rh + 8;
  for (var k = 0; k <= 20; k++) svg += '<rect x="' + (L + k * 6) + '" y="' + ly + '" width="6" height="8" fill="' + viridis(k / 20) + '"/>';
  svg += '<text x="' + (L - 4) + '" y="' + (ly + 8) + '" text-anchor="end" font-size="9">Φ 0</text>';
  svg += '<text x="' + (L + 130) + '" y="' + (ly + 8) + '" font-size="9">1 (√ scale)   <tspan fill="#e15759" font-weight="bold">×</tspan> pruned   <tspan fill="#aaa">■</tspan> gone</text>';
  return svg + "</svg>";
}

// ---- one run -----------------------------------------------------------------------------------
function badge(status) { return '<span class="badge ' + esc(status) + '">' + esc(status) + "</span>"; }
function supernetBlock(run, cell) {
  var epochs = run.telemetry.filter(function (p) { return p.phi && p.phi[cell.name]; }).map(function (p) { return p.epoch; });
  if (epochs.length === 0) return "";
  var key = run.id + "/" + cell.name, last = epochs[epochs.length - 1];
  var shown = state.epochShown[key];
  if (shown === undefined || shown.follow || epochs.indexOf(shown.epoch) < 0) shown = state.epochShown[key] = { epoch: last, follow: true };
  return '<div class="slider"><span>epoch</span><input type="range" min="' + epochs[0] + '" max="' + last + '" value="' + shown.epoch +
    '" data-key="' + esc(key) + '" data-run="' + esc(run.id) + '" data-type="' + esc(cell.name) + '"><span class="epoch-label">' + shown.epoch + " / " + last + "</span></div>" +
    '<div class="picture"><img alt="supernet cell ' + esc(cell.name) + '" src="' + supernetUrl(run.id, cell.name, shown.epoch) + '"></div>';
}
function supernetUrl(id, type, epoch) {
  return "/api/supernet.svg?id=" + q(id) + "&type=" + q(type) + "&epoch=" + epoch + "&v=" + (state.stamps[id] || "");
}
function renderRun(run) {
  var html = '<section class="run" data-id="' + esc(run.id) + '" data-epochs="' + run.epochs + '" data-status="' + esc(run.status) + '">';
  html += "<h2>" + esc(run.id) + " " + badge(run.status) + "</h2>";
  html += '<div class="meta">space <b>' + esc(run.space || "?") + "</b> · " + esc(run.algorithm || "?") + " · seed " + esc(run.seed === null ? "?" : run.seed) +
    " · " + esc(run.backend || "?") + ' · <span class="epochs">epoch ' + run.epochs + (run.maxEpochs ? " of " + run.maxEpochs : "") + "</span>" +
    (run.started ? " · started " + esc(run.started.replace("T", " ").replace(/\..*$/, "")) : "") + "</div>";
  if (run.message) html += '<p class="meta">' + esc(run.message) + "</p>";
  if (run.problems.length) {
    html += '<div class="problems"><b>This run folder is broken:</b><ul>' + run.problems.map(function (p) { return "<li>" + esc(p) + "</li>"; }).join("") + "</ul></div>";
  }
  var last = run.telemetry[run.telemetry.length - 1];
  if (last) {
    html += '<p class="meta">last epoch ' + last.epoch + ": T " + fmt(last.temperature) + ", θ " + fmt(last.threshold) + ", sparsity " + fmt(last.sparsity) +
      ", train acc " + fmt(last.trainAccuracy) + ", val acc " + fmt(last.valAccuracy) + (last.grace ? " (grace: α frozen)" : "") + "</p>";
  }
  html += "<h3>Curves</h3>" + (run.telemetry.length ? curves(run) : '<p class="meta">No epoch finished yet.</p>');
  run.cellTypes.forEach(function (cell) {
    html += "<h3>" + esc(cell.name) + " cell: Φ per edge over epochs</h3>" + heatMap(run, cell);
    html += "<h3>" + esc(cell.name) + " supernet cell as it prunes (edge widths ∝ Φ)</h3>" + supernetBlock(run, cell);
  });
  if (run.found) {
    html += "<h3>Found cells</h3>";
    run.found.forEach(function (cell) {
      html += '<div class="picture"><img alt="found cell ' + esc(cell.cellType) + '" src="/api/cell.svg?id=' + q(run.id) + "&type=" + q(cell.cellType) + "&v=" + (state.stamps[run.id] || "") + '"></div>';
    });
    html += '<div class="genotype">' + run.found.map(function (cell) {
      return esc(cell.cellType) + ": " + cell.edges.map(function (e) { return esc(e.from + " → " + e.to + ": " + e.op); }).join(", ");
    }).join("\n") + "</div>";
  }
  return html + "</section>";
}

// ---- the page ----------------------------------------------------------------------------------
function renderList() {
  var rows = state.runs.map(function (r) {
    var sel = state.selected.indexOf(r.id) >= 0;
    var acc = r.last && r.last.valAccuracy !== null ? " · val acc " + fmt(r.last.valAccuracy, 3) : "";
    return '<tr class="run' + (sel ? " selected" : "") + '" data-id="' + esc(r.id) + '"><td><input type="checkbox"' + (sel ? " checked" : "") +
      ' title="compare"></td><td><div class="id">' + esc(r.id) + "</div>" + '<div class="sub">' + badge(r.status) + " " + esc(r.space || "?") + " · " +
      esc(r.algorithm || "?") + " · epoch " + r.epochs + (r.maxEpochs ? "/" + r.maxEpochs : "") + acc + "</div></td></tr>";
  });
  document.getElementById("runs").innerHTML = rows.join("") || '<tr><td class="meta">No run folders here yet.</td></tr>';
}
function renderColumns() {
  var el = document.getElementById("columns");
  var shown = state.selected.filter(function (id) { return state.details[id]; });
  el.innerHTML = shown.length ? shown.map(function (id) { return renderRun(state.details[id]); }).join("") : '<p class="empty">No run selected.</p>';
}
function stampOf(r) { return r.updated + ":" + r.epochs + ":" + r.status + ":" + r.problems.length; }
function getJson(url) {
  return fetch(url, { cache: "no-store" }).then(function (res) {
    if (!res.ok) return res.json().then(function (b) { throw new Error(b.error || res.statusText); });
    return res.json();
  });
}
function select(id, add) {
  var i = state.selected.indexOf(id);
  if (add) {
    if (i >= 0) state.selected.splice(i, 1); else { state.selected.push(id); if (state.selected.length > 2) state.selected.shift(); }
  } else state.selected = [id];
  history.replaceState(null, "", "#" + state.selected.map(function (s) { return "run=" + q(s); }).join("&"));
  state.stamps = {};
  poll();
}
function poll() {
  return getJson("/api/runs").then(function (runs) {
    state.runs = runs;
    if (state.selected.length === 0 && runs.length) {
      var newest = runs.slice().sort(function (a, b) { return b.updated - a.updated; })[0];
      state.selected = [newest.id];
    }
    state.selected = state.selected.filter(function (id) { return runs.some(function (r) { return r.id === id; }); });
    renderList();
    var changed = state.selected.filter(function (id) {
      var r = runs.filter(function (x) { return x.id === id; })[0];
      return r && state.stamps[id] !== stampOf(r);
    });
    return Promise.all(changed.map(function (id) {
      var r = runs.filter(function (x) { return x.id === id; })[0];
      return getJson("/api/run?id=" + q(id)).then(function (d) { state.details[id] = d; state.stamps[id] = stampOf(r); },
        function (error) { // shown as broken; tried again at the next poll
          state.details[id] = { id: id, status: "broken", problems: ["cannot read the run: " + error.message], message: null, epochs: 0,
            telemetry: [], cellTypes: [], found: null, seed: null, backend: null, space: r.space, algorithm: r.algorithm, maxEpochs: r.maxEpochs };
          delete state.stamps[id];
        });
    })).then(function () {
      if (changed.length) renderColumns();
      document.getElementById("live").textContent = "live · " + runs.length + " run" + (runs.length === 1 ? "" : "s") + " · checked " + new Date().toLocaleTimeString();
    });
  }).catch(function (error) {
    document.getElementById("live").textContent = "cannot reach the dashboard server (" + error.message + "); retrying";
  });
}
document.getElementById("runs").addEventListener("click", function (ev) {
  var tr = ev.target.closest("tr.run");
  if (tr) select(tr.getAttribute("data-id"), ev.target.type === "checkbox");
});
document.getElementById("columns").addEventListener("input", function (ev) {
  var input = ev.target;
  if (input.type !== "range") return;
  var epoch = Number(input.value), key = input.getAttribute("data-key");
  state.epochShown[key] = { epoch: epoch, follow: epoch === Number(input.max) };
  input.parentNode.querySelector(".epoch-label").textContent = epoch + " / " + input.max;
  input.parentNode.nextElementSibling.querySelector("img").src = supernetUrl(input.getAttribute("data-run"), input.getAttribute("data-type"), epoch);
});
(location.hash.slice(1).split("&")).forEach(function (part) {
  if (part.indexOf("run=") === 0) state.selected.push(decodeURIComponent(part.slice(4)));
});
poll();
setInterval(poll, POLL_MS);
`;

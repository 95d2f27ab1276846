/**
 * `deno task bench`: the first-order search-step time (w step + α step) of a supernet with every
 * candidate alive, and of the same supernet with one op left per edge, in one run, with their ratio,
 * tfjs kernel calls per step, process CPU time, peak RSS and tfjs memory; with `--peer`, the same
 * supernet and step in PyTorch (runtime/cli/peer_torch.py) right after, and ours ÷ PyTorch's; with
 * `--eval`, the training step of two evaluation networks too (DARTS_V2 at the paper's size and the
 * quickstart's, _bench_eval.ts), each against the same network in PyTorch with `--peer`, and with
 * `--rounds N` paired rounds of each. `--json` prints one object.
 *
 * @module
 */
import { parseArgs } from "../../dsl/deps.ts";
import { compileSpace } from "../../dsl/compile.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import { cpuUsage, resourceUsage, tf } from "../deps.ts";
import { backendDevice, type BackendName, isBackendName, useBackend } from "../kernels/backend.ts";
import { countKernels } from "../kernels/kernel_count.ts";
import { openMpWaitPolicy, setNativeThreads } from "../kernels/native/load.ts";
import { syntheticDataset } from "../data/datasets.ts";
import { SearchRun } from "../loops/search.ts";
import { EVALUATION_NETWORKS, prepareEvaluation } from "./_bench_eval.ts";
import {
  DEFAULT_PYTHONS,
  medianRatio,
  type PairedRound,
  type PeerOptions,
  type PeerReport,
  type Ratio,
  ratios,
  runPeer,
} from "./_bench_peer.ts";

const USAGE =
  `usage: deno task bench [--space FILE] [--backend NAME] [--batch N] [--steps N] [--keep OP] [--json] [--profile]
                        [--peer [--rounds N] [--threads N | --threads-scan] [--peer-device cpu|cuda]
                        [--python PATH]]
  --space    the space to time (default spaces/darts.space)
  --backend  auto (default: native if libtorch is installed, else wasm), native, wasm, webgpu, cpu,
             tensorflow, tensorflow-gpu
  --batch    batch size (default 32)
  --steps    timed steps per configuration, after one warm-up step (default 2)
  --keep     the op left on every edge in the pruned configuration (default sep_conv_3x3)
  --eval     also time the training step (augmentation, drop-path 0.2, auxiliary head, clipping, SGD
             Nesterov) of two evaluation networks: spaces/darts_v2.space's cells at C=36, 20 cells, at
             --batch; and the quickstart's (spaces/quickstart_cell.space, quickstart.space's evaluate
             block with a found cell: C=16, 8 cells, batch 64, 1-channel images); --eval-only: only those
  --profile  each configuration's kernels by wall time in one step after two warm-up steps (calls, ms,
             µs a call) and that step's time outside kernels; with --json, "profile" and "profileStepMs"
             in each result
  --peer     then run the same supernet and step in PyTorch (runtime/cli/peer_torch.py, darts.space
             only) at the same batch, and print ours ÷ PyTorch's; with --eval, the same evaluation
             networks and steps too (runtime/cli/peer_torch_eval.py)
  --threads  threads of both sides: ATen's for the native backend and PyTorch's for the peer (default:
             every core); wasm and cpu run on one
  --rounds   with --peer: N more rounds of our all-ops step and the peer's (and of each evaluation
             step with --eval), timed back to back, and the median of their ratios (the host's speed
             drifts between runs; default 0)
  --threads-scan  the peer at 1 thread and at every core, both compared
  --peer-device   cpu (default) or cuda
  --peer-format   auto (default: the supernet channels_last; each evaluation network in both formats,
                  the faster one for its rounds), channels_last or contiguous
  --python   the interpreter with torch (default: python3, then /usr/bin/python3)
  --json     one JSON object: {"command","date","cpus","loadAverage","ours":{…,"results":[…]},
             "peers":[…],"ratios":[…],"paired":…,"evaluation":[…]}; each result has stepMs, cpuMs,
             kernels, peakRssBytes, tfBytes`;

/** One measured configuration. */
export interface BenchResult {
  readonly name: string;
  readonly backend: string;
  readonly batch: number;
  readonly opsPerEdge: number;
  /** Wall milliseconds per step, the mean of the timed steps. */
  readonly stepMs: number;
  /** Process CPU milliseconds per step (all threads). */
  readonly cpuMs: number;
  /** tfjs kernel calls in the counted step before the timed ones (every dispatch through the engine). */
  readonly kernels: number;
  /** The ten most-called kernels of that step. */
  readonly topKernels: readonly { name: string; calls: number }[];
  /**
   * Milliseconds inside kernels (wall time around each dispatch) in the step whose kernels were counted:
   * the warm-up step, or with `--profile` the step after two warm-up steps.
   */
  readonly kernelMs: number;
  /** With `--profile`: every kernel of a step after the warm-up, the most time first. */
  readonly profile?: readonly KernelTime[];
  /** With `--profile`: that step's wall milliseconds (its time outside kernels is this − kernelMs). */
  readonly profileStepMs?: number;
  /**
   * The process's resident high-water mark at the end of this configuration (getrusage, the same
   * measure as the peer's; configurations run all ops first, so later ones report at least its peak).
   */
  readonly peakRssBytes: number;
  /** tfjs bytes alive at the end of the last forward pass (weights, optimizer slots, saved activations). */
  readonly tfBytes: number;
}

/** Process CPU milliseconds so far (user + system, all threads; getrusage). */
function cpuMsNow(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/** The process's resident high-water mark in bytes (getrusage's ru_maxrss, as the peer reads it). */
function peakRssNow(): number {
  return resourceUsage().maxRSS * 1024; // KiB on Linux
}

/** The 1-, 5- and 15-minute load averages (a busy shared machine shows here), or null if not allowed. */
function loadAverage(): number[] | null {
  try {
    return Deno.loadavg();
  } catch {
    return null;
  }
}

/** One kernel's calls and wall milliseconds in a profiled step. */
export interface KernelTime {
  readonly name: string;
  readonly calls: number;
  readonly ms: number;
}

interface Timing {
  stepMs: number;
  cpuMs: number;
  kernels: number;
  topKernels: { name: string; calls: number }[];
  kernelMs: number;
  profile?: KernelTime[];
  profileStepMs?: number;
}

/**
 * Times `steps` steps after one warm-up step whose kernels are counted (a step dispatches the same
 * kernels every time; counting outside the timed steps keeps its cost out of the times). With
 * `profile`, two plain warm-up steps come first, so the counted step's times are the steady state's.
 */
async function timeSteps(
  step: () => Promise<void>,
  steps: number,
  { warmUp = true, profile = false }: { warmUp?: boolean; profile?: boolean } = {},
): Promise<Timing> {
  // Two steps reach the steady state: the second still faults in memory the first freed to the heap.
  if (warmUp && profile) { for (let i = 0; i < 2; i++) await step(); }
  // Otherwise the counted step is also the warm-up: kernel compilation, first allocations.
  const countedAt = performance.now();
  const counted = warmUp ? await countKernels(step) : { kernels: 0, kernelMs: 0, byName: {} };
  const countedMs = performance.now() - countedAt;
  const start = performance.now();
  const cpu = cpuMsNow();
  for (let i = 0; i < steps; i++) await step();
  const byName = Object.entries(counted.byName);
  return {
    stepMs: (performance.now() - start) / steps,
    cpuMs: (cpuMsNow() - cpu) / steps,
    kernels: counted.kernels,
    topKernels: byName.slice(0, 10).map(([name, t]) => ({ name, calls: t.calls })),
    kernelMs: counted.kernelMs,
    ...(profile
      ? {
        profile: byName.map(([name, t]) => ({ name, calls: t.calls, ms: t.ms })).sort((a, b) => b.ms - a.ms),
        profileStepMs: countedMs,
      }
      : {}),
  };
}

/** Where the bench writes: a line at a time (a search CLI's CliIo fits). */
export interface BenchIo {
  readonly out: { write(text: string): void };
  readonly err: (text: string) => void;
}

/** Writes all of `text` (writeSync may write part of it to a pipe). */
function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

const consoleIo: BenchIo = {
  out: { write: (text) => writeAll(Deno.stdout, text) },
  err: (text) => writeAll(Deno.stderr, text),
};

/** Runs the benchmark; returns the exit code. */
export async function main(args: string[], io: BenchIo = consoleIo): Promise<number> {
  const log = (text: string) => io.out.write(`${text}\n`);
  const fail = (text: string) => io.err(`${text}\n`);
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        space: { type: "string", default: new URL("../../spaces/darts.space", import.meta.url).pathname },
        backend: { type: "string", default: "auto" },
        batch: { type: "string", default: "32" },
        steps: { type: "string", default: "2" },
        keep: { type: "string", default: "sep_conv_3x3" },
        json: { type: "boolean", default: false },
        profile: { type: "boolean", default: false },
        eval: { type: "boolean", default: false },
        "eval-only": { type: "boolean", default: false },
        peer: { type: "boolean", default: false },
        threads: { type: "string", default: String(navigator.hardwareConcurrency) },
        "threads-scan": { type: "boolean", default: false },
        rounds: { type: "string", default: "0" },
        "peer-device": { type: "string", default: "cpu" },
        "peer-format": { type: "string", default: "auto" },
        python: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const threads = Number(values.threads);
  const rounds = Number(values.rounds);
  if ([batch, steps, threads].some((n) => !Number.isInteger(n) || n < 1)) {
    fail(`--batch, --steps and --threads take positive integers\n${USAGE}`);
    return 2;
  }
  if (!Number.isInteger(rounds) || rounds < 0 || (rounds > 0 && !values.peer)) {
    fail(`--rounds takes a whole number ≥ 0, and needs --peer\n${USAGE}`);
    return 2;
  }
  if (!isBackendName(values.backend)) {
    fail(`unknown backend "${values.backend}"\n${USAGE}`);
    return 2;
  }
  if (!["cpu", "cuda"].includes(values["peer-device"])) {
    fail(`--peer-device takes cpu or cuda, not "${values["peer-device"]}"\n${USAGE}`);
    return 2;
  }
  if (!["auto", "channels_last", "contiguous"].includes(values["peer-format"])) {
    fail(
      `--peer-format takes auto, channels_last or contiguous, not "${values["peer-format"]}"\n${USAGE}`,
    );
    return 2;
  }
  const supernetFormat = values["peer-format"] === "auto" ? "channels_last" : values["peer-format"];
  const evalFormats = values["peer-format"] === "auto"
    ? ["contiguous", "channels_last"]
    : [values["peer-format"]];
  let text: string;
  try {
    text = await Deno.readTextFile(values.space);
  } catch (e) {
    fail(`cannot read --space ${values.space}: ${(e as Error).message}`);
    return 1;
  }
  const { ir, diagnostics } = compileSpace(text, values.space);
  if (!ir) {
    fail(renderDiagnostics(diagnostics, text));
    return 1;
  }
  if (values.peer && ir.name !== "darts") {
    fail(`--peer builds the DARTS supernet only (spaces/darts.space), not space "${ir.name}"`);
    return 2;
  }
  const loadBefore = loadAverage();
  const backend = await useBackend(values.backend as BackendName, (line) => log(line));
  if (backend === "native") {
    setNativeThreads(threads);
    if (!values.json) log(`native: ${threads} threads, OpenMP waits: ${openMpWaitPolicy()}`);
  }
  if (!values.json) log(`device: ${backendDevice()}`);
  const size = 32;
  const data = syntheticDataset({
    n: 4 * batch,
    height: size,
    width: size,
    channels: 3,
    classes: 10,
    seed: 0,
  });
  // Grace off: every step is a w step and an α step (the first-order alternation).
  const space = { ...ir, search: { ...ir.search, grace: { kind: "epochs" as const, epochs: 0 } } };
  const threshold = { kind: "fixed" as const, c: 0 }; // no pruning while timing
  const results: BenchResult[] = [];
  const report = (r: BenchResult) => {
    results.push(r);
    if (!values.json) log(formatResult(r));
    if (!values.json && r.profile) log(formatProfile(r));
  };

  for (const keep of values["eval-only"] ? [] : [null, values.keep]) {
    const run = new SearchRun({ ...space, search: { ...space.search, threshold } }, {
      data,
      seed: 0,
      batchSize: batch,
    });
    try {
      let opsPerEdge = Math.max(...ir.cellTypes.flatMap((c) => c.edges.map((e) => e.candidates.length)));
      if (keep) {
        for (const cell of ir.cellTypes) {
          cell.edges.forEach((edge, e) => {
            const at = edge.candidates.indexOf(keep);
            if (at < 0) {
              throw new Error(`--keep: edge ${e} of cell type "${cell.name}" has no candidate "${keep}"`);
            }
            edge.candidates.forEach((_, o) => {
              if (o !== at) run.net.prune({ cellType: cell.name, edge: e }, o);
            });
          });
        }
        opsPerEdge = 1;
      }
      const timing = await timeSteps(() => run.runStep(), steps, { profile: values.profile });
      report({
        name: (keep ? `${ir.name} supernet, only ${keep}` : `${ir.name} supernet, all ops`) +
          (run.net.recompute
            ? " (recomputed)"
            : run.net.recomputeCells.size > 0
            ? ` (${run.net.recomputeCells.size} cells recomputed)`
            : ""),
        backend: tf.getBackend(),
        batch,
        opsPerEdge,
        ...timing,
        peakRssBytes: peakRssNow(),
        tfBytes: run.net.forwardBytes,
      });
    } finally {
      run.dispose();
    }
  }
  const supernet = [...results];
  const [all, one] = supernet;
  if (all && one && !values.json) {
    log(
      `ratio all ops / one op per edge: ${(all.stepMs / one.stepMs).toFixed(2)}× time, ` +
        `${(all.tfBytes / one.tfBytes).toFixed(2)}× memory`,
    );
    log("(with one op per edge no α is left to update: its step is only the w step)");
  }

  const peers: PeerReport[] = [];
  const compared: Ratio[] = [];
  if (values.peer && supernet.length > 0) {
    const threadCounts = values["threads-scan"]
      ? [...new Set([1, navigator.hardwareConcurrency])]
      : [threads];
    for (const t of threadCounts) {
      let peer: PeerReport;
      try {
        peer = await runPeer({
          batch,
          steps,
          threads: t,
          keep: values.keep,
          device: values["peer-device"],
          memoryFormat: supernetFormat,
          pythons: values.python ? [values.python] : DEFAULT_PYTHONS,
        });
      } catch (e) {
        fail((e as Error).message);
        return 1;
      }
      peers.push(peer);
      const r = ratios(supernet, peer);
      compared.push(...r);
      if (!values.json) printPeer(peer, r, log);
    }
  }
  const paired: PairedRound[] = [];
  if (rounds > 0 && supernet.length > 0) {
    const run = new SearchRun({ ...space, search: { ...space.search, threshold } }, {
      data,
      seed: 0,
      batchSize: batch,
    });
    try {
      await run.runStep(); // warm-up
      const peerOptions = {
        batch,
        steps,
        threads,
        keep: values.keep,
        device: values["peer-device"],
        memoryFormat: supernetFormat,
        pythons: values.python ? [values.python] : DEFAULT_PYTHONS,
        only: "all" as const,
      };
      for (let r = 0; r < rounds; r++) {
        const oursMs = (await timeSteps(() => run.runStep(), steps, { warmUp: false })).stepMs;
        let peerMs: number;
        try {
          peerMs = (await runPeer(peerOptions)).results[0]!.stepMs;
        } catch (e) {
          fail((e as Error).message);
          return 1;
        }
        paired.push({ oursMs, peerMs, ratio: oursMs / peerMs });
        if (!values.json) {
          log(
            `round ${r + 1}: ours ${(oursMs / 1000).toFixed(2)} s, PyTorch ${
              (peerMs / 1000).toFixed(2)
            } s, ` +
              `ratio ${(oursMs / peerMs).toFixed(2)}×`,
          );
        }
      }
    } finally {
      run.dispose();
    }
    if (!values.json) {
      log(`median ratio over ${rounds} paired rounds (all ops): ${medianRatio(paired).toFixed(2)}×`);
    }
  }
  const evaluation: EvaluationReport[] = [];
  if (values.eval || values["eval-only"]) {
    for (const which of EVALUATION_NETWORKS) {
      try {
        const r = await benchEvaluation(which, which === "darts_v2" ? batch : 64, {
          steps,
          rounds,
          peer: values.peer,
          profile: values.profile,
          formats: evalFormats,
          peerOptions: {
            steps,
            threads,
            keep: values.keep,
            device: values["peer-device"],
            pythons: values.python ? [values.python] : DEFAULT_PYTHONS,
          },
        }, values.json ? () => {} : log);
        results.push(r.ours);
        evaluation.push(r);
      } catch (e) {
        fail((e as Error).message);
        return 1;
      }
    }
  }
  if (values.json) {
    log(JSON.stringify({
      command: `deno task bench ${args.join(" ")}`.trim(),
      date: new Date().toISOString(),
      cpus: navigator.hardwareConcurrency,
      loadAverage: { before: loadBefore, after: loadAverage() },
      ours: {
        backend: tf.getBackend(),
        device: backendDevice(),
        threads: backend === "native" ? threads : 1,
        ...(backend === "native" ? { openMpWait: openMpWaitPolicy() } : {}),
        batch,
        results,
      },
      peers,
      ratios: compared,
      ...(paired.length > 0 ? { paired: { rounds: paired, medianRatio: medianRatio(paired) } } : {}),
      ...(evaluation.length > 0 ? { evaluation } : {}),
    }));
  }
  return 0;
}

const GIB = 2 ** 30;

function formatResult(r: BenchResult): string {
  return `${r.name.padEnd(40)} ${(r.stepMs / 1000).toFixed(2).padStart(7)} s/step ` +
    `(cpu ${(r.cpuMs / 1000).toFixed(1)} s)  ${r.kernels.toLocaleString("en")} kernels  ` +
    `tfjs ${(r.tfBytes / GIB).toFixed(2)} GiB  peak RSS ${(r.peakRssBytes / GIB).toFixed(2)} GiB  ` +
    `(${r.backend}, batch ${r.batch})`;
}

/** The profiled step: its time inside and outside kernels (tfjs's engine, the model code, data), then the kernels taking most of it. */
function formatProfile(r: BenchResult, rows = 15): string {
  const lines = r.profile!.slice(0, rows).map((k) =>
    `  ${k.name.padEnd(30)} ${String(k.calls).padStart(7)} calls ${k.ms.toFixed(1).padStart(9)} ms ${
      (1000 * k.ms / k.calls).toFixed(0).padStart(7)
    } µs/call`
  );
  const rest = r.profile!.slice(rows).reduce((ms, k) => ms + k.ms, 0);
  const stepMs = r.profileStepMs!;
  return [
    `  profile of one step after two warm-up steps: ${stepMs.toFixed(0)} ms, ${
      r.kernelMs.toFixed(0)
    } ms inside ` +
    `${r.kernels} kernel calls (${r.profile!.length} kernels), ${
      (stepMs - r.kernelMs).toFixed(0)
    } ms outside`,
    ...lines,
    ...(r.profile!.length > rows
      ? [`  ${r.profile!.length - rows} more kernels: ${rest.toFixed(1)} ms`]
      : []),
  ].join("\n");
}

function printPeer(peer: PeerReport, r: readonly Ratio[], log: (text: string) => void): void {
  log(
    `PyTorch ${peer.torch} (${peer.device}, ${peer.threads} thread${peer.threads === 1 ? "" : "s"}, ` +
      `${peer.memoryFormat}, ${peer.weightParams.toLocaleString("en")} weights, ${peer.python}):`,
  );
  for (const p of peer.results) {
    log(
      `${p.name.padEnd(40)} ${(p.stepMs / 1000).toFixed(2).padStart(7)} s/step (cpu ${
        (p.cpuMs / 1000).toFixed(1)
      } s)  peak RSS ${(p.peakRssBytes / GIB).toFixed(2)} GiB`,
    );
  }
  for (const x of r) {
    log(
      `ours ÷ PyTorch (${x.opsPerEdge === 1 ? "one op per edge" : "all ops"}, ${x.peerThreads} thread${
        x.peerThreads === 1 ? "" : "s"
      }): ${x.time.toFixed(2)}× time, ${x.cpu.toFixed(2)}× cpu, ${x.peakRss.toFixed(2)}× peak RSS`,
    );
  }
}

/** One evaluation network as the bench measured it, with its peer and paired rounds when asked. */
export interface EvaluationReport {
  readonly network: string;
  readonly ours: BenchResult;
  /** The peer in each memory format timed, the faster first. */
  readonly peers: readonly PeerReport[];
  /** Ours ÷ the faster peer's, from the single timing above. */
  readonly ratio?: number;
  readonly paired?: {
    readonly memoryFormat: string;
    readonly rounds: PairedRound[];
    readonly medianRatio: number;
  };
}

interface EvaluationBenchOptions {
  readonly steps: number;
  readonly rounds: number;
  readonly peer: boolean;
  readonly profile: boolean;
  /** The peer's memory formats to time; the faster one runs the rounds. */
  readonly formats: readonly string[];
  readonly peerOptions: Omit<PeerOptions, "batch" | "memoryFormat" | "evaluation">;
}

/**
 * Times one evaluation network's training step, then (with a peer) the same step in PyTorch in each
 * memory format, then `rounds` paired rounds against the faster format.
 */
async function benchEvaluation(
  which: typeof EVALUATION_NETWORKS[number],
  batch: number,
  options: EvaluationBenchOptions,
  log: (text: string) => void,
): Promise<EvaluationReport> {
  const prepared = await prepareEvaluation(which, batch);
  try {
    let bytes = 0;
    const timing = await timeSteps(
      async () => {
        await prepared.step();
        bytes = Math.max(bytes, tf.memory().numBytes);
      },
      options.steps,
      { profile: options.profile },
    );
    const ours: BenchResult = {
      name: prepared.name,
      backend: tf.getBackend(),
      batch,
      opsPerEdge: 1,
      ...timing,
      peakRssBytes: peakRssNow(),
      tfBytes: bytes,
    };
    log(formatResult(ours));
    if (ours.profile) log(formatProfile(ours));
    if (!options.peer) return { network: which, ours, peers: [] };
    const peers: PeerReport[] = [];
    for (const memoryFormat of options.formats) {
      const peer = await runPeer({ ...options.peerOptions, batch, memoryFormat, evaluation: prepared.spec });
      peers.push(peer);
      printPeer(peer, [], log);
    }
    peers.sort((a, b) => a.results[0]!.stepMs - b.results[0]!.stepMs);
    const fastest = peers[0]!;
    const ratio = ours.stepMs / fastest.results[0]!.stepMs;
    log(
      `ours ÷ PyTorch (${which}, PyTorch ${fastest.memoryFormat}): ${ratio.toFixed(2)}× time, ${
        (ours.cpuMs / fastest.results[0]!.cpuMs).toFixed(2)
      }× cpu`,
    );
    if (options.rounds === 0) return { network: which, ours, peers, ratio };
    const rounds: PairedRound[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const oursMs = (await timeSteps(() => prepared.step(), options.steps, { warmUp: false })).stepMs;
      const peerMs = (await runPeer({
        ...options.peerOptions,
        batch,
        memoryFormat: fastest.memoryFormat,
        evaluation: prepared.spec,
      })).results[0]!.stepMs;
      rounds.push({ oursMs, peerMs, ratio: oursMs / peerMs });
      log(
        `${which} round ${r + 1}: ours ${(oursMs / 1000).toFixed(2)} s, PyTorch ${
          (peerMs / 1000).toFixed(2)
        } s, ` +
          `ratio ${(oursMs / peerMs).toFixed(2)}×`,
      );
    }
    const median = medianRatio(rounds);
    log(`median ratio over ${options.rounds} paired rounds (${which}): ${median.toFixed(2)}×`);
    return {
      network: which,
      ours,
      peers,
      ratio,
      paired: { memoryFormat: fastest.memoryFormat, rounds, medianRatio: median },
    };
  } finally {
    prepared.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * The PyTorch peer of `deno task bench`: runs `runtime/cli/peer_torch.py` (the same DARTS supernet and
 * first-order step in PyTorch) as a subprocess, reads its JSON, and compares it with ours.
 *
 * @module
 */

/** One configuration as the peer measured it. */
export interface PeerResult {
  readonly name: string;
  readonly opsPerEdge: number;
  readonly stepMs: number;
  /** Process CPU time per step (all threads). */
  readonly cpuMs: number;
  /** The peer process's resident high-water mark at the end of this configuration (getrusage). */
  readonly peakRssBytes: number;
  readonly peakCudaBytes?: number;
}

/** What one run of the peer reports. */
export interface PeerReport {
  readonly peer: "pytorch";
  readonly torch: string;
  readonly device: string;
  readonly threads: number;
  readonly batch: number;
  readonly memoryFormat: string;
  readonly weightParams: number;
  readonly results: readonly PeerResult[];
  /** The interpreter that ran it. */
  readonly python: string;
}

/** How to run the peer. */
export interface PeerOptions {
  readonly batch: number;
  readonly steps: number;
  readonly threads: number;
  readonly keep: string;
  /** `cpu` or `cuda`. */
  readonly device: string;
  /** `channels_last` or `contiguous`. */
  readonly memoryFormat: string;
  /** Interpreters to try in order; the first that has torch runs the peer. */
  readonly pythons: readonly string[];
  /** Only print the weight count. */
  readonly paramsOnly?: boolean;
  /** Time one configuration only: all ops, or one op per edge. */
  readonly only?: "all" | "one";
}

/** Interpreters tried when none is given: PATH's python3, then Debian's (which python3-torch serves). */
export const DEFAULT_PYTHONS = ["python3", "/usr/bin/python3"] as const;

/** The peer's exit code when its interpreter has no torch (peer_torch.py). */
const NO_TORCH = 3;

/** Path of peer_torch.py next to this module (the bench runs from a checkout, not from a URL). */
export function peerScript(): string {
  const url = new URL("./peer_torch.py", import.meta.url);
  if (url.protocol !== "file:") {
    throw new Error(`--peer needs a local checkout: peer_torch.py is at ${url.href}`);
  }
  return url.pathname;
}

/**
 * Runs the peer and returns its report.
 *
 * @param options Batch, steps, threads and the interpreters to try.
 * @returns The report, with the interpreter that produced it.
 * @throws {Error} With the peer's own message when no interpreter has torch or the peer fails.
 */
export async function runPeer(options: PeerOptions): Promise<PeerReport> {
  const args = [
    peerScript(),
    ...(options.paramsOnly ? ["--params-only"] : []),
    ...(options.only ? [`--only=${options.only}`] : []),
    `--batch=${options.batch}`,
    `--steps=${options.steps}`,
    `--threads=${options.threads}`,
    `--keep=${options.keep}`,
    `--device=${options.device}`,
    `--memory-format=${options.memoryFormat}`,
  ];
  const failures: string[] = [];
  for (const python of options.pythons) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        failures.push(`${python}: not allowed (run with --allow-run=${python})`);
      } else if (e instanceof Deno.errors.NotFound) failures.push(`${python}: not found`);
      else throw e;
      continue;
    }
    const stderr = new TextDecoder().decode(out.stderr).trim();
    if (out.code === NO_TORCH) {
      failures.push(stderr || `${python}: no torch`);
      continue;
    }
    if (out.code !== 0) throw new Error(`the PyTorch peer failed (${python}, exit ${out.code}):\n${stderr}`);
    return { ...parsePeerReport(new TextDecoder().decode(out.stdout)), python };
  }
  throw new Error(`no Python with torch for the peer:\n  ${failures.join("\n  ")}`);
}

/**
 * Parses and checks the peer's JSON line.
 *
 * @param stdout What peer_torch.py printed.
 * @returns The report (without `python`).
 * @throws {Error} Saying which field is missing or wrong.
 */
export function parsePeerReport(stdout: string): Omit<PeerReport, "python"> {
  let value: unknown;
  try {
    value = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    throw new Error(`the PyTorch peer printed no JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const r = value as Record<string, unknown>;
  for (const key of ["threads", "batch", "weightParams"]) {
    if (typeof r?.[key] !== "number") throw new Error(`the PyTorch peer's JSON has no number "${key}"`);
  }
  if (!Array.isArray(r.results)) throw new Error(`the PyTorch peer's JSON has no "results" list`);
  for (const [i, res] of (r.results as Record<string, unknown>[]).entries()) {
    for (const key of ["opsPerEdge", "stepMs", "cpuMs", "peakRssBytes"]) {
      if (typeof res[key] !== "number") {
        throw new Error(`the PyTorch peer's result ${i} has no number "${key}"`);
      }
    }
  }
  return value as Omit<PeerReport, "python">;
}

/** One of our configurations, as far as a comparison needs. */
export interface OursResult {
  readonly name: string;
  readonly opsPerEdge: number;
  readonly stepMs: number;
  readonly cpuMs: number;
  readonly peakRssBytes: number;
}

/** Ours ÷ the peer's, for one configuration (> 1: we are slower or bigger). */
export interface Ratio {
  readonly opsPerEdge: number;
  readonly peerThreads: number;
  readonly time: number;
  readonly cpu: number;
  readonly peakRss: number;
}

/**
 * Pairs our configurations with the peer's by ops per edge and divides.
 *
 * @param ours Our supernet configurations (others, e.g. the evaluation network, are skipped).
 * @param peer The peer's report from the same run.
 * @returns One ratio per configuration both measured.
 * @example
 * ```ts
 * import { ratios } from "./_bench_peer.ts";
 * const r = ratios(
 *   [{ name: "all", opsPerEdge: 8, stepMs: 20_000, cpuMs: 20_000, peakRssBytes: 2e9 }],
 *   { threads: 2, results: [{ name: "all", opsPerEdge: 8, stepMs: 5_000, cpuMs: 9_000, peakRssBytes: 1e9 }] },
 * );
 * if (!(r[0]!.time === 4 && r[0]!.peakRss === 2)) throw new Error("the example's claim does not hold");
 * ```
 */
export function ratios(
  ours: readonly OursResult[],
  peer: Pick<PeerReport, "threads" | "results">,
): Ratio[] {
  const out: Ratio[] = [];
  for (const o of ours) {
    const p = peer.results.find((r) => r.opsPerEdge === o.opsPerEdge);
    if (!p) continue;
    out.push({
      opsPerEdge: o.opsPerEdge,
      peerThreads: peer.threads,
      time: o.stepMs / p.stepMs,
      cpu: o.cpuMs / p.cpuMs,
      peakRss: o.peakRssBytes / p.peakRssBytes,
    });
  }
  return out;
}

/** One round of a paired measurement: our all-ops step and the peer's, timed one right after the other. */
export interface PairedRound {
  readonly oursMs: number;
  readonly peerMs: number;
  readonly ratio: number;
}

/**
 * The median of the rounds' ratios: on a host whose speed drifts (here by ±30% within minutes), pairs
 * timed back to back compare like with like, and the median ignores a round that a burst of other work
 * hit.
 *
 * @param rounds At least one round.
 * @returns The median ratio (the mean of the middle two for an even count).
 * @example
 * ```ts
 * import { medianRatio } from "./_bench_peer.ts";
 * const r = (oursMs: number, peerMs: number) => ({ oursMs, peerMs, ratio: oursMs / peerMs });
 * if (medianRatio([r(6, 5), r(9, 5), r(5, 5)]) !== 1.2) throw new Error("the example's claim does not hold");
 * ```
 */
export function medianRatio(rounds: readonly PairedRound[]): number {
  if (rounds.length === 0) throw new Error("medianRatio: no rounds");
  const sorted = rounds.map((r) => r.ratio).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The settings of the `supernet`, `search` and `evaluate` blocks: what each key accepts, its
 * default (with where the number comes from), and how it resolves into the IR.
 *
 * @module
 */
import { defaultReductions } from "./stack.ts";
import type { Entry, Name, SectionDecl, Setting, Value } from "./ast.ts";
import { diagnostic } from "./diagnostics.ts";
import type {
  Algorithm,
  ArchOptimizer,
  EvaluateSettings,
  Grace,
  LrSchedule,
  SearchSettings,
  Span,
  SparsitySchedule,
  TemperatureSchedule,
  ThresholdPolicy,
  WeightOptimizer,
} from "./ir.ts";
import {
  bool,
  type CallSpec,
  describe,
  num,
  ranges,
  readBool,
  type ReadCall,
  readCall,
  readChoice,
  readNumber,
  type Report,
} from "./read.ts";
import { didYouMean } from "./suggest.ts";

/** The search algorithms. */
export const ALGORITHMS: readonly Algorithm[] = ["asap", "darts", "magnitude", "accumulated_gradient"];

/**
 * Temperature schedules; exponential's defaults are ASAP's section 4.1 (T0 = 1.3, β = 0.95), with the
 * e-th epoch (1-based) at T0·β^e: exactly 5 grace epochs above τ = 1 and T ≈ 0.1 in the 50th, as the
 * paper states. The supplement's printed T0 = 1.6 contradicts both (see dsl/LANGUAGE.md).
 */
export const TEMPERATURES: readonly CallSpec[] = [
  {
    name: "exponential",
    params: [
      { name: "t0", type: "number", range: ranges.positive, default: 1.3, doc: "> 0" },
      { name: "beta", type: "number", range: ranges.openUnit, default: 0.95, doc: "0 < beta < 1" },
    ],
    doc: "T = t0 · beta^e in epoch e = 1, 2, … (eq. 9)",
  },
  {
    name: "constant",
    params: [{ name: "value", type: "number", range: ranges.positive, doc: "> 0" }],
    doc: "fixed T (DARTS: 1)",
  },
  {
    name: "pac",
    params: [
      { name: "eta", type: "number", range: ranges.positive, doc: "> 0" },
      { name: "lipschitz", type: "number", range: ranges.positive, doc: "> 0" },
      { name: "delta", type: "number", range: ranges.openUnit, doc: "0 < delta < 1" },
      { name: "nu", type: "number", range: ranges.openUnit, doc: "0 < nu < 1" },
    ],
    doc: "the PAC schedule of Theorem 2 (eq. 7–8)",
  },
];

/** Threshold policies other than `c / N`. */
export const THRESHOLDS: readonly CallSpec[] = [
  {
    name: "pac",
    params: [{ name: "nu", type: "number", range: ranges.openUnit, doc: "0 < nu < 1" }],
    doc: "θ_t = ν · e^-t (eq. 5)",
  },
];

/**
 * The s_t schedule of eq. 13; defaults of section 4.4 (t_0 = 20, E_f = 50, p = 3). s_f = 1 prunes all
 * but one op per edge (sparsity counts the prunable ops, N − 1 per edge), so the baselines end where
 * ASAP ends rather than in a one-shot argmax, the step section 4.4 argues against.
 */
export const SPARSITY: readonly CallSpec[] = [
  {
    name: "schedule",
    params: [
      { name: "final", type: "number", range: ranges.probability, default: 1, doc: "s_f in [0, 1]" },
      {
        name: "initial",
        type: "number",
        range: ranges.probability,
        default: 0,
        doc: "s_i in [0, 1], ≤ final",
      },
      { name: "start", type: "int", range: ranges.nonNegative, default: 20, doc: "t_0 ≥ 0" },
      { name: "interval", type: "int", range: ranges.atLeastOne, default: 1, doc: "Δt ≥ 1" },
      { name: "steps", type: "int", range: ranges.atLeastOne, default: 30, doc: "n ≥ 1" },
      { name: "power", type: "int", range: ranges.power, default: 3, doc: "1 or 3" },
    ],
    doc: "s_t = s_f + (s_i − s_f)(1 − (t − t_0)/(nΔt))^p (eq. 13)",
  },
];

/** SGD for w; defaults are DARTS' search settings (the evaluation overrides lr_min and nesterov). */
export const SGD: readonly CallSpec[] = [
  {
    name: "sgd",
    params: [
      { name: "lr", type: "number", range: ranges.positive, default: 0.025, doc: "> 0" },
      { name: "lr_min", type: "number", range: ranges.nonNegative, default: 0.001, doc: "≥ 0, ≤ lr" },
      { name: "momentum", type: "number", range: ranges.momentum, default: 0.9, doc: "in [0, 1)" },
      { name: "nesterov", type: "bool", default: false },
      { name: "weight_decay", type: "number", range: ranges.nonNegative, default: 3e-4, doc: "≥ 0" },
      { name: "grad_clip", type: "number", range: ranges.positive, default: 5, doc: "> 0" },
    ],
    doc: "SGD with momentum and a cosine learning rate from lr down to lr_min",
  },
];

/** Adam for α: supplement 6.2.1 (lr 1e-3, betas 0.5, 0.999); weight decay from DARTS. */
export const ADAM: readonly CallSpec[] = [
  {
    name: "adam",
    params: [
      { name: "lr", type: "number", range: ranges.positive, default: 1e-3, doc: "> 0" },
      { name: "beta1", type: "number", range: ranges.momentum, default: 0.5, doc: "in [0, 1)" },
      { name: "beta2", type: "number", range: ranges.momentum, default: 0.999, doc: "in [0, 1)" },
      { name: "weight_decay", type: "number", range: ranges.nonNegative, default: 1e-3, doc: "≥ 0" },
    ],
    doc: "Adam",
  },
];

/** Evaluation learning-rate schedules; the paper trains with 5 power-cosine cycles decaying by 0.5 (4.2). */
export const LR_SCHEDULES: readonly CallSpec[] = [
  { name: "cosine", params: [], doc: "one cosine annealing from lr to lr_min" },
  {
    name: "cyclic",
    params: [
      { name: "cycles", type: "int", range: ranges.atLeastOne, default: 5, doc: "≥ 1" },
      { name: "decay", type: "number", range: ranges.upToOne, default: 0.5, doc: "in (0, 1]" },
    ],
    doc: "power-cosine cycles whose amplitude decays by `decay` each cycle",
  },
];

/** The keys each block accepts. */
export const SEARCH_KEYS: readonly string[] = [
  "temperature",
  "grace_temperature",
  "grace_epochs",
  "threshold",
  "sparsity",
  "schedule_unit",
  "max_epochs",
  "batch_size",
  "train_fraction",
  "weights",
  "alpha",
  "description",
];
export const EVALUATE_KEYS: readonly string[] = [
  "cells",
  "channels",
  "reductions",
  "auxiliary_weight",
  "drop_path",
  "cutout",
  "label_smoothing",
  "auto_augment",
  "epochs",
  "batch_size",
  "lr_schedule",
  "weights",
  "description",
];

/**
 * A block's entries by key, reporting keys set twice (`duplicate-setting`), unknown keys
 * (`unknown-setting`) and edge blocks where a value is expected.
 *
 * @param entries the block's entries
 * @param known the keys the block accepts (`edges` may be a block)
 * @param where how the block is named in messages, e.g. `cell "normal"`
 * @param report receives the problems
 * @returns the first entry of each known key
 */
export function collectEntries(
  entries: readonly Entry[],
  known: readonly string[],
  where: string,
  report: Report,
): Map<string, Entry> {
  const found = new Map<string, Entry>();
  for (const entry of entries) {
    const key = entry.key.text;
    if (!known.includes(key)) {
      const hint = didYouMean(key, known) ?? `${where} accepts ${known.map((k) => `"${k}"`).join(", ")}`;
      report(diagnostic("unknown-setting", `${where} has no setting "${key}"`, entry.key.span, hint));
      continue;
    }
    const first = found.get(key);
    if (first) {
      report(
        diagnostic(
          "duplicate-setting",
          `"${key}" is set twice in ${where}`,
          entry.key.span,
          `it is first set at line ${first.key.span.line}`,
        ),
      );
      continue;
    }
    if (entry.kind === "edgeBlock" && key !== "edges") {
      report(
        diagnostic(
          "wrong-type",
          `"${key}" takes a value ("${key}: …"), not a block of edges`,
          entry.key.span,
        ),
      );
      continue;
    }
    found.set(key, entry);
  }
  return found;
}

/**
 * The one value of a setting (reports a block or a list of several values).
 *
 * @param entry the setting
 * @param report receives the problems
 * @returns the value, or null
 */
export function single(entry: Entry, report: Report): Value | null {
  if (entry.kind !== "setting") return null;
  if (entry.values.length !== 1) {
    const second = entry.values[1]!;
    report(
      diagnostic(
        "wrong-type",
        `"${entry.key.text}" takes one value but has ${entry.values.length}`,
        second.span,
      ),
    );
    return null;
  }
  return entry.values[0]!;
}

/** Reads one setting if present; `undefined` when absent, null when wrong. */
function setting<T>(
  entries: ReadonlyMap<string, Entry>,
  key: string,
  read: (v: Value, what: string) => T | null,
  report: Report,
): T | null | undefined {
  const entry = entries.get(key);
  if (!entry) return undefined;
  const v = single(entry, report);
  return v === null ? null : read(v, `"${key}"`);
}

/** Tracks whether every read succeeded. */
class Reader {
  ok = true;
  constructor(readonly entries: ReadonlyMap<string, Entry>, readonly report: Report) {}

  get<T>(key: string, read: (v: Value, what: string) => T | null, fallback: T): T {
    const value = setting(this.entries, key, read, this.report);
    if (value === null) this.ok = false;
    return value ?? fallback;
  }

  int(key: string, range: (typeof ranges)[keyof typeof ranges], fallback: number): number {
    return this.get(key, (v, what) => readNumber(v, what, { integer: true, range }, this.report), fallback);
  }

  number(key: string, range: (typeof ranges)[keyof typeof ranges], fallback: number): number {
    return this.get(key, (v, what) => readNumber(v, what, { range }, this.report), fallback);
  }

  bool(key: string, fallback: boolean): boolean {
    return this.get(key, (v, what) => readBool(v, what, this.report), fallback);
  }

  span(key: string): Span | null {
    return this.entries.get(key)?.span ?? null;
  }
}

/**
 * A call of `name` with every argument at its default, or at `overrides`: the one source of the
 * settings' defaults (the call specs above), so a default written there is the default everywhere.
 */
function defaultCall(
  specs: readonly CallSpec[],
  name: string,
  overrides: Readonly<Record<string, number | boolean>> = {},
): ReadCall {
  const spec = specs.find((s) => s.name === name)!;
  return { spec, args: new Map(spec.params.map((p) => [p.name, overrides[p.name] ?? p.default!])) };
}

/** The evaluation's SGD differs from the search's: lr to 0, Nesterov momentum (supplement 6.2.2, DARTS). */
const EVALUATION_SGD = { lr_min: 0, nesterov: true } as const;

function sgdOf(call: ReadCall): WeightOptimizer {
  return {
    lr: num(call, "lr"),
    lrMin: num(call, "lr_min"),
    momentum: num(call, "momentum"),
    nesterov: bool(call, "nesterov") ?? false,
    weightDecay: num(call, "weight_decay"),
    gradClip: num(call, "grad_clip"),
  };
}

function weightOptimizer(v: Value, defaults: Readonly<Record<string, number | boolean>>, report: Report) {
  const call = readCall(v, SGD, { what: "weight optimizer", unknownCode: "unknown-value", defaults }, report);
  if (!call) return null;
  const w = sgdOf(call);
  if (w.lrMin > w.lr) {
    report(diagnostic("out-of-range", `"lr_min" must be at most "lr" (${w.lr}) but is ${w.lrMin}`, v.span));
    return null;
  }
  return w;
}

/** The search defaults of each algorithm (section 4.1, supplement 6.2.1; baselines: section 4.4). */
function algorithmDefaults(algorithm: Algorithm): {
  temperature: TemperatureSchedule;
  grace: Grace;
  sparsity: SparsitySchedule | null;
} {
  switch (algorithm) {
    case "asap":
      return {
        temperature: exponentialOf(defaultCall(TEMPERATURES, "exponential")),
        grace: { kind: "temperature", tau: 1 },
        sparsity: null,
      };
    case "darts":
      return {
        temperature: { kind: "constant", value: 1 },
        grace: { kind: "epochs", epochs: 0 },
        sparsity: null,
      };
    default:
      return {
        temperature: { kind: "constant", value: 1 },
        grace: { kind: "epochs", epochs: 0 },
        sparsity: sparsityScheduleOf(defaultCall(SPARSITY, "schedule")),
      };
  }
}

function exponentialOf(call: ReadCall): TemperatureSchedule {
  return { kind: "exponential", t0: num(call, "t0"), beta: num(call, "beta") };
}

function temperatureOf(v: Value, report: Report): TemperatureSchedule | null {
  const call = readCall(
    v,
    TEMPERATURES,
    { what: "temperature schedule", unknownCode: "unknown-value" },
    report,
  );
  if (!call) return null;
  if (call.spec.name === "exponential") return exponentialOf(call);
  if (call.spec.name === "constant") return { kind: "constant", value: num(call, "value") };
  return {
    kind: "pac",
    eta: num(call, "eta"),
    lipschitz: num(call, "lipschitz"),
    delta: num(call, "delta"),
    nu: num(call, "nu"),
  };
}

function thresholdOf(v: Value, what: string, report: Report): ThresholdPolicy | null {
  if (v.kind === "ratio") {
    const den = v.denominator;
    if (den.kind !== "nameValue" || den.name.text !== "N") {
      report(
        diagnostic(
          "wrong-type",
          `${what} must be "c / N" or "pac(nu: …)" but is "… / ${describe(den)}"`,
          den.span,
          "N is the number of candidates of the mixed op",
        ),
      );
      return null;
    }
    const c = readNumber(v.numerator, `"c" of ${what}`, { range: ranges.upToOne }, report);
    return c === null ? null : { kind: "fixed", c };
  }
  if (v.kind === "number") {
    report(
      diagnostic(
        "wrong-type",
        `${what} must be "c / N" or "pac(nu: …)" but is ${v.text}`,
        v.span,
        `write ${v.text} / N`,
      ),
    );
    return null;
  }
  const call = readCall(v, THRESHOLDS, { what: "threshold policy", unknownCode: "unknown-value" }, report);
  return call ? { kind: "pac", nu: num(call, "nu") } : null;
}

function sparsityScheduleOf(call: ReadCall): SparsitySchedule {
  return {
    final: num(call, "final"),
    initial: num(call, "initial"),
    start: num(call, "start"),
    interval: num(call, "interval"),
    steps: num(call, "steps"),
    power: num(call, "power"),
  };
}

function sparsityOf(v: Value, report: Report): SparsitySchedule | null {
  const call = readCall(v, SPARSITY, { what: "sparsity schedule", unknownCode: "unknown-value" }, report);
  if (!call) return null;
  const s = sparsityScheduleOf(call);
  if (s.initial > s.final) {
    report(
      diagnostic(
        "out-of-range",
        `"initial" must be at most "final" (${s.final}) but is ${s.initial}`,
        v.span,
      ),
    );
    return null;
  }
  return s;
}

/**
 * The search settings: the algorithm's defaults, overridden by what the block sets. Also checks
 * that grace can end (`grace-never-ends`) and warns about settings the algorithm ignores.
 *
 * @param section the `search` block, or null when absent (ASAP with its defaults)
 * @param fallbackSpan where the settings point when there is no block
 * @param report receives the problems
 * @returns the settings, or null when something is wrong
 */
export function resolveSearch(
  section: SectionDecl | null,
  fallbackSpan: Span,
  report: Report,
): SearchSettings | null {
  const span = section?.span ?? fallbackSpan;
  let algorithm: Algorithm = "asap";
  let ok = true;
  if (section?.algorithm) {
    const name: Name = section.algorithm;
    const found = ALGORITHMS.find((a) => a === name.text);
    if (found) algorithm = found;
    else {
      ok = false;
      report(
        diagnostic(
          "unknown-value",
          `search algorithm "${name.text}" does not exist`,
          name.span,
          didYouMean(name.text, ALGORITHMS) ?? `expected one of ${ALGORITHMS.join(", ")}`,
        ),
      );
    }
  }
  const entries = collectEntries(section?.entries ?? [], SEARCH_KEYS, "search", report);
  const r = new Reader(entries, report);
  const defaults = algorithmDefaults(algorithm);
  const temperature = r.get("temperature", (v) => temperatureOf(v, report), defaults.temperature);
  let grace = defaults.grace;
  const graceT = setting(
    entries,
    "grace_temperature",
    (v, w) => readNumber(v, w, { range: ranges.positive }, report),
    report,
  );
  const graceE = setting(
    entries,
    "grace_epochs",
    (v, w) => readNumber(v, w, { integer: true, range: ranges.nonNegative }, report),
    report,
  );
  if (graceT === null || graceE === null) ok = false;
  if (graceT !== undefined && graceE !== undefined) {
    ok = false;
    report(
      diagnostic(
        "conflicting-settings",
        'search sets both "grace_temperature" and "grace_epochs"',
        entries.get("grace_epochs")!.key.span,
        "keep one of them",
      ),
    );
  } else if (typeof graceT === "number") grace = { kind: "temperature", tau: graceT };
  else if (typeof graceE === "number") grace = { kind: "epochs", epochs: graceE };
  const threshold = r.get(
    "threshold",
    (v, w) => thresholdOf(v, w, report),
    { kind: "fixed", c: 0.4 } as ThresholdPolicy,
  );
  let sparsity = r.get("sparsity", (v) => sparsityOf(v, report), defaults.sparsity);
  const ignored = (key: string, why: string) => {
    const e = entries.get(key);
    if (e) {
      report(
        diagnostic(
          "ignored-setting",
          `"${key}" is ignored by the ${algorithm} algorithm`,
          e.key.span,
          why,
          "warning",
        ),
      );
    }
  };
  if (algorithm === "asap" || algorithm === "darts") {
    ignored("sparsity", "only the magnitude and accumulated_gradient baselines prune by a sparsity schedule");
    sparsity = null;
  }
  if (algorithm !== "asap") ignored("threshold", "only asap prunes by a threshold");
  const scheduleUnit = r.get(
    "schedule_unit",
    (v, w) => readChoice(v, w, ["epoch", "step"] as const, report),
    "epoch",
  );
  const maxEpochs = r.int("max_epochs", ranges.atLeastOne, 50);
  const settings: SearchSettings = {
    algorithm,
    temperature,
    grace,
    threshold,
    sparsity,
    scheduleUnit,
    maxEpochs,
    // ASAP searches with batch 96 (section 4.1); the others keep DARTS' 64.
    batchSize: r.int("batch_size", ranges.atLeastOne, algorithm === "asap" ? 96 : 64),
    trainFraction: r.number("train_fraction", ranges.openUnit, 0.5),
    weightOptimizer: r.get("weights", (v) => weightOptimizer(v, {}, report), sgdOf(defaultCall(SGD, "sgd"))),
    archOptimizer: r.get("alpha", (v) => archOptimizer(v, report), adamOf(defaultCall(ADAM, "adam"))),
    span,
  };
  ok = r.ok && ok;
  const where = entries.get("grace_temperature")?.span ?? entries.get("grace_epochs")?.span ??
    entries.get("temperature")?.span ?? section?.keyword ?? fallbackSpan;
  if (ok && !graceEnds(settings)) {
    report(
      diagnostic(
        "grace-never-ends",
        graceMessage(settings),
        where,
        "lower the grace temperature or let the temperature decay",
      ),
    );
    ok = false;
  }
  return ok ? settings : null;
}

function adamOf(call: ReadCall): ArchOptimizer {
  return {
    lr: num(call, "lr"),
    beta1: num(call, "beta1"),
    beta2: num(call, "beta2"),
    weightDecay: num(call, "weight_decay"),
  };
}

function archOptimizer(v: Value, report: Report): ArchOptimizer | null {
  const call = readCall(v, ADAM, { what: "α optimizer", unknownCode: "unknown-value" }, report);
  return call ? adamOf(call) : null;
}

/** Whether grace (α frozen) ends before `maxEpochs` (per-step schedules are not judged). */
function graceEnds(s: SearchSettings): boolean {
  if (s.grace.kind === "epochs") return s.grace.epochs < s.maxEpochs;
  const tau = s.grace.tau;
  if (s.temperature.kind === "constant") return s.temperature.value < tau;
  if (s.temperature.kind === "exponential" && s.scheduleUnit === "epoch") {
    // Epoch e = 1, 2, … runs at t0·β^e: the first epoch below τ is the smallest e ≥ 1 with t0·β^e < τ.
    const { t0, beta } = s.temperature;
    const e = t0 * beta < tau ? 1 : Math.floor(Math.log(tau / t0) / Math.log(beta)) + 1;
    return e <= s.maxEpochs;
  }
  return true;
}

function graceMessage(s: SearchSettings): string {
  if (s.grace.kind === "epochs") {
    return `grace lasts ${s.grace.epochs} epochs but the search stops after ${s.maxEpochs}, so α is never trained`;
  }
  if (s.temperature.kind === "constant") {
    return `the temperature stays at ${s.temperature.value}, never below grace_temperature ${s.grace.tau}, so α is never trained`;
  }
  return `the temperature does not fall below grace_temperature ${s.grace.tau} within max_epochs ${s.maxEpochs}, so α is never trained`;
}

/**
 * Reduction positions: fractions `p/q` of the stack (`floor(cells · p / q)`) or indices, sorted;
 * positions outside the stack and positions given twice are reported.
 *
 * @param entry the `reductions` setting, or undefined for the default [1/3, 2/3]
 * @param cells the number of cells in the stack
 * @param report receives the problems
 * @returns the sorted indices, or null
 */
export function resolveReductions(entry: Entry | undefined, cells: number, report: Report): number[] | null {
  if (!entry) return defaultReductions(cells);
  if (entry.kind !== "setting") return null;
  const first = entry.values[0];
  const items = entry.values.length === 1 && first?.kind === "list" ? first.items : entry.values;
  const indices: number[] = [];
  const written = new Map<number, Value>();
  let ok = true;
  for (const item of items) {
    let index: number | null = null;
    if (item.kind === "ratio") {
      const p = readNumber(item.numerator, "a fraction's numerator", {
        integer: true,
        range: ranges.nonNegative,
      }, report);
      const q = readNumber(item.denominator, "a fraction's denominator", {
        integer: true,
        range: ranges.atLeastOne,
      }, report);
      if (p === null || q === null) ok = false;
      else if (p >= q) {
        ok = false;
        report(
          diagnostic(
            "reduction-outside-stack",
            `reduction at ${p}/${q} of the stack is outside it (fractions must be less than 1)`,
            item.span,
          ),
        );
      } else index = Math.floor((cells * p) / q);
    } else if (item.kind === "number") {
      const i = readNumber(item, "a reduction index", { integer: true }, report);
      if (i === null) ok = false;
      else if (i < 0 || i >= cells) {
        ok = false;
        report(
          diagnostic(
            "reduction-outside-stack",
            `reduction at cell ${i} is outside the stack of ${cells} cells (0 to ${cells - 1})`,
            item.span,
          ),
        );
      } else index = i;
    } else {
      ok = false;
      report(
        diagnostic(
          "wrong-type",
          `a reduction must be a fraction such as 1/3 or a cell index but is ${describe(item)}`,
          item.span,
        ),
      );
    }
    if (index === null) continue;
    const first = written.get(index);
    if (first) {
      ok = false;
      const message = `reductions ${describe(first)} and ${
        describe(item)
      } are both cell ${index} of ${cells}`;
      report(diagnostic("duplicate-reduction", message, item.span, "give each reduction its own cell"));
    } else {
      indices.push(index);
      written.set(index, item);
    }
  }
  return ok ? indices.sort((a, b) => a - b) : null;
}

function lrScheduleOf(call: ReadCall): LrSchedule {
  return call.spec.name === "cosine"
    ? { kind: "cosine" }
    : { kind: "cyclic", cycles: num(call, "cycles"), decay: num(call, "decay") };
}

/**
 * The evaluation settings; defaults from supplement 6.2.2 (DARTS for lr_min and the batch size).
 *
 * @param section the `evaluate` block, or null
 * @param fallbackSpan where the settings point when there is no block
 * @param report receives the problems
 * @returns the settings, or null
 */
export function resolveEvaluate(
  section: SectionDecl | null,
  fallbackSpan: Span,
  report: Report,
): EvaluateSettings | null {
  const entries = collectEntries(section?.entries ?? [], EVALUATE_KEYS, "evaluate", report);
  const r = new Reader(entries, report);
  const cells = r.int("cells", ranges.atLeastOne, 20);
  const reductions = resolveReductions(entries.get("reductions"), cells, report);
  const lrSchedule = r.get("lr_schedule", (v) => {
    const call = readCall(
      v,
      LR_SCHEDULES,
      { what: "learning-rate schedule", unknownCode: "unknown-value" },
      report,
    );
    return call ? lrScheduleOf(call) : null;
  }, lrScheduleOf(defaultCall(LR_SCHEDULES, "cyclic")));
  const settings: EvaluateSettings = {
    cells,
    channels: r.int("channels", ranges.atLeastOne, 36),
    reductions: reductions ?? [],
    auxiliaryWeight: r.number("auxiliary_weight", ranges.nonNegative, 0.4),
    dropPath: r.number("drop_path", ranges.probability, 0.2),
    cutout: r.int("cutout", ranges.nonNegative, 16),
    // Section 4.2 lists label smoothing; its value is given only for ImageNet (6.2.2): 0.1.
    labelSmoothing: r.number("label_smoothing", ranges.momentum, 0.1),
    // Section 4.2 and supplement 6.2.2: "We also use the AutoAugment augmentation scheme".
    autoAugment: r.bool("auto_augment", true),
    epochs: r.int("epochs", ranges.atLeastOne, 1500),
    batchSize: r.int("batch_size", ranges.atLeastOne, 128),
    lrSchedule,
    weightOptimizer: r.get(
      "weights",
      (v) => weightOptimizer(v, EVALUATION_SGD, report),
      sgdOf(defaultCall(SGD, "sgd", EVALUATION_SGD)),
    ),
    span: section?.span ?? fallbackSpan,
  };
  return r.ok && reductions !== null ? settings : null;
}

/** A setting's span, for messages about it. */
export function settingSpan(entries: ReadonlyMap<string, Entry>, key: string): Span | null {
  const e = entries.get(key);
  return e ? (e as Setting).key.span : null;
}

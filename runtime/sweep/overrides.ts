/**
 * Overrides of a space's search settings (`--set t0=1.3`): each key names one number of the
 * `search` block, the overridden IR is written back as `.space` text and compiled again, so a value
 * the language rejects (β ≥ 1, a negative lr …) is reported with the language's own message, and
 * the run folder's `space.space` says exactly what was searched.
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import type { SearchSettings, SpaceIR } from "../../dsl/ir.ts";
import { printSpace } from "../../dsl/print.ts";

/** A bad override: the message names the key and what is wrong. */
export class OverrideError extends Error {
  override readonly name = "OverrideError";
}

interface Key {
  /** What it sets, for the help text. */
  readonly doc: string;
  readonly apply: (s: SearchSettings, value: number) => SearchSettings;
}

/** Refuses a key that does not fit the space's schedule, saying what the space has. */
function needs(ok: boolean, key: string, what: string, has: string): void {
  if (!ok) {
    throw new OverrideError(`--set ${key} applies to ${what}, but the space's search block has ${has}`);
  }
}

/** The overridable search settings, by the names the `.space` language uses (dsl/LANGUAGE.md). */
const KEYS: Readonly<Record<string, Key>> = {
  t0: {
    doc: "T0 of temperature: exponential(t0, beta)",
    apply: (s, t0) => {
      const t = s.temperature;
      needs(t.kind === "exponential", "t0", "an exponential temperature", `a ${t.kind} one`);
      return { ...s, temperature: { ...t, t0 } as typeof t };
    },
  },
  beta: {
    doc: "beta of temperature: exponential(t0, beta)",
    apply: (s, beta) => {
      const t = s.temperature;
      needs(t.kind === "exponential", "beta", "an exponential temperature", `a ${t.kind} one`);
      return { ...s, temperature: { ...t, beta } as typeof t };
    },
  },
  temperature: {
    doc: "T of temperature: constant(T)",
    apply: (s, value) => {
      needs(s.temperature.kind === "constant", "temperature", "a constant temperature", "another");
      return { ...s, temperature: { kind: "constant", value } };
    },
  },
  grace_temperature: {
    doc: "τ: α is frozen while T ≥ τ",
    apply: (s, tau) => ({ ...s, grace: { kind: "temperature", tau } }),
  },
  grace_epochs: {
    doc: "α is frozen for the first N epochs",
    apply: (s, epochs) => ({ ...s, grace: { kind: "epochs", epochs } }),
  },
  threshold: {
    doc: "c of threshold: c / N",
    apply: (s, c) => {
      needs(s.threshold.kind === "fixed", "threshold", "a fixed threshold c / N", "pac(nu)");
      return { ...s, threshold: { kind: "fixed", c } };
    },
  },
  nu: {
    doc: "ν of threshold: pac(nu)",
    apply: (s, nu) => {
      needs(s.threshold.kind === "pac", "nu", "a pac(nu) threshold", "a fixed one");
      return { ...s, threshold: { kind: "pac", nu } };
    },
  },
  max_epochs: { doc: "epochs of the search", apply: (s, maxEpochs) => ({ ...s, maxEpochs }) },
  batch_size: { doc: "images per step", apply: (s, batchSize) => ({ ...s, batchSize }) },
  train_fraction: {
    doc: "share of the images that trains w",
    apply: (s, trainFraction) => ({ ...s, trainFraction }),
  },
  lr: {
    doc: "lr of weights: sgd(…)",
    apply: (s, lr) => ({ ...s, weightOptimizer: { ...s.weightOptimizer, lr } }),
  },
  alpha_lr: {
    doc: "lr of alpha: adam(…)",
    apply: (s, lr) => ({ ...s, archOptimizer: { ...s.archOptimizer, lr } }),
  },
};

/** The keys `--set` accepts, in help order. */
export const OVERRIDE_KEYS: readonly string[] = Object.keys(KEYS);

/** One line per key for a CLI's help text. */
export function overrideHelp(indent = "  "): string {
  const width = Math.max(...OVERRIDE_KEYS.map((k) => k.length));
  return OVERRIDE_KEYS.map((k) => `${indent}${k.padEnd(width)}  ${KEYS[k]!.doc}`).join("\n");
}

/**
 * Parses `key=value` (one `--set`) into its key and number.
 *
 * @param text The flag's value.
 * @returns The key and the value.
 * @throws {OverrideError} For a missing `=`, an unknown key or a value that is not a number.
 * @example
 * ```ts
 * import { parseOverride } from "./overrides.ts";
 * if (!(parseOverride("t0=1.3").value === 1.3)) throw new Error("the example's claim does not hold");
 * ```
 */
export function parseOverride(text: string): { key: string; value: number } {
  const eq = text.indexOf("=");
  if (eq < 0) throw new OverrideError(`--set expects key=value, got "${text}"`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  checkKey(key);
  const value = Number(raw);
  if (raw === "" || !Number.isFinite(value)) {
    throw new OverrideError(`--set ${key} expects a number, got "${raw}"`);
  }
  return { key, value };
}

/** Throws unless `key` is overridable. */
export function checkKey(key: string): void {
  if (!Object.hasOwn(KEYS, key)) {
    throw new OverrideError(
      `--set: unknown search setting "${key}"; expected one of ${OVERRIDE_KEYS.join(", ")}`,
    );
  }
}

/**
 * The space with its search settings overridden, as `.space` text that compiles on its own.
 *
 * @param ir The compiled space.
 * @param overrides Key → value, applied in order.
 * @param origin Where the space came from, for the header comment.
 * @returns The text; it starts with a comment naming the overrides.
 * @throws {OverrideError} For an unknown key, a key that does not fit the space's schedules or a
 *   value the language rejects (with its message).
 * @example
 * ```ts
 * import { compileSpace } from "../../dsl/compile.ts";
 * import { overrideSpace } from "./overrides.ts";
 * const { ir } = compileSpace(await Deno.readTextFile(new URL("../../spaces/tiny.space", import.meta.url)));
 * const text = overrideSpace(ir!, [["t0", 1.3]], "spaces/tiny.space");
 * if (!(text.includes("exponential(t0: 1.3"))) throw new Error("the example's claim does not hold");
 * ```
 */
export function overrideSpace(
  ir: SpaceIR,
  overrides: ReadonlyArray<readonly [string, number]>,
  origin: string,
): string {
  let search = ir.search;
  for (const [key, value] of overrides) {
    checkKey(key);
    search = KEYS[key]!.apply(search, value);
  }
  const shown = overrides.map(([k, v]) => `${k}=${v}`).join(" ");
  const text = printSpace({ ...ir, search }, { header: `${origin} with --set ${shown}` });
  const { diagnostics } = compileSpace(text, origin);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    throw new OverrideError(`--set ${shown}: ${errors.map((d) => d.message).join("; ")}`);
  }
  return text;
}

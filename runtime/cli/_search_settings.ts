/**
 * Each algorithm's search settings for a run of a given length, shared by `compare` and its lookup
 * mode (`compare --table`).
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import type { SearchSettings, SpaceIR } from "../../dsl/ir.ts";

/** An algorithm's default search settings (temperature, grace, threshold, sparsity), from the DSL. */
function algorithmDefaults(algorithm: SearchSettings["algorithm"]): SearchSettings {
  const text = `space d { operation s = identity  cell normal { nodes: 1  candidates: s }
    cell reduction extends normal { reduction: true }  search ${algorithm} {} }`;
  return compileSpace(text, "defaults.space").ir!.search;
}

/**
 * The space's search settings for another algorithm: the space's own settings when it names that
 * algorithm; otherwise that algorithm's defaults for T, grace, θ and s_t, the space's for the rest.
 * Schedules set for another number of epochs are stretched to the run's, so every algorithm searches
 * in the same proportions whatever `--search-epochs` says: the baselines' s_t (section 4.4's t_0 = 20
 * of E_f = 50 epochs, so pruning starts at 40% of the run and reaches one op per edge at its last
 * epoch), and ASAP's grace epochs (the same share of the run) and exponential decay (β^(E/epochs): the
 * temperature it was set to reach at its last epoch, reached at the run's).
 */
export function searchSettingsFor(
  ir: SpaceIR,
  algorithm: SearchSettings["algorithm"],
  epochs: number,
): SearchSettings {
  const defaults = algorithmDefaults(algorithm);
  const own = ir.search.algorithm === algorithm ? ir.search : {
    ...ir.search,
    ...(({ temperature, grace, threshold, sparsity }) => ({ temperature, grace, threshold, sparsity }))(
      defaults,
    ),
    algorithm,
  };
  // The number of epochs the schedules were set for: the space's own, or the defaults'.
  const setFor = ir.search.algorithm === algorithm ? ir.search.maxEpochs : defaults.maxEpochs;
  const stretched = { ...stretchSchedules(own, setFor, epochs), maxEpochs: epochs };
  if (stretched.sparsity === null) return stretched;
  const sparsity = stretched.sparsity;
  const start = Math.floor((epochs * sparsity.start) / (sparsity.start + sparsity.steps));
  return { ...stretched, sparsity: { ...sparsity, start, interval: 1, steps: Math.max(1, epochs - start) } };
}

/** Grace epochs and an exponential temperature decay set for `from` epochs, stretched to `to`. */
function stretchSchedules(s: SearchSettings, from: number, to: number): SearchSettings {
  if (from === to) return s;
  const grace = s.grace.kind === "epochs"
    ? { kind: "epochs" as const, epochs: Math.round((s.grace.epochs * to) / from) }
    : s.grace;
  const temperature = s.temperature.kind === "exponential"
    ? { ...s.temperature, beta: s.temperature.beta ** (from / to) }
    : s.temperature;
  return { ...s, grace, temperature };
}

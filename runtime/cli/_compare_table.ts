/**
 * `deno task compare [file.space] --table FILE`: runs only the searches and scores each found cell
 * by lookup in a ground-truth table (runtime/table/): mean ± std test accuracy, rank percentile,
 * regret and search seconds per algorithm (or per named setting, `--label` with `--set`), with one
 * random cell per seed and random search given ASAP's compute as baselines. Each scored run is kept
 * in the output folder, so settings run one after another add rows to one report.
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import { cellTypeOf, type SpaceIR } from "../../dsl/ir.ts";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { Rng } from "../core/rng.ts";
import { tf } from "../deps.ts";
import { type BackendName, BACKENDS, isBackendName, useBackend } from "../kernels/backend.ts";
import { setNativeThreads } from "../kernels/native/load.ts";
import type { Dataset } from "../data/datasets.ts";
import { randomCell } from "../loops/derive.ts";
import { SearchRun } from "../loops/search.ts";
import { OverrideError, overrideSpace, parseOverride } from "../sweep/overrides.ts";
import { parseSeeds } from "../sweep/plan.ts";
import { loadTableData } from "../table/build.ts";
import {
  lookupMarkdown,
  type LookupRun,
  lookupSvg,
  randomSearch,
  scoreRun,
  summarizeLookup,
} from "../table/lookup.ts";
import {
  architectureKey,
  enumerateArchitectures,
  type GroundTruthTable,
  parseTable,
} from "../table/table_file.ts";
import { searchSettingsFor } from "./_search_settings.ts";
import {
  type CliIo,
  ensureWritable,
  EXIT_OK,
  Failure,
  integer,
  parseFlags,
  readText,
  reportError,
  UsageError,
} from "./_common.ts";

/** What `--table` mode can run: the search algorithms and the two baselines. */
export const LOOKUP_ALGORITHMS = [
  "asap",
  "darts",
  "magnitude",
  "accumulated_gradient",
  "random",
  "random_search",
] as const;
type LookupAlgorithm = (typeof LOOKUP_ALGORITHMS)[number];

export const TABLE_USAGE = `usage: deno task compare [file.space] --table FILE [options]

Runs only the searches, and scores each found cell by lookup in a ground-truth table built by
deno task table (test accuracy, rank percentile in the space, regret to its best, search seconds).
random is one random cell per seed; random_search trains architectures from the table (charged
their reduced-budget time) until the same seed's asap search time is spent, keeping the best by
reduced-budget validation accuracy. Scored runs are kept in the output folder: settings run one
after another (--label with --set) add rows to the same lookup.md and lookup.svg.

options:
  --table FILE        the table (e.g. bench/bench201.table.json)
  --algorithms LIST   from ${LOOKUP_ALGORITHMS.join(", ")} (default: all)
  --seeds LIST        seeds, e.g. 0-9 (default 0-9)
  --set KEY=VALUE     override a number of the space's search block (repeatable; keys as sweep's)
  --label NAME        the row's name for a setting (one algorithm only; default: the algorithm)
  --search-epochs N   epochs of each search (default: the space's max_epochs)
  --out DIR           output folder (default: runs/lookup-<space>)
  --backend NAME      ${BACKENDS.join(", ")} (default auto)
  --threads N         ATen threads on the native backend (default: every core; 1 runs better beside
                      other jobs)
  -h, --help          this text`;

interface Plan {
  readonly file: string;
  readonly table: string;
  readonly algorithms: readonly LookupAlgorithm[];
  readonly seeds: readonly number[];
  readonly sets: readonly (readonly [string, number])[];
  readonly label: string | undefined;
  readonly searchEpochs: number | undefined;
  readonly out: string | undefined;
  readonly backend: string;
  readonly threads: number | undefined;
}

function readPlan(args: readonly string[]): Plan | null {
  const parsed = parseFlags(
    args,
    ["table", "algorithms", "seeds", "label", "search-epochs", "out", "backend", "threads"],
    [],
    ["set"],
  );
  if (parsed.booleans.help) return null;
  const s = parsed.strings;
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one .space file, got ${parsed.positionals.length}`);
  }
  const algorithms = (s.algorithms?.split(",").map((a) => a.trim()) ?? [...LOOKUP_ALGORITHMS]).map((a) => {
    const found = LOOKUP_ALGORITHMS.find((x) => x === a);
    if (!found) throw new UsageError(`unknown algorithm "${a}": expected ${LOOKUP_ALGORITHMS.join(", ")}`);
    return found;
  });
  if (s.label !== undefined && algorithms.length !== 1) {
    throw new UsageError("--label names one setting: give exactly one algorithm with --algorithms");
  }
  if (s.label !== undefined && !/^[\w.+-]+$/.test(s.label)) {
    throw new UsageError(`--label "${s.label}" may hold only letters, digits, _, ., + and -`);
  }
  let seeds: number[];
  let sets: (readonly [string, number])[];
  try {
    seeds = parseSeeds("--seeds", s.seeds ?? "0-9");
    sets = parsed.lists.set!.map((text) => {
      const { key, value } = parseOverride(text);
      return [key, value] as const;
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    file: parsed.positionals[0] ?? "spaces/bench201.space",
    table: s.table!,
    algorithms: [...new Set(algorithms)],
    seeds,
    sets,
    label: s.label,
    searchEpochs: integer("search-epochs", s["search-epochs"], 1),
    out: s.out,
    backend: s.backend ?? "auto",
    threads: integer("threads", s.threads, 1),
  };
}

/** The space with the overrides, checked to have the table's architectures. */
function spaceFor(plan: Plan, text: string, table: GroundTruthTable): SpaceIR {
  const compiled = compileSpace(text, plan.file);
  if (!compiled.ir) {
    throw new Failure(`the space does not compile:\n${renderDiagnostics(compiled.diagnostics, text)}`);
  }
  let ir = compiled.ir;
  if (plan.sets.length > 0) {
    try {
      ir = compileSpace(overrideSpace(ir, plan.sets, plan.file), plan.file).ir!;
    } catch (error) {
      if (error instanceof OverrideError) throw new UsageError(error.message);
      throw error;
    }
  }
  const keys = new Set(enumerateArchitectures(ir).map((cells) => architectureKey(ir, cells)));
  if (keys.size !== table.size || table.architectures.some((a) => !keys.has(a.key))) {
    throw new Failure(
      `${plan.file} does not have the architectures of ${plan.table} (table: ${table.space}, ${table.size} ` +
        `architectures; space: ${keys.size}): score a space with the table built from it`,
    );
  }
  return ir;
}

/** A search's result before it is scored: scoring happens when reporting, so a table still being built can
 * score the searches run meanwhile once it has their cells. */
type FoundRun = Omit<LookupRun, "testAccuracy" | "percentile" | "regret"> & {
  /** What the run was searched with besides its label and seed (absent in older folders). */
  readonly settings?: { readonly set: readonly (readonly [string, number])[]; readonly searchEpochs: number };
};

async function readRuns(dir: string): Promise<FoundRun[]> {
  const runs: FoundRun[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".json")) continue;
      try {
        runs.push(JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}`)) as FoundRun);
      } catch {
        // a torn file: that run is redone
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return runs;
}

async function searchOnce(
  ir: SpaceIR,
  algorithm: Exclude<LookupAlgorithm, "random" | "random_search">,
  seed: number,
  epochs: number,
  data: Dataset,
): Promise<{ key: string; seconds: number }> {
  const started = performance.now();
  const run = new SearchRun({ ...ir, search: searchSettingsFor(ir, algorithm, epochs) }, {
    data,
    seed,
    augment: { pad: 0, flip: false },
  });
  try {
    const { cells } = await run.run();
    return { key: architectureKey(ir, cells), seconds: (performance.now() - started) / 1000 };
  } finally {
    run.dispose();
  }
}

/**
 * Runs the lookup comparison.
 *
 * @param args The command-line arguments (with `--table`).
 * @param io Where output goes.
 * @returns The exit code.
 */
export async function compareByTable(args: readonly string[], io: CliIo): Promise<number> {
  const say = (line: string) => io.out.write(`${line}\n`);
  try {
    const plan = readPlan(args);
    if (!plan) {
      say(TABLE_USAGE);
      return EXIT_OK;
    }
    if (!isBackendName(plan.backend)) {
      throw new UsageError(`unknown backend "${plan.backend}": expected one of ${BACKENDS.join(", ")}`);
    }
    const table = parseTable(await readText(plan.table, "table"), plan.table);
    const ir = spaceFor(plan, await readText(plan.file, "space file"), table);
    const out = plan.out ?? `runs/lookup-${ir.name}`;
    await ensureWritable(out);
    await Deno.mkdir(`${out}/runs`, { recursive: true });
    const runs = await readRuns(`${out}/runs`);
    const known = new Set(table.architectures.filter((a) => a.runs.length > 0).map((a) => a.key));
    const report = async (): Promise<string> => {
      const waiting = runs.filter((r) => !known.has(r.key));
      if (waiting.length > 0) {
        return `${waiting.length} found cells are not in the table yet (e.g. "${waiting[0]!.key}"): ` +
          `finish it with deno task table, then run this again to score them`;
      }
      const scored = runs.map((r) => scoreRun(table, r));
      const rows = summarizeLookup(scored);
      await writeJsonAtomic(`${out}/lookup.json`, { table: plan.table, space: ir.name, rows, runs: scored });
      await writeFileAtomic(`${out}/lookup.md`, lookupMarkdown(rows, table));
      await writeFileAtomic(`${out}/lookup.svg`, lookupSvg(scored, table));
      return lookupMarkdown(rows, table).trimEnd();
    };
    let data: Dataset | undefined;
    const epochs = plan.searchEpochs ?? ir.search.maxEpochs;
    for (const algorithm of plan.algorithms) {
      const label = plan.label ?? algorithm;
      for (const seed of plan.seeds) {
        const path = `${out}/runs/${label}-seed${seed}.json`;
        const settings = { set: plan.sets, searchEpochs: epochs };
        const kept = runs.find((r) => r.label === label && r.seed === seed);
        if (kept?.settings && JSON.stringify(kept.settings) !== JSON.stringify(settings)) {
          throw new Failure(
            `"${label}" seed ${seed} in ${out} was searched with other settings (${
              JSON.stringify(kept.settings)
            }): ` +
              `give this setting its own --label, or another --out`,
          );
        }
        if (kept) continue;
        let base: FoundRun;
        if (algorithm === "random") {
          const rng = new Rng(seed);
          const cells = ir.cellTypes.map((cell) => randomCell(cellTypeOf(ir, cell.name), rng));
          base = { label, algorithm, seed, key: architectureKey(ir, cells), searchSeconds: 0 };
        } else if (algorithm === "random_search") {
          if (known.size < table.size) {
            throw new Failure(
              `random_search samples the whole space: finish the table first (${known.size} of ${table.size})`,
            );
          }
          const asap = runs.find((r) => r.label === "asap" && r.seed === seed);
          if (!asap) {
            throw new Failure(
              `random_search with seed ${seed} is given asap's search time: run asap first (same --out)`,
            );
          }
          const found = randomSearch(table, seed, asap.searchSeconds);
          base = {
            label,
            algorithm,
            seed,
            key: found.key,
            searchSeconds: found.seconds,
            sampled: found.sampled,
          };
        } else {
          if (!data) {
            await useBackend(plan.backend as BackendName, say);
            if (plan.threads !== undefined && tf.getBackend() === "native") setNativeThreads(plan.threads);
            data = (await loadTableData(table.recipe)).search;
          }
          const found = await searchOnce(ir, algorithm, seed, epochs, data);
          base = { label, algorithm, seed, key: found.key, searchSeconds: found.seconds, settings };
        }
        await writeJsonAtomic(path, base);
        runs.push(base);
        const score = known.has(base.key) ? scoreRun(table, base) : undefined;
        say(
          `${label}, seed ${seed}: ${base.key} → ${
            score
              ? `${(100 * score.testAccuracy).toFixed(2)}% (percentile ${
                (100 * score.percentile).toFixed(0)
              })`
              : "not in the table yet"
          }, ${base.searchSeconds.toFixed(1)} s`,
        );
      }
    }
    say(await report());
    say(`${out}: lookup.json, lookup.md, lookup.svg`);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, {
      usage: TABLE_USAGE,
      outOfMemory: "search with a smaller batch",
      unexpected: "the lookup comparison failed unexpectedly",
    });
  }
}

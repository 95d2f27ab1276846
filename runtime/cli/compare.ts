/**
 * `deno task compare [file.space]`: searches one space with several algorithms and seeds (`random`:
 * a uniformly random cell of the space, seeded), trains every found cell with the same evaluation
 * settings and seeds, and writes `compare.json`, `compare.md` (per algorithm: mean ± std test
 * accuracy, parameters, search and evaluation wall time) and `compare.svg` (test accuracy against
 * search time, one point per run). Each finished run leaves `runs/<algorithm>-seed<k>/result.json`
 * in the output folder; a killed comparison started again with the same `--out` skips those.
 *
 * Exit codes: 0 done; 1 a bad space file, bad data or an unusable output folder; 2 a usage error.
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import { renderDiagnostics } from "../../dsl/diagnostics.ts";
import { cellTypeOf, type GenotypeCell, type SpaceIR } from "../../dsl/ir.ts";
import { writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { Rng } from "../core/rng.ts";
import { type BackendName, BACKENDS, isBackendName, useBackend } from "../kernels/backend.ts";
import type { Dataset } from "../data/datasets.ts";
import { type DataSource, describeSource, flips, isDigits, loadSource } from "../data/sources.ts";
import { SearchRun } from "../loops/search.ts";
import { TrainRun } from "../loops/train.ts";
import { randomCell } from "../loops/derive.ts";
import { formatDuration } from "../report/progress.ts";
import { spaceHash } from "../report/run_folder.ts";
import { compareMarkdown, type CompareRun, compareSvg, summarizeCompare } from "../report/compare_report.ts";
import { searchSettingsFor } from "./_search_settings.ts";
import { compareByTable } from "./_compare_table.ts";
import {
  type CliIo,
  dataFlags,
  defaultIo,
  ensureWritable,
  EXIT_OK,
  Failure,
  integer,
  parseFlags,
  readText,
  reportError,
  UsageError,
} from "./_common.ts";

export { searchSettingsFor };

/** The algorithms a comparison can run: the search algorithms and a random cell. */
export const COMPARE_ALGORITHMS = ["asap", "darts", "magnitude", "accumulated_gradient", "random"] as const;
type CompareAlgorithm = (typeof COMPARE_ALGORITHMS)[number];

export const USAGE = `usage: deno task compare [file.space] [options]

Searches the space with each algorithm and seed, trains every found cell with the same evaluation
settings, and writes compare.json, compare.md and compare.svg. Run again with the same --out to
continue a killed comparison: finished runs are not redone.

options:
  --algorithms LIST      comma-separated, from ${COMPARE_ALGORITHMS.join(", ")} (default: all)
  --seeds LIST           comma-separated seeds (default: 0,1,2)
  --out DIR              output folder (default: runs/compare-<space name>)
  --search-epochs N      epochs of each search (default: the space's max_epochs)
  --eval-epochs N        epochs of each evaluation training (default: the evaluate block's)
  --data NAME|DIR        digits (default: the embedded MNIST digits), cluttered-digits (the
                         same digits with fragments of other digits over them: a harder task,
                         far from saturation), fashion-mnist (Debian's dataset-fashion-mnist), or
                         a folder of MNIST-format IDX files or of CIFAR-10's binary version
                         or an image folder: train/<class>/*.png|jpg, test/<class>/… (read as 32×32 RGB)
  --steps-per-epoch N    cap the steps of every epoch (default: 50 on either digit task)
  --eval-channels N      initial channels of the evaluation network (evaluate block: channels)
  --eval-cells N         cells of the evaluation network (evaluate block: cells)
  --quick                a minutes-long preset: seed 0, 2 search epochs, 1 evaluation epoch,
                         4 steps per epoch, 8 channels, 5 cells
  --backend NAME         ${BACKENDS.join(", ")} (default: auto: native where libtorch is installed, else wasm)
  --synthetic N          for testing: N synthetic 8×8 images instead of real data
  --table FILE           score the searches by lookup in a ground-truth table instead of training
                         (deno task table builds one; compare --table --help lists its options)
  -h, --help             show this help`;

/** The resolved plan of a comparison. */
interface Plan {
  readonly file: string;
  readonly algorithms: readonly CompareAlgorithm[];
  readonly seeds: readonly number[];
  readonly out: string | null;
  readonly searchEpochs: number | null;
  readonly evalEpochs: number | null;
  readonly stepsPerEpoch: number | null;
  readonly evalChannels: number | null;
  readonly evalCells: number | null;
  readonly backend: string;
  readonly data: DataSource;
}

/** Steps per epoch on the embedded digits, as `deno task search` caps them. */
const DIGITS_STEPS_PER_EPOCH = 50;
const QUICK = { seeds: [0], searchEpochs: 2, evalEpochs: 1, stepsPerEpoch: 4, evalChannels: 8, evalCells: 5 };

function list(flag: string, value: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--${flag} expects a comma-separated list, got "${value}"`);
  return items;
}

function readFlags(args: string[]): Plan | null {
  const strings = [
    "algorithms",
    "seeds",
    "out",
    "search-epochs",
    "eval-epochs",
    "steps-per-epoch",
    "eval-channels",
    "eval-cells",
    "backend",
    "data",
    "synthetic",
  ] as const;
  const parsed = parseFlags(args, strings, ["quick"]);
  const v = { ...parsed.strings, ...parsed.booleans };
  if (v.help) return null;
  const str = (name: string) => v[name] as string | undefined;
  const positionals = parsed.positionals;
  if (positionals.length > 1) throw new UsageError(`expected one .space file, got ${positionals.length}`);
  const algorithmsFlag = str("algorithms");
  const algorithms = algorithmsFlag === undefined
    ? [...COMPARE_ALGORITHMS]
    : list("algorithms", algorithmsFlag).map(
      (a) => {
        const found = COMPARE_ALGORITHMS.find((x) => x === a);
        if (!found) {
          throw new UsageError(
            `unknown algorithm "${a}": expected ${COMPARE_ALGORITHMS.join(", ")}`,
          );
        }
        return found;
      },
    );
  const quick = v.quick === true;
  const seedsFlag = str("seeds");
  const seeds = seedsFlag === undefined
    ? (quick ? QUICK.seeds : [0, 1, 2])
    : list("seeds", seedsFlag).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--seeds expects integers ≥ 0, got "${s}"`);
      return n;
    });
  const int = (flag: (typeof strings)[number], quickValue: number | null) =>
    integer(flag, str(flag), 1) ?? (quick ? quickValue : null);
  return {
    file: positionals[0] ?? "spaces/quickstart.space",
    algorithms: [...new Set(algorithms)],
    seeds: [...new Set(seeds)],
    out: str("out") ?? null,
    searchEpochs: int("search-epochs", QUICK.searchEpochs),
    evalEpochs: int("eval-epochs", QUICK.evalEpochs),
    stepsPerEpoch: int("steps-per-epoch", QUICK.stepsPerEpoch),
    evalChannels: int("eval-channels", QUICK.evalChannels),
    evalCells: int("eval-cells", QUICK.evalCells),
    backend: str("backend") ?? "auto",
    data: dataFlags(str("data"), integer("synthetic", str("synthetic"), 8)),
  };
}

/** What every run of a comparison must share, so that finished runs kept on resuming still compare. */
function settingsOf(plan: Plan) {
  const { data, searchEpochs, evalEpochs, stepsPerEpoch, evalChannels, evalCells } = plan;
  return { data, searchEpochs, evalEpochs, stepsPerEpoch, evalChannels, evalCells };
}

/**
 * Writes `settings.json` in a new output folder; in one that has it, refuses other settings: runs
 * made on other data or with other budgets would be averaged with the new ones.
 */
async function keepSettings(out: string, settings: { space: string } & ReturnType<typeof settingsOf>) {
  const path = `${out}/settings.json`;
  let kept: Record<string, unknown>;
  try {
    kept = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new Failure(`"${path}" is not valid JSON: remove it to start anew`);
    }
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await writeJsonAtomic(path, settings);
    return;
  }
  const differ = Object.entries(settings).filter(([key, value]) =>
    JSON.stringify(kept[key] ?? null) !== JSON.stringify(value)
  ).map(([key]) => key === "space" ? "the .space text" : key);
  if (differ.length > 0) {
    throw new Failure(
      `"${out}" holds a comparison made with other settings (${differ.join(", ")} differ; see ${path}): ` +
        `continue it with the flags it was started with, or choose another --out`,
    );
  }
}

async function readResult(path: string): Promise<CompareRun | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as CompareRun;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    if (error instanceof SyntaxError) return null; // a torn file: the run is redone
    throw error;
  }
}

/**
 * A search or training run built from settings that may not fit the data (a batch larger than a small
 * image folder's training set, an image too small for the network): their message as a failure, as
 * `evaluate` reports it, not as an unexpected error.
 */
function fitting<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof RangeError) throw new Failure(error.message);
    throw error;
  }
}

/** One run: the search (or the random cell), then the training of the found cells. */
async function runOne(
  ir: SpaceIR,
  algorithm: CompareAlgorithm,
  seed: number,
  plan: Plan,
  data: { data: Dataset; test: Dataset },
): Promise<CompareRun> {
  const steps = plan.stepsPerEpoch ?? (isDigits(plan.data) ? DIGITS_STEPS_PER_EPOCH : null);
  const stepsOption = steps !== null ? { stepsPerEpoch: steps } : {};
  let cells: readonly GenotypeCell[];
  let searchSeconds = 0;
  if (algorithm === "random") {
    const rng = new Rng(seed);
    const types = [...new Set(ir.supernet.cells.map((c) => c.cellType))];
    cells = types.map((t) => randomCell(cellTypeOf(ir, t), rng));
  } else {
    const epochs = plan.searchEpochs ?? ir.search.maxEpochs;
    const searchIr = { ...ir, search: searchSettingsFor(ir, algorithm, epochs) };
    const started = performance.now();
    const run = fitting(() =>
      new SearchRun(searchIr, {
        data: data.data,
        seed,
        augment: { pad: 4, flip: flips(plan.data) },
        ...stepsOption,
      })
    );
    try {
      cells = (await run.run()).cells;
    } finally {
      run.dispose();
    }
    searchSeconds = (performance.now() - started) / 1000;
  }
  const started = performance.now();
  const train = fitting(() =>
    new TrainRun(ir, cells, {
      data: data.data,
      test: data.test,
      seed,
      ...(plan.evalEpochs !== null ? { epochs: plan.evalEpochs } : {}),
      ...(plan.evalChannels !== null ? { channels: plan.evalChannels } : {}),
      ...(plan.evalCells !== null ? { cells: plan.evalCells } : {}),
      ...stepsOption,
      augment: { flip: flips(plan.data) },
      // DARTS' auxiliary head needs 32×32 images; the synthetic test images are 8×8.
      ...(plan.data.kind === "synthetic" ? { auxiliary: false } : {}),
    })
  );
  try {
    while (!train.done) await train.runEpoch();
    return {
      algorithm,
      seed,
      testAccuracy: train.telemetry.at(-1)?.testAccuracy ?? 0,
      parameters: train.net.parameterCount({ auxiliary: false }),
      searchSeconds,
      evalSeconds: (performance.now() - started) / 1000,
      cells,
    };
  } finally {
    train.dispose();
  }
}

/**
 * Runs the CLI.
 *
 * @param args The command-line arguments.
 * @param io Where output goes.
 * @returns The exit code.
 */
export async function main(args: string[], io: CliIo = defaultIo()): Promise<number> {
  if (args.some((a) => a === "--table" || a.startsWith("--table="))) return await compareByTable(args, io);
  const say = (line: string) => io.out.write(`${line}\n`);
  try {
    const plan = readFlags(args);
    if (!plan) {
      say(USAGE);
      return EXIT_OK;
    }
    if (!isBackendName(plan.backend)) {
      throw new UsageError(`unknown backend "${plan.backend}": expected one of ${BACKENDS.join(", ")}`);
    }
    const text = await readText(plan.file, "space file");
    const compiled = compileSpace(text, plan.file);
    if (!compiled.ir) {
      throw new Failure(`the space does not compile:\n${renderDiagnostics(compiled.diagnostics, text)}`);
    }
    const ir = compiled.ir;
    const out = plan.out ?? `runs/compare-${ir.name}`;
    await ensureWritable(out);
    await Deno.mkdir(`${out}/runs`, { recursive: true });
    await keepSettings(out, { space: await spaceHash(text), ...settingsOf(plan) });
    await useBackend(plan.backend as BackendName, (line) => io.out.write(`${line}\n`));
    const data = { data: await loadSource(plan.data, "train"), test: await loadSource(plan.data, "test") };
    const started = performance.now();
    const runs: CompareRun[] = [];
    const total = plan.algorithms.length * plan.seeds.length;
    const title = `Comparison on "${ir.name}" (${describeSource(plan.data)}), seeds ${plan.seeds.join(", ")}`;
    // The report is rewritten after every run, so a killed comparison still shows what it finished.
    const report = async () => {
      const rows = summarizeCompare(runs);
      await writeJsonAtomic(`${out}/compare.json`, { space: ir.name, file: plan.file, plan, rows, runs });
      await writeFileAtomic(`${out}/compare.md`, compareMarkdown(rows, title));
      await writeFileAtomic(`${out}/compare.svg`, compareSvg(runs));
    };
    for (const seed of plan.seeds) {
      for (const algorithm of plan.algorithms) {
        const path = `${out}/runs/${algorithm}-seed${seed}/result.json`;
        const done = await readResult(path);
        const label = `[${runs.length + 1}/${total}] ${algorithm}, seed ${seed}`;
        if (done) {
          say(`${label}: finished before, ${(100 * done.testAccuracy).toFixed(2)}% (kept)`);
          runs.push(done);
          continue;
        }
        const result = await runOne(ir, algorithm, seed, plan, data);
        await Deno.mkdir(`${out}/runs/${algorithm}-seed${seed}`, { recursive: true });
        await writeJsonAtomic(path, result);
        say(
          `${label}: test accuracy ${(100 * result.testAccuracy).toFixed(2)}%, ` +
            `search ${formatDuration(result.searchSeconds)}, evaluation ${
              formatDuration(result.evalSeconds)
            }`,
        );
        runs.push(result);
        await report();
      }
    }
    await report();
    say(compareMarkdown(summarizeCompare(runs), title).trimEnd());
    say(
      `done in ${
        formatDuration((performance.now() - started) / 1000)
      }; ${out}: compare.json, compare.md, compare.svg`,
    );
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, {
      usage: USAGE,
      outOfMemory: "use --quick, fewer --eval-cells or --eval-channels",
      unexpected: "the comparison failed unexpectedly",
    });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

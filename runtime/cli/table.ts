/**
 * `deno task table [file.space]`: builds or extends the ground-truth table of a small space (every
 * architecture trained with each seed under one recipe, see runtime/table/), resumably. Runs go to
 * part files as they finish (one per worker), and are merged into the table file (written
 * atomically) when the workers end; running the same command again trains only what is missing.
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import type { SpaceIR } from "../../dsl/ir.ts";
import { tf } from "../deps.ts";
import { exists, writeFileAtomic, writeJsonAtomic } from "../core/atomic.ts";
import { type BackendName, BACKENDS, isBackendName, useBackend } from "../kernels/backend.ts";
import { setNativeThreads } from "../kernels/native/load.ts";
import { parseSeeds } from "../sweep/plan.ts";
import { loadTableData, recipeOf, tableHash, trainArchitecture } from "../table/build.ts";
import { tableSlurmScript } from "../table/slurm.ts";
import { describeTable } from "../table/stats.ts";
import {
  architectureKey,
  enumerateArchitectures,
  type GroundTruthTable,
  mergeRecords,
  parsePart,
  parseTable,
  searchedCellTypes,
  spaceSize,
  type TableHeader,
} from "../table/table_file.ts";
import {
  type CliIo,
  defaultIo,
  EXIT_FAILURE,
  EXIT_OK,
  Failure,
  integer,
  parseFlags,
  readText,
  reportError,
  UsageError,
} from "./_common.ts";

const USAGE = `usage: deno task table [file.space] [options]

Trains every architecture of a small space (default spaces/bench201.space: 125 cells) with each
seed under one recipe (the space's evaluate block on a class-balanced selection of Fashion-MNIST at
16×16; see README, "Ground truth"), and writes the table that compare --table scores searches with.
Resumable: finished runs are kept, and the same command trains only what is missing.

options:
  --out FILE        the table (default: bench/<space>.table.json)
  --seeds LIST      seeds, e.g. 0-2 or 0,1,2 (default 0-2)
  --parallel N      trainings at a time, one process each (default 2, one per core)
  --limit N         each worker stops after N trainings (build in chunks; default: no limit)
  --shard K/N       run as worker K of N only (what --parallel starts; one Slurm array task each)
  --slurm           write FILE.slurm.sh, a Slurm job array of --parallel shards (one CPU each),
                    and submit it with sbatch; --merge once it is done
  --dry-run         with --slurm: print the script only
  --sbatch OPTION   another #SBATCH option, e.g. --sbatch=--time=4:00:00 (repeatable)
  --merge           merge the workers' part files into the table, train nothing
  --stats           print the table's statistics, train nothing
  --backend NAME    ${BACKENDS.join(", ")} (default auto)
  --threads N       ATen threads per training on the native backend (default 1)
  -h, --help        this text`;

interface Flags {
  readonly space: string;
  readonly out: string | undefined;
  readonly seeds: readonly number[];
  readonly parallel: number;
  readonly limit: number | undefined;
  readonly shard: { readonly k: number; readonly n: number } | undefined;
  readonly merge: boolean;
  readonly stats: boolean;
  readonly backend: BackendName;
  readonly threads: number;
  readonly slurm: boolean;
  readonly dryRun: boolean;
  readonly sbatch: readonly string[];
}

function readFlags(args: readonly string[]): Flags | "help" {
  const parsed = parseFlags(
    args,
    ["out", "seeds", "parallel", "limit", "shard", "backend", "threads"],
    ["merge", "stats", "slurm", "dry-run"],
    ["sbatch"],
  );
  if (parsed.booleans.help) return "help";
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one .space file, got ${parsed.positionals.length}`);
  }
  const s = parsed.strings;
  let shard: Flags["shard"];
  if (s.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(s.shard);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
      throw new UsageError(`--shard expects K/N with 0 ≤ K < N, got "${s.shard}"`);
    }
    shard = { k: Number(m[1]), n: Number(m[2]) };
  }
  const backend = s.backend ?? "auto";
  if (!isBackendName(backend)) {
    throw new UsageError(`unknown backend "${backend}": expected one of ${BACKENDS.join(", ")}`);
  }
  let seeds: number[];
  try {
    seeds = parseSeeds("--seeds", s.seeds ?? "0-2");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    space: parsed.positionals[0] ?? "spaces/bench201.space",
    out: s.out,
    seeds,
    parallel: integer("parallel", s.parallel, 1) ?? 2,
    limit: integer("limit", s.limit, 1),
    shard,
    merge: parsed.booleans.merge ?? false,
    stats: parsed.booleans.stats ?? false,
    backend,
    threads: integer("threads", s.threads, 1) ?? 1,
    slurm: parsed.booleans.slurm ?? false,
    dryRun: parsed.booleans["dry-run"] ?? false,
    sbatch: parsed.lists.sbatch ?? [],
  };
}

/** The space, its header and where its table and parts live. */
interface Setup {
  readonly file: string;
  readonly ir: SpaceIR;
  readonly header: TableHeader;
  readonly out: string;
  readonly parts: string;
}

async function setup(flags: Flags): Promise<Setup> {
  const text = await readText(flags.space, "space file");
  const { ir, diagnostics } = compileSpace(text, flags.space);
  if (!ir) {
    throw new Failure(`${flags.space} does not compile:\n${diagnostics.map((d) => d.message).join("\n")}`);
  }
  if (searchedCellTypes(ir).length === 0) throw new Failure(`${flags.space}: no edge has several candidates`);
  const size = spaceSize(ir);
  if (size > 10_000) {
    throw new Failure(`${flags.space} has ${size} architectures; a table enumerates at most 10,000`);
  }
  const out = flags.out ?? `bench/${ir.name}.table.json`;
  const header: TableHeader = {
    version: 1,
    space: ir.name,
    spaceHash: await tableHash(ir),
    recipe: recipeOf(ir, flags.threads),
    searched: searchedCellTypes(ir),
    size,
    versions: { asap: "0.1.0", tfjs: tf.version_core, deno: Deno.version.deno },
    command: `deno task table ${flags.space} --out ${out}`,
  };
  return { file: flags.space, ir, header, out, parts: `${out}.parts` };
}

/** The table so far, checked against this space and recipe. */
async function readExisting(s: Setup): Promise<GroundTruthTable | undefined> {
  if (!(await exists(s.out))) return undefined;
  const table = parseTable(await Deno.readTextFile(s.out), s.out);
  if (table.spaceHash !== s.header.spaceHash) {
    throw new Failure(
      `${s.out} was built from other operations, cells or evaluate settings than ${s.file} ` +
        `have now (hash ${table.spaceHash.slice(0, 12)}…): give another --out to build a new table`,
    );
  }
  const [a, b] = [
    JSON.stringify({ ...table.recipe, threads: 0 }),
    JSON.stringify({ ...s.header.recipe, threads: 0 }),
  ];
  if (a !== b) throw new Failure(`${s.out} was built with another recipe (${a}); give another --out`);
  return table;
}

async function partFiles(s: Setup): Promise<string[]> {
  if (!(await exists(s.parts))) return [];
  const files: string[] = [];
  for await (const entry of Deno.readDir(s.parts)) {
    if (entry.isFile && entry.name.endsWith(".jsonl")) files.push(`${s.parts}/${entry.name}`);
  }
  return files.sort();
}

/**
 * Merges every part into the table (written atomically). The parts stay (a worker may still be
 * appending to one): records already in the table are not added twice.
 */
async function merge(s: Setup): Promise<GroundTruthTable | undefined> {
  const before = await readExisting(s);
  const files = await partFiles(s);
  if (files.length === 0) return before;
  const records = (await Promise.all(files.map(async (f) => parsePart(await Deno.readTextFile(f), f))))
    .flat();
  const table = mergeRecords(s.header, before, records);
  await writeJsonAtomic(s.out, table);
  return table;
}

async function worker(flags: Flags, s: Setup, io: CliIo): Promise<number> {
  const shard = flags.shard ?? { k: 0, n: 1 };
  const done = new Set<string>();
  for (const arch of (await readExisting(s))?.architectures ?? []) {
    for (const run of arch.runs) done.add(`${arch.index}/${run.seed}`);
  }
  for (const file of await partFiles(s)) {
    for (const r of parsePart(await Deno.readTextFile(file), file)) done.add(`${r.index}/${r.seed}`);
  }
  const architectures = enumerateArchitectures(s.ir);
  // Seed-major: a table cut short still has every architecture at its first seeds.
  const jobs = flags.seeds.flatMap((seed) => architectures.map((cells, index) => ({ index, seed, cells })))
    .filter((_, j) => j % shard.n === shard.k)
    .filter((job) => !done.has(`${job.index}/${job.seed}`));
  const todo = jobs.slice(0, flags.limit ?? jobs.length);
  if (todo.length === 0) return EXIT_OK;
  await useBackend(flags.backend, (line) => io.err(`${line}\n`));
  if (tf.getBackend() === "native") setNativeThreads(flags.threads);
  const data = await loadTableData(s.header.recipe);
  await Deno.mkdir(s.parts, { recursive: true });
  const part = await Deno.open(`${s.parts}/part-${shard.k}-of-${shard.n}.jsonl`, {
    append: true,
    create: true,
  });
  try {
    for (const [i, job] of todo.entries()) {
      const run = await trainArchitecture(s.ir, job.cells, job.seed, s.header.recipe, data);
      const record = { index: job.index, key: architectureKey(s.ir, job.cells), ...run };
      // One write per line: a stopped worker leaves at most a truncated last line, which is skipped.
      await part.write(new TextEncoder().encode(`${JSON.stringify(record)}\n`));
      io.out.write(
        `[${shard.k}/${shard.n} ${i + 1}/${todo.length}] #${job.index} seed ${job.seed} ${record.key}: ` +
          `val ${(run.valAccuracy * 100).toFixed(1)}%, test ${(run.testAccuracy * 100).toFixed(1)}%, ` +
          `${run.trainSeconds.toFixed(1)} s\n`,
      );
    }
  } finally {
    part.close();
  }
  return EXIT_OK;
}

async function spawnWorkers(flags: Flags, args: readonly string[], io: CliIo): Promise<number> {
  const script = new URL(import.meta.url).pathname;
  const children = Array.from({ length: flags.parallel }, (_, k) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script, ...args, "--shard", `${k}/${flags.parallel}`],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn());
  const codes = (await Promise.all(children.map((c) => c.status))).map((status) => status.code);
  const failed = codes.filter((code) => code !== 0);
  if (failed.length > 0) {
    io.err(`error: ${failed.length} of ${codes.length} workers failed (exit ${failed.join(", ")})\n`);
  }
  return failed.length > 0 ? EXIT_FAILURE : EXIT_OK;
}

async function submitSlurm(flags: Flags, s: Setup, io: CliIo): Promise<number> {
  const root = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
  const absolute = (path: string) => path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const args = [absolute(flags.space), "--out", absolute(s.out), "--seeds", flags.seeds.join(",")];
  if (flags.backend !== "auto") args.push("--backend", flags.backend);
  if (flags.limit !== undefined) args.push("--limit", String(flags.limit));
  const script = tableSlurmScript({
    root,
    deno: Deno.execPath(),
    args,
    tasks: flags.parallel,
    logs: absolute(`${s.out}.logs`),
    sbatch: flags.sbatch,
  });
  if (flags.dryRun) {
    io.out.write(script);
    return EXIT_OK;
  }
  const path = `${s.out}.slurm.sh`;
  await Deno.mkdir(`${s.out}.logs`, { recursive: true });
  await writeFileAtomic(path, script);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("sbatch", { args: ["--parsable", path], stdin: "null" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Failure(`sbatch was not found: submit ${path} from a Slurm login node (sbatch ${path})`);
    }
    throw error;
  }
  const text = new TextDecoder();
  if (!output.success) throw new Failure(`sbatch refused ${path}: ${text.decode(output.stderr).trim()}`);
  io.out.write(
    `submitted job ${text.decode(output.stdout).trim()}: ${flags.parallel} shards; when it is done, ` +
      `deno task table ${flags.space} --out ${s.out} --merge\n`,
  );
  return EXIT_OK;
}

/**
 * Runs the CLI.
 *
 * @param args The command-line arguments.
 * @param io Where to write.
 * @returns The exit code.
 */
export async function main(args: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    const flags = readFlags(args);
    if (flags === "help") {
      io.out.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    const s = await setup(flags);
    if (flags.shard) return await worker(flags, s, io);
    if (flags.slurm) return await submitSlurm(flags, s, io);
    if (flags.dryRun || flags.sbatch.length > 0) {
      throw new UsageError("--dry-run and --sbatch go with --slurm");
    }
    let code = EXIT_OK;
    if (!flags.merge && !flags.stats) {
      code = flags.parallel === 1 ? await worker(flags, s, io) : await spawnWorkers(flags, args, io);
    }
    const table = await merge(s);
    if (table) io.out.write(`${s.out}:\n${describeTable(table)}\n`);
    else io.out.write(`${s.out}: no runs yet\n`);
    return code;
  } catch (error) {
    return reportError(error, io, {
      usage: USAGE,
      outOfMemory: "train fewer at a time (--parallel)",
      unexpected: "building the table failed",
    });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

// Sweeps without running searches: expansion, overrides, the Slurm script, collect on made-up folders.
import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import { compileSpace } from "../dsl/compile.ts";
import { overrideSpace } from "../runtime/sweep/overrides.ts";
import {
  expandTasks,
  makePlan,
  parseSeeds,
  parseSetValues,
  searchArgs,
  type SweepPlan,
  type SweepSpec,
  writePlan,
} from "../runtime/sweep/plan.ts";
import { renderSlurmScript, shellQuote } from "../runtime/sweep/slurm.ts";
import { collectSweep, renderReport, stat } from "../runtime/sweep/collect.ts";

const TINY = await Deno.readTextFile(new URL("../spaces/tiny.space", import.meta.url));
const spec = (over: Partial<SweepSpec> = {}): SweepSpec => ({
  space: "spaces/tiny.space",
  seeds: [0],
  set: [],
  evaluate: false,
  searchArgs: [],
  evaluateArgs: [],
  ...over,
});

Deno.test("expandTasks() runs every setting combination for every seed, seeds of one setting together", () => {
  const tasks = expandTasks(spec({ seeds: [0, 1], set: [["t0", [1.3, 1.6]], ["beta", [0.5, 0.9]]] }));
  assert.equal(tasks.length, 8);
  assert.deepEqual(tasks.map((t) => t.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(tasks.slice(0, 3).map((t) => t.dir), [
    "t0=1.3,beta=0.5/seed-0",
    "t0=1.3,beta=0.5/seed-1",
    "t0=1.3,beta=0.9/seed-0",
  ]);
  assert.deepEqual(tasks[7]!.overrides, [["t0", 1.6], ["beta", 0.9]]);
  assert.equal(expandTasks(spec({ seeds: [3] }))[0]!.dir, "default/seed-3");
  assert.throws(() => expandTasks(spec({ seeds: [] })), /at least one seed/);
  assert.throws(() => expandTasks(spec({ set: [["t0", [1]], ["t0", [2]]] })), /--set t0 is given twice/);
});

Deno.test("parseSeeds() reads lists and ranges and names the flag on bad input", () => {
  assert.deepEqual(parseSeeds("--seeds", "0,1,2"), [0, 1, 2]);
  assert.deepEqual(parseSeeds("--seeds", "3-5,1,4"), [3, 4, 5, 1]);
  for (const bad of ["", "a", "1,,2", "-1", "5-2", "1.5"]) {
    assert.throws(() => parseSeeds("--seeds", bad), /--seeds expects integers ≥ 0 or ranges a-b/, bad);
  }
});

Deno.test("parseSetValues() reads key=v1,v2 and lists the keys on an unknown one", () => {
  assert.deepEqual(parseSetValues("t0=1.3, 1.6"), ["t0", [1.3, 1.6]]);
  assert.throws(() => parseSetValues("t0"), /--set expects key=v1,v2/);
  assert.throws(() => parseSetValues("tzero=1"), /unknown search setting "tzero"; expected one of t0, beta/);
  assert.throws(() => parseSetValues("t0=1,x"), /--set t0 expects numbers separated by commas/);
});

Deno.test("overrideSpace() writes a space that compiles to the overridden settings and nothing else changed", () => {
  const { ir } = compileSpace(TINY, "spaces/tiny.space");
  const text = overrideSpace(
    ir!,
    [["t0", 1.3], ["threshold", 0.3], ["max_epochs", 3], ["alpha_lr", 0.01]],
    "spaces/tiny.space",
  );
  assert.match(
    text,
    /^\/\/ spaces\/tiny\.space with --set t0=1.3 threshold=0.3 max_epochs=3 alpha_lr=0.01\n/,
  );
  const back = compileSpace(text, "x.space").ir!;
  assert.deepEqual(back.search.temperature, { kind: "exponential", t0: 1.3, beta: 0.5 });
  assert.deepEqual(back.search.threshold, { kind: "fixed", c: 0.3 });
  assert.equal(back.search.maxEpochs, 3);
  assert.equal(back.search.archOptimizer.lr, 0.01);
  const strip = (v: unknown) => JSON.stringify(v, (k, x) => (k === "span" || k === "source" ? undefined : x));
  assert.equal(strip(back.cellTypes), strip(ir!.cellTypes));
  assert.equal(strip(back.supernet), strip(ir!.supernet));
});

Deno.test("overrideSpace() rejects a value the language rejects, and a key the space's schedule lacks", () => {
  const { ir } = compileSpace(TINY, "spaces/tiny.space");
  assert.throws(
    () => overrideSpace(ir!, [["beta", 1.5]], "t"),
    /--set beta=1.5: "beta" of "exponential" must be greater than 0 and less than 1 but is 1.5/,
  );
  assert.throws(() => overrideSpace(ir!, [["max_epochs", 2.5]], "t"), /"max_epochs" must be a whole number/);
  assert.throws(
    () => overrideSpace(ir!, [["temperature", 1]], "t"),
    /--set temperature applies to a constant temperature/,
  );
  assert.throws(() => overrideSpace(ir!, [["nu", 0.1]], "t"), /--set nu applies to a pac\(nu\) threshold/);
});

Deno.test("makePlan() checks every setting against the space before any task runs", () => {
  assert.throws(
    () => makePlan(spec({ set: [["beta", [0.5, 2]]] }), TINY),
    /--set beta=2: "beta" of "exponential"/,
  );
  assert.throws(
    () => makePlan(spec(), "space broken {"),
    /the space "spaces\/tiny.space" does not compile .*deno task compile spaces\/tiny.space/,
  );
  assert.equal(makePlan(spec({ seeds: [0, 1] }), TINY).tasks.length, 2);
});

Deno.test("searchArgs() starts a task fresh with its seed and overrides, and resumes it keeping only --backend", () => {
  const plan = makePlan(
    spec({ set: [["t0", [1.3]]], searchArgs: ["--epochs", "2", "--backend", "cpu", "--synthetic", "32"] }),
    TINY,
  );
  const task = plan.tasks[0]!;
  assert.deepEqual(searchArgs("/s", plan, task, false), [
    "/s/space.space",
    "--seed",
    "0",
    "--set",
    "t0=1.3",
    "--out",
    "/s/t0=1.3/seed-0",
    "--epochs",
    "2",
    "--backend",
    "cpu",
    "--synthetic",
    "32",
  ]);
  assert.deepEqual(searchArgs("/s", plan, task, true), ["--resume", "/s/t0=1.3/seed-0", "--backend", "cpu"]);
});

Deno.test("writePlan() continues the same sweep and refuses a folder that holds another", async () => {
  await withTempDir(async (dir) => {
    const plan = makePlan(spec({ seeds: [0, 1] }), TINY);
    assert.equal(await writePlan(dir, plan, TINY), false);
    assert.equal(await writePlan(dir, { ...plan, created: "later" }, TINY), true);
    await assert.rejects(
      () => writePlan(dir, makePlan(spec({ seeds: [0, 2] }), TINY), TINY),
      /holds another sweep .*--collect/,
    );
  });
});

const PATHS = { sweepDir: "/shared/my sweeps/a", root: "/opt/asap", deno: "/opt/deno/bin/deno" };

Deno.test("renderSlurmScript() writes a job array over the tasks with the options passed and valid bash", async () => {
  const plan = makePlan(spec({ seeds: [0, 1, 2] }), TINY);
  const script = renderSlurmScript(plan, PATHS, {
    time: "4:00:00",
    partition: "gpu",
    gres: "gpu:1",
    cpusPerTask: 4,
    mem: "16G",
    parallel: 2,
    extra: ["--account=lab"],
  }, "asap-tiny");
  for (
    const line of [
      "#SBATCH --array=0-2%2",
      "#SBATCH --output=/shared/my sweeps/a/logs/task-%a.log",
      "#SBATCH --requeue",
      "#SBATCH --signal=B:USR1@300",
      "#SBATCH --time=4:00:00",
      "#SBATCH --partition=gpu",
      "#SBATCH --gres=gpu:1",
      "#SBATCH --cpus-per-task=4",
      "#SBATCH --mem=16G",
      "#SBATCH --account=lab",
      "# task 2: default, seed 2 -> default/seed-2",
      `DENO="\${ASAP_DENO:-/opt/deno/bin/deno}"`,
    ]
  ) assert.ok(script.includes(`${line}\n`), line);
  assert.ok(script.includes(`--task '/shared/my sweeps/a' "$SLURM_ARRAY_TASK_ID"`));
  // #SBATCH lines must come before the first command, or sbatch ignores them.
  const lines = script.split("\n");
  const firstCommand = lines.findIndex((l, i) => i > 0 && l.trim() !== "" && !l.startsWith("#"));
  assert.ok(lines.findLastIndex((l) => l.startsWith("#SBATCH")) < firstCommand);
  const bash = await new Deno.Command("bash", { args: ["-n"], stdin: "piped", stderr: "piped" }).spawn();
  const writer = bash.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const checked = await bash.output();
  assert.equal(checked.code, 0, new TextDecoder().decode(checked.stderr));
});

Deno.test("shellQuote() leaves plain words and quotes the rest so the shell reads them back", () => {
  assert.equal(shellQuote("/a/b-c_d.ts"), "/a/b-c_d.ts");
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

Deno.test("stat() gives the mean and the sample standard deviation of the values present", () => {
  assert.deepEqual(stat([]), { n: 0, mean: null, std: null });
  assert.deepEqual(stat([0.5, null]), { n: 1, mean: 0.5, std: null });
  const s = stat([1, 2, 3, 4]);
  assert.equal(s.mean, 2.5);
  assert.ok(Math.abs(s.std! - Math.sqrt(5 / 3)) < 1e-12);
});

/** A made-up finished run folder: a genotype, two epochs of telemetry, optionally an evaluation. */
async function fakeRun(dir: string, val: number, seconds: number, evalAccuracy?: number): Promise<void> {
  await Deno.mkdir(`${dir}/eval`, { recursive: true });
  const cellTypes = [{ name: "normal", inputs: [{ name: "prev" }], nodes: [{ name: "n0" }, { name: "n1" }] }];
  await Deno.writeTextFile(
    `${dir}/genotype.json`,
    JSON.stringify({
      space: { cellTypes },
      cells: [{
        cellType: "normal",
        edges: [{ from: { kind: "input", index: 0 }, to: 0, op: "skip" }, {
          from: { kind: "node", index: 0 },
          to: 1,
          op: "pool",
        }],
      }],
    }),
  );
  const epoch = (e: number) =>
    JSON.stringify({
      epoch: e,
      epochMs: 500 * seconds,
      trainAccuracy: 0.1,
      valAccuracy: e === 1 ? val : null,
    });
  await Deno.writeTextFile(`${dir}/telemetry.jsonl`, `${epoch(0)}\n${epoch(1)}\n`);
  if (evalAccuracy !== undefined) {
    await Deno.writeTextFile(`${dir}/eval/result.json`, JSON.stringify({ testAccuracy: evalAccuracy }));
  }
}

Deno.test("collectSweep() summarises finished seeds per setting and lists unfinished and failed tasks with logs", async () => {
  await withTempDir(async (dir) => {
    const plan: SweepPlan = makePlan(
      spec({ seeds: [0, 1], set: [["t0", [1.3, 1.6]]], evaluate: true }),
      TINY,
    );
    await writePlan(dir, plan, TINY);
    await fakeRun(`${dir}/t0=1.3/seed-0`, 0.5, 10, 0.8);
    await fakeRun(`${dir}/t0=1.3/seed-1`, 0.7, 20, 0.9);
    // Searched but not yet evaluated, and running.
    await fakeRun(`${dir}/t0=1.6/seed-0`, 0.6, 10);
    const status = (index: number, state: string, exitCode: number | null) =>
      Deno.writeTextFile(
        `${dir}/status/task-${index}.json`,
        JSON.stringify({ index, state, phase: "evaluate", exitCode, attempts: 1 }),
      );
    await status(2, "running", null);
    await status(3, "failed", 1);

    const report = await collectSweep(dir);
    assert.deepEqual(report.tasks.map((t) => t.state), ["done", "done", "running", "failed"]);
    const [first, second] = report.settings;
    assert.equal(first!.setting, "t0=1.3");
    assert.equal(first!.done, 2);
    assert.ok(Math.abs(first!.supernetAccuracy.mean! - 0.6) < 1e-12);
    assert.ok(Math.abs(first!.supernetAccuracy.std! - Math.sqrt(0.02)) < 1e-12);
    assert.deepEqual(first!.searchSeconds, { n: 2, mean: 15, std: Math.sqrt(50) });
    assert.ok(Math.abs(first!.evalAccuracy.mean! - 0.85) < 1e-12);
    assert.equal(second!.done, 0);
    assert.deepEqual(report.tasks[0]!.genotype, { normal: ["prev -> n0: skip", "n0 -> n1: pool"] });

    const md = renderReport(report, dir);
    assert.match(md, /\| t0=1.3 \| 2\/2 \| 15.0 s ± 7.1 \| 60.00% ± 14.14 \| 85.00% ± 7.07 \|/);
    assert.match(md, /- normal: prev -> n0: skip, n0 -> n1: pool/);
    assert.ok(md.includes(`- task 2 (t0=1.6, seed 0): running; log ${dir}/logs/task-2.log`));
    assert.ok(md.includes(`- task 3 (t0=1.6, seed 1): failed, exit 1; log ${dir}/logs/task-3.log`));
  });
});

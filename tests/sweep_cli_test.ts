// deno task sweep end to end on one machine: the dry-run script, a --local sweep of tiny searches,
// --collect, SIGTERM → checkpoint → resume through the task runner, and search --set.
import { assert } from "./deps.ts";
import { captureIo, withTempDir } from "./_helpers.ts";
import { main as sweep } from "../runtime/cli/sweep.ts";
import { main as search } from "../runtime/cli/search.ts";
import { makePlan, writePlan } from "../runtime/sweep/plan.ts";
import { collectSweep } from "../runtime/sweep/collect.ts";
import { exists } from "../runtime/core/atomic.ts";

const TINY = new URL("../spaces/tiny.space", import.meta.url).pathname;
/** Tiny searches: 32 synthetic images, 2 steps per epoch. */
const QUICK = ["--synthetic", "32", "--steps-per-epoch", "2"];

function sweepIo() {
  let out = "";
  let err = "";
  return {
    out: (t: string) => void (out += t),
    err: (t: string) => void (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

Deno.test("sweep --slurm --dry-run prints a job array over the seeds and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const io = sweepIo();
    const out = `${dir}/sweep`;
    const code = await sweep([
      TINY,
      "--seeds",
      "0,1,2",
      "--slurm",
      "--dry-run",
      "--out",
      out,
      "--gres",
      "gpu:1",
      "--requeue-before",
      "600",
    ], io);
    assert.equal(code, 0, io.stderr());
    assert.match(io.stdout(), /^#!\/bin\/bash\n/);
    assert.match(io.stdout(), /^#SBATCH --array=0-2$/m);
    assert.match(io.stdout(), /^#SBATCH --gres=gpu:1$/m);
    assert.match(io.stdout(), /^#SBATCH --signal=B:USR1@600$/m);
    assert.match(io.stdout(), /^# task 1: default, seed 1 -> default\/seed-1$/m);
    assert.equal(await exists(out), false);
  });
});

Deno.test("a sweep.json gives the space (relative to the file), seeds, settings and search flags", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(TINY, `${dir}/tiny.space`);
    const file = `${dir}/sweep.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        space: "tiny.space",
        seeds: [0, 1],
        set: { t0: [1.3, 1.6] },
        args: ["--epochs", "2"],
      }),
    );
    const io = sweepIo();
    assert.equal(await sweep([file, "--slurm", "--dry-run", "--out", `${dir}/s`], io), 0, io.stderr());
    assert.match(io.stdout(), /^#SBATCH --array=0-3$/m);
    assert.match(io.stdout(), /^# task 3: t0=1.6, seed 1 -> t0=1.6\/seed-1$/m);
    // Flags win over the file.
    const seeds = sweepIo();
    assert.equal(await sweep([file, "--seeds", "7", "--slurm", "--dry-run", "--out", `${dir}/s`], seeds), 0);
    assert.match(seeds.stdout(), /^#SBATCH --array=0-1$/m);

    await Deno.writeTextFile(file, JSON.stringify({ space: "tiny.space", seed: [0] }));
    const bad = sweepIo();
    assert.equal(await sweep([file, "--local", "--out", `${dir}/s`], bad), 1);
    assert.match(bad.stderr(), /^error: sweep file ".*sweep.json": "seed" should be one of the known fields/);
  });
});

Deno.test("sweep reports usage errors and bad settings with a clear message before running anything", async () => {
  await withTempDir(async (dir) => {
    const cases: Array<[string[], number, RegExp]> = [
      [[TINY], 2, /^error: choose where the tasks run: --local or --slurm/],
      [[TINY, "--local", "--dry-run"], 2, /^error: --dry-run goes with --slurm/],
      [[TINY, "--local", "--gres", "gpu:1"], 2, /^error: --gres goes with --slurm/],
      [[TINY, "--local", "--parallel", "0"], 2, /^error: --parallel expects an integer ≥ 1, got "0"/],
      [[TINY, "--local", "--seeds", "x"], 1, /^error: --seeds expects integers/],
      [
        [TINY, "--local", "--set", "beta=0.5,1.5"],
        1,
        /^error: --set beta=1.5: "beta" of "exponential" must be/,
      ],
      [[`${dir}/none.space`, "--local"], 1, /^error: space file ".*none.space" does not exist/],
      [["--collect", `${dir}`], 1, /^error: ".*" is not a sweep folder: it has no plan.json/],
    ];
    for (const [args, code, message] of cases) {
      const io = sweepIo();
      assert.equal(await sweep([...args, "--out", `${dir}/s`], io), code, args.join(" "));
      assert.match(io.stderr(), message, args.join(" "));
    }
    assert.equal(await exists(`${dir}/s`), false, "nothing was written");
  });
});

Deno.test("a 2-seed --local --parallel 2 sweep completes both searches and --collect writes sweep.md", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/sweep`;
    const io = sweepIo();
    const args = [
      TINY,
      "--seeds",
      "0,1",
      "--set",
      "t0=1.3",
      "--local",
      "--parallel",
      "2",
      "--epochs",
      "1",
      ...QUICK,
    ];
    assert.equal(await sweep([...args, "--out", out], io), 0, io.stderr() + io.stdout());
    for (const seed of [0, 1]) {
      const run = `${out}/t0=1.3/seed-${seed}`;
      assert.ok(await exists(`${run}/genotype.json`), `${run} finished`);
      assert.equal(JSON.parse(await Deno.readTextFile(`${run}/run.json`)).seed, seed);
      assert.match(await Deno.readTextFile(`${run}/space.space`), /exponential\(t0: 1\.3, beta: 0\.5\)/);
    }
    assert.match(io.stdout(), /2 of 2 tasks done; wrote .*sweep.json and .*sweep.md/);

    const collected = sweepIo();
    assert.equal(await sweep(["--collect", out], collected), 0, collected.stderr());
    const md = await Deno.readTextFile(`${out}/sweep.md`);
    assert.match(md, /^\| t0=1.3 \| 2\/2 \| [\d.]+ s ± [\d.]+ \| [\d.]+% ± [\d.]+ \| - \|$/m);
    assert.match(md, /^\| 0 \| t0=1.3 \| 0 \| done \| 1 \|/m);
    assert.match(md, /^\| 1 \| t0=1.3 \| 1 \| done \| 1 \|/m);
    const report = JSON.parse(await Deno.readTextFile(`${out}/sweep.json`));
    assert.deepEqual(report.tasks.map((t: { state: string }) => t.state), ["done", "done"]);

    // The same command again continues the sweep: nothing left to run, no search restarted.
    const again = sweepIo();
    assert.equal(await sweep([...args, "--out", out], again), 0, again.stderr());
    assert.match(again.stdout(), /^continuing 2 tasks/);
    assert.equal((await Deno.readTextFile(`${out}/logs/task-0.log`)).match(/^searching /gm)?.length, 1);
  });
});

/** Waits until `path` exists, or fails after `seconds`. */
async function waitFor(path: string, seconds: number): Promise<void> {
  for (let waited = 0; !(await exists(path)); waited += 0.1) {
    if (waited > seconds) throw new Error(`${path} did not appear within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SWEEP_CLI = new URL("../runtime/cli/sweep.ts", import.meta.url).pathname;

/** Runs `sweep.ts --task DIR 0` as Slurm's array task would. */
function spawnTask(dir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", `--allow-write=${dir}`, "--allow-run", SWEEP_CLI, "--task", dir, "0"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess): Promise<{ code: number; text: string }> {
  const { code, stdout, stderr } = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, text: decode(stdout) + decode(stderr) };
}

Deno.test("a task stopped by SIGTERM checkpoints, exits 143, and resumes from its checkpoint when run again", async () => {
  await withTempDir(async (dir) => {
    const text = await Deno.readTextFile(TINY);
    const plan = makePlan({
      space: TINY,
      seeds: [4],
      set: [],
      evaluate: false,
      searchArgs: ["--epochs", "6", "--synthetic", "32", "--steps-per-epoch", "3"],
      evaluateArgs: [],
    }, text);
    await writePlan(dir, plan, text);
    const run = `${dir}/default/seed-4`;

    const first = spawnTask(dir);
    await waitFor(`${run}/checkpoint/latest.json`, 120);
    first.kill("SIGTERM");
    const stopped = await finish(first);
    assert.equal(stopped.code, 143, stopped.text);
    assert.match(stopped.text, /SIGTERM: stopping after the current step to write a checkpoint/);
    assert.equal(await exists(`${run}/genotype.json`), false, "stopped before the end");
    const status = JSON.parse(await Deno.readTextFile(`${dir}/status/task-0.json`));
    assert.deepEqual([status.state, status.exitCode, status.attempts], ["stopped", 143, 1]);
    assert.equal((await collectSweep(dir)).tasks[0]!.state, "stopped");

    const second = await finish(spawnTask(dir));
    assert.equal(second.code, 0, second.text);
    assert.match(second.text, /^resuming .*seed-4 at epoch [2-6], step 1$/m);
    assert.ok(await exists(`${run}/genotype.json`));
    const telemetry = (await Deno.readTextFile(`${run}/telemetry.jsonl`)).trimEnd().split("\n");
    assert.deepEqual(telemetry.map((l) => JSON.parse(l).epoch), [1, 2, 3, 4, 5, 6]);
    const done = JSON.parse(await Deno.readTextFile(`${dir}/status/task-0.json`));
    assert.deepEqual([done.state, done.attempts], ["done", 2]);
  });
});

Deno.test("search --set overrides the search block in space.space, and cannot be combined with --resume", async () => {
  await withTempDir(async (dir) => {
    const run = `${dir}/run`;
    const io = captureIo();
    const code = await search([
      TINY,
      ...QUICK,
      "--epochs",
      "1",
      "--set",
      "beta=0.6",
      "--set",
      "lr=0.05",
      "--out",
      run,
    ], io);
    assert.equal(code, 0, io.stderr());
    const text = await Deno.readTextFile(`${run}/space.space`);
    assert.match(text, /^\/\/ .*tiny\.space with --set beta=0.6 lr=0.05$/m);
    assert.match(text, /exponential\(t0: 3\.2, beta: 0\.6\)/);
    assert.match(text, /sgd\(lr: 0\.05,/);

    const both = captureIo();
    assert.equal(await search(["--resume", run, "--set", "t0=1"], both), 2);
    assert.match(both.stderr(), /^error: --set cannot be combined with --resume/);
    const bad = captureIo();
    assert.equal(await search([TINY, "--set", "t0"], bad), 2);
    assert.match(bad.stderr(), /^error: --set expects key=value, got "t0"/);
    const invalid = captureIo();
    assert.equal(await search([TINY, ...QUICK, "--set", "beta=2", "--out", `${dir}/x`], invalid), 2);
    assert.match(
      invalid.stderr(),
      /^error: --set beta=2: "beta" of "exponential" must be greater than 0 and less than 1/,
    );
  });
});

import { assert } from "./deps.ts";
import { captureIo, fastSpace, withTempDir } from "./_helpers.ts";
import { main } from "../runtime/cli/search.ts";
import { compileSpace } from "../dsl/compile.ts";
import type { Genotype } from "../dsl/ir.ts";
import { sha256Hex } from "../runtime/io/checkpoint_io.ts";

const CLI = new URL("../runtime/cli/search.ts", import.meta.url).pathname;

const FAST_SPACE = fastSpace();

/** The run options every run of the resume tests shares. */
const RUN = ["--synthetic", "48", "--steps-per-epoch", "3", "--seed", "5"];

/** The CLI as `deno task search` runs it: the task's permissions, writing only under `writable`. */
function spawnCli(writable: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      `--allow-write=${writable},.asap-cache`,
      "--allow-ffi=.asap-cache",
      "--allow-run=g++",
      CLI,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Waits until the run's checkpoint is at the end of epoch `epoch` or later (or the process ends). */
async function waitForCheckpoint(dir: string, epoch: number, child: Deno.ChildProcess): Promise<void> {
  let ended = false;
  child.status.then(() => ended = true);
  for (;;) {
    try {
      const manifest = JSON.parse(await Deno.readTextFile(`${dir}/checkpoint/latest.json`));
      if (manifest.state.epoch >= epoch) return;
    } catch {
      // Not written yet.
    }
    if (ended) throw new Error("the search ended before its checkpoint appeared");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function output(child: Deno.ChildProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

async function readGenotype(dir: string): Promise<Genotype> {
  return JSON.parse(await Deno.readTextFile(`${dir}/genotype.json`)) as Genotype;
}

function assertSameSearch(resumed: Genotype, reference: Genotype): void {
  assert.deepEqual(resumed.cells, reference.cells);
  for (const [type, edges] of Object.entries(reference.alpha)) {
    edges.forEach((alpha, e) =>
      alpha.forEach((a, o) => {
        const b = resumed.alpha[type]![e]![o]!;
        assert.ok(Math.abs(a - b) <= 1e-6, `α of ${type} edge ${e} op ${o}: ${b} vs ${a}`);
      })
    );
  }
}

Deno.test("search exits 2 with a one-line message and the usage on a usage error", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^error: unknown option "--bogus"/],
    [["--epochs", "three"], /^error: --epochs expects an integer ≥ 1, got "three"/],
    [["--seed=-1"], /^error: --seed expects an integer ≥ 0, got "-1"/],
    [["--seed", "-1"], /^error: option "--seed" needs a value \(write --seed=VALUE/],
    [["--out"], /^error: option "--out" needs a value/],
    [["a.space", "b.space"], /^error: expected one \.space file, got 2/],
    [["--resume", "runs/x", "--epochs", "3"], /^error: --epochs cannot be combined with --resume/],
    [["--backend", "tpu"], /^error: unknown backend "tpu"/],
  ];
  for (const [args, message] of cases) {
    const io = captureIo();
    assert.equal(await main(args, io), 2, args.join(" "));
    assert.match(io.stderr(), message);
    assert.match(io.stderr(), /usage: deno task search/);
  }
});

Deno.test("search --help prints the usage and exits 0", async () => {
  const io = captureIo();
  assert.equal(await main(["--help"], io), 0);
  assert.match(io.stdout(), /--resume DIR/);
});

Deno.test("search exits 1 with the rendered diagnostics of a bad space file", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/bad.space`;
    await Deno.writeTextFile(
      file,
      FAST_SPACE.replace("candidates: skip_connect,", "candidates: skip_conect,"),
    );
    const io = captureIo();
    assert.equal(await main([file, "--synthetic", "16", "--out", `${dir}/run`], io), 1);
    assert.match(io.stderr(), /bad\.space:5:\d+ error\[[a-z-]+\]: .*"skip_conect"/);
    assert.match(io.stderr(), /skip_connect/); // the hint
    assert.equal(await Deno.stat(`${dir}/run`).catch(() => null), null);
  });
});

Deno.test("search exits 1 naming the file when the space or the data is missing", async () => {
  await withTempDir(async (dir) => {
    const io = captureIo();
    assert.equal(await main([`${dir}/nowhere.space`], io), 1);
    assert.match(io.stderr(), /^error: space file ".*nowhere\.space" does not exist/);
    const file = `${dir}/fast.space`;
    await Deno.writeTextFile(file, FAST_SPACE);
    const data = captureIo();
    assert.equal(await main([file, "--data", `${dir}/cifar`, "--out", `${dir}/run`], data), 1);
    assert.match(
      data.stderr(),
      /^error: --data ".*cifar" is neither a task \(digits, cluttered-digits, fashion-mnist\) nor an existing folder/,
    );
    await Deno.mkdir(`${dir}/cifar`);
    const files = captureIo();
    assert.equal(await main([file, "--data", `${dir}/cifar`, "--out", `${dir}/run`], files), 1);
    assert.match(files.stderr(), /^error: CIFAR-10 file ".*data_batch_1\.bin" is missing/);
  });
});

Deno.test("search --data cluttered-digits searches the cluttered digits and records them in run.json, which --resume reads", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/fast.space`;
    await Deno.writeTextFile(file, FAST_SPACE);
    const out = `${dir}/run`;
    const io = captureIo();
    const flags = ["--data", "cluttered-digits", "--epochs", "1", "--steps-per-epoch", "1"];
    assert.equal(await main([file, ...flags, "--out", out], io), 0, io.stderr());
    assert.match(io.stdout(), /on cluttered-mnist-train, /);
    const run = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
    assert.deepEqual(run.data, { kind: "cluttered-digits" });
  });
});

Deno.test("search writes a complete run folder whose found.space compiles", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/fast.space`;
    await Deno.writeTextFile(file, FAST_SPACE);
    const out = `${dir}/run`;
    const io = captureIo();
    const code = await main([
      file,
      "--synthetic",
      "32",
      "--epochs",
      "2",
      "--steps-per-epoch",
      "2",
      "--out",
      out,
    ], io);
    assert.equal(code, 0, io.stderr());
    assert.match(io.stdout(), /^epoch 1\/2 {2}T 0\.300 {2}θ 0\.133 {2}ops \d+\/30 /m);
    assert.match(io.stdout(), /^epoch 2\/2 /m);
    for (
      const name of [
        "space.space",
        "run.json",
        "genotype.json",
        "telemetry.jsonl",
        "curves.svg",
        "found.space",
        "checkpoint/latest.json",
        ...["normal", "reduction"].flatMap((t) => [`cell-${t}.svg`, `cell-${t}.dot`, `supernet-${t}.svg`]),
      ]
    ) {
      assert.ok((await Deno.stat(`${out}/${name}`)).size > 0, name);
    }
    assert.equal(await Deno.readTextFile(`${out}/space.space`), FAST_SPACE);
    const genotype = await readGenotype(out);
    assert.equal(genotype.spaceHash, await sha256Hex(FAST_SPACE));
    assert.equal(genotype.seed, 0);
    const telemetry = (await Deno.readTextFile(`${out}/telemetry.jsonl`)).trimEnd().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(telemetry.map((t) => t.epoch), [1, 2]);
    for (const cell of genotype.cells) {
      const svg = await Deno.readTextFile(`${out}/cell-${cell.cellType}.svg`);
      const dot = await Deno.readTextFile(`${out}/cell-${cell.cellType}.dot`);
      for (const edge of cell.edges) {
        assert.ok(svg.includes(edge.op) && dot.includes(edge.op), `${cell.cellType}: ${edge.op}`);
      }
      const supernet = await Deno.readTextFile(`${out}/supernet-${cell.cellType}.svg`);
      assert.ok(supernet.includes("conv_3x3"));
    }
    const found = await Deno.readTextFile(`${out}/found.space`);
    const compiled = compileSpace(found, "found.space");
    assert.ok(compiled.ir, compiled.diagnostics.map((d) => d.message).join("\n"));
    const normal = compiled.ir.cellTypes.find((c) => c.name === "normal")!;
    assert.deepEqual(
      normal.edges.map((e) => e.candidates),
      genotype.cells.find((c) => c.cellType === "normal")!.edges.map((e) => [e.op]),
    );
    // A second search into the same folder is refused.
    const again = captureIo();
    assert.equal(await main([file, "--synthetic", "32", "--out", out], again), 1);
    assert.match(again.stderr(), /already holds a run: continue it with --resume/);
  });
});

Deno.test("a search killed with SIGKILL and resumed finds what an uninterrupted search finds", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/fast.space`;
    await Deno.writeTextFile(file, FAST_SPACE);

    const reference = `${dir}/reference`;
    const io = captureIo();
    assert.equal(await main([file, ...RUN, "--out", reference], io), 0, io.stderr());

    const killed = `${dir}/killed`;
    const child = spawnCli(dir, [file, ...RUN, "--out", killed]);
    await waitForCheckpoint(killed, 2, child);
    child.kill("SIGKILL");
    await output(child);
    assert.equal(await Deno.stat(`${killed}/genotype.json`).catch(() => null), null, "killed before the end");

    // The space file may be given again on resume, as long as it is the same text.
    const resumed = await output(spawnCli(dir, ["--resume", killed, file]));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^resuming .* at epoch [3-6], step 1$/m);
    assertSameSearch(await readGenotype(killed), await readGenotype(reference));
    // The resumed genotype names the original space file, not the run folder's copy.
    assert.equal((await readGenotype(killed)).space.source, file);
    assert.deepEqual((await readGenotype(killed)).space, (await readGenotype(reference)).space);
    const epochs = async (run: string) =>
      (await Deno.readTextFile(`${run}/telemetry.jsonl`)).trimEnd().split("\n").map((l) => {
        const { epoch, opsLeft, pruned, trainLoss, valLoss } = JSON.parse(l);
        return { epoch, opsLeft, pruned, trainLoss, valLoss };
      });
    assert.deepEqual(await epochs(killed), await epochs(reference));
  });
});

Deno.test("Ctrl-C checkpoints after the current step, exits 130 with the resume command, and the resumed run matches", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/fast.space`;
    await Deno.writeTextFile(file, FAST_SPACE);
    const reference = `${dir}/reference`;
    assert.equal(await main([file, ...RUN, "--out", reference], captureIo()), 0);

    const run = `${dir}/interrupted`;
    const child = spawnCli(dir, [file, ...RUN, "--out", run]);
    await waitForCheckpoint(run, 1, child);
    child.kill("SIGINT");
    const stopped = await output(child);
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.ok(stopped.stdout.includes(`interrupted; resume with: deno task search --resume ${run}`));

    // A different space file is refused.
    const other = `${dir}/other.space`;
    await Deno.writeTextFile(other, FAST_SPACE.replace("max_epochs: 6", "max_epochs: 7"));
    const refused = captureIo();
    assert.equal(await main(["--resume", run, other], refused), 1);
    assert.match(refused.stderr(), /differs from the space the run .* was started with/);

    const resumed = captureIo();
    assert.equal(await main(["--resume", run], resumed), 0, resumed.stderr());
    assertSameSearch(await readGenotype(run), await readGenotype(reference));
  });
});

Deno.test("a search that ends in grace warns that its cells are arbitrary and says how many epochs train α", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/grace.space`;
    await Deno.writeTextFile(file, FAST_SPACE.replace("grace_epochs: 0", "grace_epochs: 3"));
    const io = captureIo();
    const code = await main([
      file,
      "--synthetic",
      "32",
      "--epochs",
      "1",
      "--steps-per-epoch",
      "1",
      "--out",
      `${dir}/run`,
    ], io);
    assert.equal(code, 0, io.stderr());
    assert.match(
      io.stderr(),
      /^warning: the search ended in grace after 1 epoch: α was never trained, so the derived cells are arbitrary; search at least 4 epochs \(α trains from epoch 4\)$/m,
    );
    const trained = captureIo();
    const args = [
      file,
      "--synthetic",
      "32",
      "--epochs",
      "4",
      "--steps-per-epoch",
      "1",
      "--out",
      `${dir}/run4`,
    ];
    assert.equal(await main(args, trained), 0, trained.stderr());
    assert.doesNotMatch(trained.stderr(), /grace/);
  });
});

Deno.test("search --out outside the writable folder exits 1 naming one command, which then runs the search", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/fast.space`;
    await Deno.writeTextFile(file, FAST_SPACE);
    await Deno.mkdir(`${dir}/runs`);
    const out = `${dir}/elsewhere`;
    const refused = await output(
      spawnCli(`${dir}/runs`, [
        file,
        "--synthetic",
        "32",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--out",
        out,
      ]),
    );
    assert.equal(refused.code, 1, refused.stderr);
    const lines = refused.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, refused.stderr);
    assert.match(
      lines[0]!,
      /^error: cannot write the run folder ".*elsewhere": the task may write only under runs\/; to write there, run:$/,
    );
    const command = lines[1]!.trim().split(" ");
    assert.deepEqual(command.slice(0, 3), ["deno", "run", "--allow-read"]);
    assert.ok(
      command.includes(`--allow-write=runs,${out},.asap-cache`) &&
        command.includes("--allow-sys=systemMemoryInfo,cpus") &&
        command.includes("--allow-ffi=.asap-cache"),
    );
    // The command as printed (with no prompt, run from the folder that holds runs/) does the search.
    const rerun = await new Deno.Command(Deno.execPath(), {
      args: [command[1]!, "--no-prompt", ...command.slice(2)],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(rerun.code, 0, new TextDecoder().decode(rerun.stderr));
    assert.ok((await Deno.stat(`${out}/genotype.json`)).isFile);
  });
});

Deno.test("search exits 1 naming the epoch and step when the loss becomes NaN", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nan.space`;
    // A learning rate of 1e30 sends the weights, then the loss, to infinity within two steps.
    await Deno.writeTextFile(
      file,
      FAST_SPACE.replace(
        "grace_epochs: 0",
        "grace_epochs: 0  weights: sgd(lr: 1e30, lr_min: 0, grad_clip: 5)",
      ),
    );
    const io = captureIo();
    assert.equal(
      await main([file, "--synthetic", "32", "--steps-per-epoch", "2", "--out", `${dir}/run`], io),
      1,
    );
    assert.match(
      io.stderr(),
      /^error: the (train|val) loss became NaN or infinite at epoch \d+, step \d+; .*learning rate/,
    );
  });
});

Deno.test("Progress draws a bar with an ETA only on a terminal, and one line per epoch either way", async () => {
  const { candidateCounts, formatEpochLine, Progress } = await import("../runtime/report/progress.ts");
  const { compileSpace } = await import("../dsl/compile.ts");
  const ir = compileSpace(FAST_SPACE).ir!;
  const telemetry = {
    epoch: 1,
    temperature: 0.5,
    threshold: 0.4 / 3,
    lr: 0.025,
    grace: false,
    opsLeft: { normal: [3, 2, 1, 3, 3], reduction: [3, 3, 3, 3, 3] },
    sparsity: 0.1,
    entropy: { normal: 0.81, reduction: 0.99 },
    pruned: [],
    steps: 4,
    epochMs: 2500,
    trainLoss: 1.5,
    trainAccuracy: 0.5,
    valLoss: NaN,
    valAccuracy: NaN,
    tfBytes: 0,
    tfTensors: 0,
  };
  for (const isTerminal of [true, false]) {
    let text = "";
    let now = 0;
    const progress = new Progress(6, { write: (t) => text += t, isTerminal }, () => now);
    for (let step = 1; step <= 4; step++) {
      progress.step(0, step, 4);
      now += 2000;
    }
    progress.endEpoch(formatEpochLine(telemetry, 6, candidateCounts(ir)));
    const lines = text.split("\n");
    assert.equal(
      lines.at(-2)!.split("\x1b[K").pop(),
      "epoch 1/6  T 0.500  θ 0.133  ops 27/30 (normal 12/15, reduction 15/15)  H normal 0.81 reduction 0.99  " +
        "2.5 s  train 1.500 50.0%  val - -",
    );
    if (isTerminal) {
      // After step 2 of 4, one step took 2 s: 2 steps, 4 s left.
      assert.ok(text.includes("\repoch 1/6 [############............] 2/4  ETA 0:04"), JSON.stringify(text));
    } else {
      assert.equal(text.split("\n").length, 2);
      assert.ok(!text.includes("\r"));
    }
  }
});

// deno task sweep --slurm on a real one-node Slurm: the test writes a slurm.conf for this machine in a
// temporary folder, starts munged, slurmctld and slurmd as its own processes (and stops them), submits
// a 2-task array of tiny searches and checks both run folders and --collect. Where Slurm is not
// installed or cannot start here, the test says so and passes; ASAP_SLURM_REQUIRED=1 (set by .ci/run
// once it installed Slurm) turns that into a failure.
import { assert } from "./deps.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PROGRAMS = [
  "munged",
  "slurmctld",
  "slurmd",
  "sbatch",
  "squeue",
  "sinfo",
  "sacct",
  "scontrol",
  "scancel",
];
const SBIN = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** The program's path, from PATH or the sbin folders (daemons are not on a user's PATH). */
function which(name: string): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), ...SBIN].filter((d) => d !== "");
  for (const dir of dirs) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // Not there.
    }
  }
  return null;
}

const found = Object.fromEntries(PROGRAMS.map((p) => [p, which(p)]));
const missing = PROGRAMS.filter((p) => found[p] === null);
const required = Deno.env.get("ASAP_SLURM_REQUIRED") === "1";
if (missing.length > 0) {
  const message =
    `Slurm is not installed here (missing ${missing.join(", ")}): the real-Slurm sweep test is ` +
    "skipped; the --dry-run and --local sweep tests still run (apt-get install slurm-wlm munge to run it)";
  if (required) throw new Error(`ASAP_SLURM_REQUIRED=1 but ${message}`);
  console.warn(message);
}

/** Runs a command to its end. */
async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, { args, env, cwd, stdin: "null" }).output();
  return { code, out: decode(stdout), err: decode(stderr) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 0.5 s until it is true; false after `seconds`. */
async function until(seconds: number, check: () => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A one-node cluster whose daemons are this test's child processes. */
class Cluster {
  readonly daemons: Array<{ name: string; child: Deno.ChildProcess }> = [];
  constructor(readonly dir: string, readonly env: Record<string, string>) {}

  static async start(dir: string): Promise<Cluster> {
    await Deno.chmod(dir, 0o755); // munged wants its socket's folder reachable by all
    const host = (await run("hostname", ["-s"])).out.trim() || "localhost";
    const user = (await run("id", ["-un"])).out.trim();
    const key = new Uint8Array(1024);
    crypto.getRandomValues(key);
    await Deno.writeFile(`${dir}/munge.key`, key, { mode: 0o600 });
    await Deno.mkdir(`${dir}/state`);
    await Deno.mkdir(`${dir}/spool`);
    const [ctldPort, dPort] = [freePort(), freePort()];
    const cpus = navigator.hardwareConcurrency;
    await Deno.writeTextFile(
      `${dir}/slurm.conf`,
      [
        "ClusterName=asaptest",
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmUser=${user}`,
        `SlurmdUser=${user}`,
        "AuthType=auth/munge",
        `AuthInfo=socket=${dir}/munge.socket`,
        "CredType=cred/munge",
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${dPort}`,
        `StateSaveLocation=${dir}/state`,
        `SlurmdSpoolDir=${dir}/spool`,
        `SlurmctldPidFile=${dir}/slurmctld.pid`,
        `SlurmdPidFile=${dir}/slurmd.pid`,
        `SlurmctldLogFile=${dir}/slurmctld.log`,
        `SlurmdLogFile=${dir}/slurmd.log`,
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        // sacct -c reads finished jobs from here (no slurmdbd needed).
        "JobCompType=jobcomp/filetxt",
        `JobCompLoc=${dir}/jobcomp.txt`,
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "MpiDefault=none",
        `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN`,
        `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
        "",
      ].join("\n"),
    );
    const cluster = new Cluster(dir, { SLURM_CONF: `${dir}/slurm.conf` });
    try {
      cluster.spawn("munged", [
        "-F",
        "-f",
        `--socket=${dir}/munge.socket`,
        `--key-file=${dir}/munge.key`,
        `--pid-file=${dir}/munged.pid`,
        `--log-file=${dir}/munged.log`,
        `--seed-file=${dir}/munged.seed`,
      ]);
      await cluster.expect("munged's socket", 15, async () => {
        return await Deno.stat(`${dir}/munge.socket`).then(() => true, () => false);
      });
      cluster.spawn("slurmctld", ["-D", "-i"]);
      await cluster.expect("slurmctld to answer scontrol ping", 30, async () => {
        return (await run(found.scontrol!, ["ping"], cluster.env)).out.includes("UP");
      });
      cluster.spawn("slurmd", ["-D", "-N", host]);
      await cluster.expect(`node ${host} to be idle`, 30, async () => {
        return (await run(found.sinfo!, ["-h", "-N", "-o", "%T"], cluster.env)).out.trim() === "idle";
      });
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  spawn(name: string, args: string[]): void {
    const child = new Deno.Command(found[name]!, {
      args,
      env: this.env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    })
      .spawn();
    this.daemons.push({ name, child });
  }

  async expect(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
    if (await until(seconds, check)) return;
    const logs = await Promise.all(["munged", "slurmctld", "slurmd"].map(async (n) => {
      const text = await Deno.readTextFile(`${this.dir}/${n}.log`).catch(() => "");
      return `${n}.log: ${text.trimEnd().split("\n").slice(-5).join("\n  ")}`;
    }));
    throw new SlurmUnavailable(`waited ${seconds} s for ${what}\n${logs.join("\n")}`);
  }

  /** Cancels what is left of the test's jobs, then stops the daemons (SIGTERM, SIGKILL after 10 s). */
  async stop(): Promise<void> {
    if (this.daemons.some((d) => d.name === "slurmctld")) {
      await run(found.scancel!, ["--full", "--user", (await run("id", ["-un"])).out.trim()], this.env);
      await until(30, async () => (await run(found.squeue!, ["-h"], this.env)).out.trim() === "");
    }
    for (const { child } of this.daemons.reverse()) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      const ended = await Promise.race([child.status.then(() => true), sleep(10_000).then(() => false)]);
      if (!ended) child.kill("SIGKILL");
      await child.stderr.cancel().catch(() => {});
      await child.status;
    }
  }
}

/** Slurm is installed but would not start here. */
class SlurmUnavailable extends Error {}

Deno.test({
  name:
    "sweep --slurm runs a 2-task array on a one-node Slurm, --collect reports both, and a requeued task resumes",
  ignore: missing.length > 0,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "asap-slurm-" });
    const out = `runs/.slurm-test-${Date.now().toString(36)}`;
    const outs = [out];
    let cluster: Cluster | null = null;
    try {
      try {
        cluster = await Cluster.start(dir);
      } catch (error) {
        if (!(error instanceof SlurmUnavailable) || required) throw error;
        console.warn(`Slurm could not be started here, so the real-Slurm test is skipped: ${error.message}`);
        return;
      }
      const env = cluster.env;
      const submitted = await run(Deno.execPath(), [
        "task",
        "--quiet",
        "sweep",
        "spaces/tiny.space",
        "--seeds",
        "0,1",
        "--slurm",
        "--synthetic",
        "32",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--out",
        out,
      ], env);
      assert.equal(submitted.code, 0, submitted.err + submitted.out);
      const job = /^submitted job (\d+): 2 array tasks/m.exec(submitted.out)?.[1];
      assert.ok(job, submitted.out);

      const finished = await until(
        300,
        async () => (await run(found.squeue!, ["-h", "-j", job], env)).out.trim() === "",
      );
      const logs = async () =>
        (await Promise.all(
          [0, 1].map((i) => Deno.readTextFile(`${ROOT}/${out}/logs/task-${i}.log`).catch(() => "")),
        ))
          .join("\n---\n");
      assert.ok(finished, `the array job ${job} did not finish within 300 s:\n${await logs()}`);
      const sacct = await run(found.sacct!, ["-c", "-n", "-X", "-o", "State"], env);
      const states = sacct.out.split("\n").map((l) => l.trim()).filter((l) => l !== "");
      assert.deepEqual(
        states,
        ["COMPLETED", "COMPLETED"],
        `sacct: ${sacct.out}${sacct.err}\n${await logs()}`,
      );

      for (const seed of [0, 1]) {
        const run = `${ROOT}/${out}/default/seed-${seed}`;
        for (const file of ["run.json", "space.space", "genotype.json", "found.space", "telemetry.jsonl"]) {
          assert.ok(await Deno.stat(`${run}/${file}`).then(() => true, () => false), `${run}/${file}`);
        }
        assert.equal(JSON.parse(await Deno.readTextFile(`${run}/run.json`)).seed, seed);
      }
      assert.match(await logs(), /^done in .* \(1 epochs\); found cells:$/m);

      const collected = await run(Deno.execPath(), ["task", "--quiet", "sweep", "--collect", out], env);
      assert.equal(collected.code, 0, collected.err);
      assert.match(collected.out, /^2 of 2 tasks done; wrote /m);
      const md = await Deno.readTextFile(`${ROOT}/${out}/sweep.md`);
      assert.match(md, /^\| default \| 2\/2 \|/m);

      // The time-limit path: SIGUSR1 to the batch script (what --signal=B:USR1@300 sends before the
      // limit) checkpoints, requeues the task, and the requeued task resumes from the checkpoint.
      const long = `${out}-requeue`;
      outs.push(long);
      const again = await run(Deno.execPath(), [
        "task",
        "--quiet",
        "sweep",
        "spaces/tiny.space",
        "--seeds",
        "5",
        "--slurm",
        "--synthetic",
        "32",
        "--epochs",
        "8",
        "--out",
        long,
      ], env);
      assert.equal(again.code, 0, again.err);
      const task = `${/^submitted job (\d+)/m.exec(again.out)?.[1]}_0`;
      const runDir = `${ROOT}/${long}/default/seed-5`;
      assert.ok(
        await until(120, () => Deno.stat(`${runDir}/checkpoint/latest.json`).then(() => true, () => false)),
      );
      const signalled = await run(found.scancel!, ["--batch", "--signal=USR1", task], env);
      assert.equal(signalled.code, 0, signalled.err);
      const pending = async () => (await run(found.squeue!, ["-h", "-j", task, "-o", "%T"], env)).out.trim();
      assert.ok(await until(60, async () => await pending() === "PENDING"), "the task was requeued");
      // Slurm holds a requeued job back (BeginTime, its credential lifetime, 2 min): the node revoked the
      // first run's job credential when it was killed, and a credential made in the same second as that
      // revocation is refused ("Killing non-startable batch job: Job credential revoked"; the job fails
      // and leaves the queue). StartTime=now, as this test set before, started it within that second
      // whenever the requeue was quick; a few seconds later every new credential postdates it.
      const update = await run(found.scontrol!, ["update", `JobId=${task}`, "StartTime=now+3"], env);
      assert.equal(update.code, 0, update.err);
      const log = () => Deno.readTextFile(`${ROOT}/${long}/logs/task-0.log`).catch(() => "");
      // Wait for the resumed run's last line, not for the queue to empty: squeue may list nothing for a
      // moment between the requeue and the restart.
      const resumedDone = async () => /^done in .* \(8 epochs\); found cells:$/m.test(await log());
      const ctldLog = async () =>
        (await Deno.readTextFile(`${dir}/slurmctld.log`).catch(() => "")).trimEnd().split("\n").slice(-8)
          .join("\n");
      assert.ok(
        await until(300, resumedDone),
        `the requeued task did not finish (${await pending()}):\n${await log()}\nslurmctld.log:\n${await ctldLog()}`,
      );
      assert.ok(await until(60, async () => await pending() === ""), "the task left the queue");
      const text = await log();
      assert.match(text, /^SIGTERM: stopping after the current step to write a checkpoint$/m);
      assert.match(text, /^time limit near: requeueing /m);
      assert.match(text, /^resuming .*seed-5 at epoch [2-8], step 1$/m);
      assert.match(text, /^done in .* \(8 epochs\); found cells:$/m);
      const epochs = (await Deno.readTextFile(`${runDir}/telemetry.jsonl`)).trimEnd().split("\n");
      assert.deepEqual(epochs.map((l) => JSON.parse(l).epoch), [1, 2, 3, 4, 5, 6, 7, 8]);
      const status = JSON.parse(await Deno.readTextFile(`${ROOT}/${long}/status/task-0.json`));
      assert.deepEqual([status.state, status.attempts], ["done", 2]);
    } finally {
      await cluster?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      for (const o of outs) await Deno.remove(`${ROOT}/${o}`, { recursive: true }).catch(() => {});
    }
  },
});

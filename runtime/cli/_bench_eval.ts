/**
 * The evaluation networks `deno task bench --eval` times: the training step of runtime/loops/train.ts
 * (augmentation, forward with drop-path and the auxiliary head, backward, gradient clipping, SGD with
 * Nesterov momentum) on synthetic 32×32 images, at two sizes: the paper's (the DARTS_V2 cells of
 * spaces/darts_v2.space, C = 36, 20 cells) and the quickstart's (spaces/quickstart_cell.space: a cell as
 * the quickstart's searches find it, with quickstart.space's evaluate block, C = 16, 8 cells, batch 64,
 * one-channel digits), whose fixed per-kernel costs weigh more. Each
 * comes with the spec of the same network for the PyTorch peer.
 *
 * @module
 */
import { compileSpace } from "../../dsl/compile.ts";
import { fixedCells, type SpaceIR } from "../../dsl/ir.ts";
import { syntheticDataset } from "../data/datasets.ts";
import { TrainRun } from "../loops/train.ts";
import { type EvaluationSpec, evaluationSpec } from "./_bench_peer.ts";

/** The evaluation networks the bench knows. */
export const EVALUATION_NETWORKS = ["darts_v2", "quickstart"] as const;
/** One of {@linkcode EVALUATION_NETWORKS}. */
export type EvaluationNetworkName = typeof EVALUATION_NETWORKS[number];

/** The found cells each network stacks, as files in spaces/. */
export const EVALUATION_SPACES: Readonly<Record<EvaluationNetworkName, string>> = {
  darts_v2: "darts_v2",
  quickstart: "quickstart_cell",
};

/** The drop-path probability of the timed step: the evaluate blocks' final value (DARTS: 0.2). */
export const BENCH_DROP_PATH = 0.2;

/** An evaluation network ready to step, and its peer's spec. */
export interface PreparedEvaluation {
  readonly name: string;
  readonly batch: number;
  readonly run: TrainRun;
  readonly spec: EvaluationSpec;
  /** One training step (the loss read back, as evaluate's steps do). */
  step(): Promise<void>;
  dispose(): void;
}

async function loadSpace(name: string): Promise<SpaceIR> {
  const file = new URL(`../../spaces/${name}.space`, import.meta.url).pathname;
  const { ir } = compileSpace(await Deno.readTextFile(file), file);
  if (!ir) throw new Error(`${file} does not compile`);
  return ir;
}

/**
 * Builds the training run of one evaluation network on synthetic data, its drop-path fixed at
 * {@linkcode BENCH_DROP_PATH}.
 *
 * @param which `darts_v2` or `quickstart`.
 * @param batch The batch (the bench's `--batch` for darts_v2; the quickstart's own 64 otherwise).
 * @returns The run, its step, and the peer's spec of the same network.
 * @throws {Error} When a space does not compile (a broken checkout).
 */
export async function prepareEvaluation(
  which: EvaluationNetworkName,
  batch: number,
): Promise<PreparedEvaluation> {
  const file = EVALUATION_SPACES[which];
  const ir = await loadSpace(file);
  const fixed = fixedCells(ir);
  if (!("cells" in fixed)) throw new Error(`spaces/${file}.space is not a found cell`);
  const cells = fixed.cells;
  const inputChannels = which === "quickstart" ? 1 : 3;
  const data = syntheticDataset({
    n: 4 * batch,
    height: 32,
    width: 32,
    channels: inputChannels,
    classes: 10,
    seed: 0,
  });
  // train.ts ramps drop-path as p·epoch/epochs: epoch 1 of 2 at 2p is p.
  const run = new TrainRun(ir, cells, {
    data,
    test: data,
    batchSize: batch,
    epochs: 2,
    dropPath: 2 * BENCH_DROP_PATH,
  });
  run.epoch = 1;
  if (Math.abs(run.dropPathProb - BENCH_DROP_PATH) > 1e-12) {
    run.dispose();
    throw new Error(
      `the bench's drop-path is ${run.dropPathProb}, not ${BENCH_DROP_PATH}: train.ts's ramp changed`,
    );
  }
  const { channels, cells: count } = run.settings;
  const name = `${which} evaluation network, C=${channels}, ${count} cells (${
    (run.net.parameterCount() / 1e6).toFixed(2)
  }M)${run.net.recompute ? " (recomputed)" : ""}`;
  const spec = evaluationSpec(ir, cells, {
    name,
    inputChannels,
    imageSize: 32,
    classes: 10,
    dropPath: BENCH_DROP_PATH,
  });
  return {
    name,
    batch,
    run,
    spec,
    step: async () => {
      await run.runStep();
      // Stay in the epoch: the step count never reaches its end (no test pass inside the timing).
      if (run.step >= run.stepsPerEpoch) run.step = 0;
    },
    dispose: () => run.dispose(),
  };
}

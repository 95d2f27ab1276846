/**
 * Training one architecture of the ground-truth table with one seed: the recipe's data (a
 * class-balanced selection of the task at a lower resolution), the space's `evaluate` settings,
 * and the accuracies read after the reduced and after the full budget.
 *
 * @module
 */

import type { GenotypeCell, SpaceIR } from "../../dsl/ir.ts";
import { sha256Hex } from "../io/checkpoint_io.ts";
import type { Dataset } from "../data/datasets.ts";
import { dataSourceOf, loadSource } from "../data/sources.ts";
import { balancedParts, downsample, pick } from "../data/reshape.ts";
import { TrainRun } from "../loops/train.ts";
import type { TableRecipe, TableRecord } from "./table_file.ts";

/**
 * The hash a table keeps of its space: SHA-256 of what the trained networks depend on — the
 * operations, the cell types and the evaluate block, without source positions — so that editing the
 * space's search block or comments keeps its table valid.
 *
 * @param ir The space.
 * @returns Hex digest.
 */
export async function tableHash(ir: SpaceIR): Promise<string> {
  const { operations, cellTypes, evaluate } = ir;
  return await sha256Hex(
    JSON.stringify({ operations, cellTypes, evaluate }, (key, value) => key === "span" ? undefined : value),
  );
}

/** The recipe's datasets: the three of every training, and what searches scored on the table see. */
export interface TableData {
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly test: Dataset;
  /** The first `searchImages` of the training part (classes stay balanced: the part interleaves them). */
  readonly search: Dataset;
}

/** The table's defaults besides the space's `evaluate` block (see README, "Ground truth"). */
export const TABLE_DATA = {
  task: "fashion-mnist",
  downsample: 2,
  trainImages: 9000,
  validationImages: 1000,
  testImages: 5000,
  searchImages: 3000,
  selectionSeed: 0,
} as const;

/** The epoch after which the reduced budget's accuracies are read: a third of the full budget. */
export function reducedEpochsOf(epochs: number): number {
  return Math.max(1, Math.round(epochs / 3));
}

/**
 * The recipe of a table of this space: the space's `evaluate` block and the data defaults.
 *
 * @param ir The benchmark space.
 * @param threads ATen threads per training.
 * @returns The recipe.
 */
export function recipeOf(ir: SpaceIR, threads: number): TableRecipe {
  const { evaluate } = ir;
  return {
    data: { ...TABLE_DATA, resolution: 32 / TABLE_DATA.downsample },
    epochs: evaluate.epochs,
    reducedEpochs: reducedEpochsOf(evaluate.epochs),
    batchSize: evaluate.batchSize,
    channels: evaluate.channels,
    cells: evaluate.cells,
    lr: evaluate.weightOptimizer.lr,
    threads,
  };
}

/**
 * Loads the recipe's data: the training split's selection is cut into disjoint training and
 * validation parts, the test split's into the test part; both at the recipe's resolution. Searches
 * see a prefix of the training part (all of it for tables from before `searchImages`).
 *
 * @param recipe The recipe.
 * @returns Training, validation and test images.
 */
export async function loadTableData(recipe: TableRecipe): Promise<TableData> {
  const { data } = recipe;
  const source = dataSourceOf(data.task, undefined);
  const trainSplit = downsample(await loadSource(source, "train"), data.downsample);
  const testSplit = downsample(await loadSource(source, "test"), data.downsample);
  const [train, validation] = balancedParts(
    trainSplit,
    [data.trainImages, data.validationImages],
    data.selectionSeed,
  );
  const [test] = balancedParts(testSplit, [data.testImages], data.selectionSeed);
  const searchImages = Math.min(data.searchImages ?? data.trainImages, data.trainImages);
  return {
    train: pick(trainSplit, train!, `${data.task}-train`),
    search: pick(trainSplit, train!.slice(0, searchImages), `${data.task}-search`),
    validation: pick(trainSplit, validation!, `${data.task}-validation`),
    test: pick(testSplit, test!, `${data.task}-test`),
  };
}

/**
 * Trains one architecture with one seed under the recipe.
 *
 * @param ir The benchmark space.
 * @param cells The architecture.
 * @param seed The seed (weights, batch order).
 * @param recipe The recipe.
 * @param data The recipe's data ({@linkcode loadTableData}).
 * @returns The run, without the architecture's index and key.
 */
export async function trainArchitecture(
  ir: SpaceIR,
  cells: readonly GenotypeCell[],
  seed: number,
  recipe: TableRecipe,
  data: Pick<TableData, "train" | "validation" | "test">,
): Promise<Omit<TableRecord, "index" | "key">> {
  const run = new TrainRun(ir, cells, {
    data: data.train,
    test: data.validation,
    seed,
    epochs: recipe.epochs,
    batchSize: recipe.batchSize,
    channels: recipe.channels,
    cells: recipe.cells,
    auxiliary: false,
    augment: { pad: 0, flip: false },
    testBatchSize: 500,
  });
  try {
    let seconds = 0;
    let reduced: { val: number; test: number; seconds: number } | undefined;
    let val = NaN;
    let epochs = 0;
    while (!run.done) {
      const started = performance.now();
      const telemetry = await run.runEpoch(); // its validation pass included
      seconds += (performance.now() - started) / 1000;
      val = telemetry.testAccuracy;
      epochs += 1;
      if (epochs === recipe.reducedEpochs) {
        reduced = { val, test: (await run.evaluate(data.test)).accuracy, seconds };
      }
    }
    const test = (await run.evaluate(data.test)).accuracy;
    return {
      seed,
      parameters: run.net.parameterCount(),
      valAccuracy: val,
      testAccuracy: test,
      reducedValAccuracy: reduced!.val,
      reducedTestAccuracy: reduced!.test,
      trainSeconds: seconds,
      reducedTrainSeconds: reduced!.seconds,
    };
  } finally {
    run.dispose();
  }
}

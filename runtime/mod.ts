/**
 * The runtime: backends, data, the search (supernet, annealing, pruning) and the evaluation
 * network, on TensorFlow.js.
 *
 * @module
 */
export { BackendError, BACKENDS, isBackendName, useBackend } from "./backend.ts";
export type { BackendName } from "./backend.ts";
export { DataError, datasetSize, loadCifar10, loadMnist, splitTrainVal, syntheticDataset } from "./data.ts";
export type { Dataset, TrainValSplit } from "./data.ts";
export { search, SearchInterrupted, SearchRun } from "./search.ts";
export { NonFiniteLossError } from "./errors.ts";
export type { EpochTelemetry, PruneEvent, SearchCheckpoint, SearchOptions } from "./search.ts";
export { SearchNetwork } from "./supernet.ts";
export { deriveCell } from "./derive.ts";
export {
  cosineLr,
  cyclicLr,
  normalizedEntropy,
  softmaxWithTemperature,
  sparsityAt,
  temperatureAt,
  thresholdAt,
} from "./schedules.ts";
export { Rng } from "./rng.ts";
export type { RngState } from "./rng.ts";
export { EvaluationNetwork } from "./evaluation_network.ts";
export { train, TrainInterrupted, TrainRun } from "./train.ts";
export type { TrainOptions, TrainResult, TrainTelemetry } from "./train.ts";
export { loadWeights, saveWeights } from "./weights_io.ts";
export { cellToDot, cellToSvg, curvesToSvg, supernetToSvg } from "./render.ts";

/**
 * The runtime: backends, data, the search (supernet, annealing, pruning) and the evaluation
 * network, on TensorFlow.js.
 *
 * @module
 */
export { BackendError, BACKENDS, isBackendName, useBackend } from "./kernels/backend.ts";
export type { BackendName } from "./kernels/backend.ts";
export {
  DataError,
  datasetSize,
  loadCifar10,
  loadMnist,
  splitTrainVal,
  syntheticDataset,
} from "./data/datasets.ts";
export type { Dataset, TrainValSplit } from "./data/datasets.ts";
export { clutter, CLUTTERED_DIGITS, loadClutteredDigits } from "./data/clutter.ts";
export type { ClutterOptions } from "./data/clutter.ts";
export { DATA_NAMES, dataSourceOf, loadSource } from "./data/sources.ts";
export type { DataSource } from "./data/sources.ts";
export { classNamesOf } from "./data/sources.ts";
export { decodeImage, imageToInput, MAX_IMAGE_PIXELS } from "./data/image_decode.ts";
export type { DecodedImage } from "./data/image_decode.ts";
export {
  IMAGE_FOLDER_INPUT,
  imageFolderClasses,
  isImageFolder,
  loadImageFolder,
} from "./data/image_folder.ts";
export { search, SearchInterrupted, SearchRun } from "./loops/search.ts";
export { NonFiniteLossError } from "./core/errors.ts";
export type { EpochTelemetry, PruneEvent, SearchCheckpoint, SearchOptions } from "./loops/search.ts";
export { SearchNetwork } from "./nets/supernet.ts";
export { deriveCell } from "./loops/derive.ts";
export {
  cosineLr,
  cyclicLr,
  normalizedEntropy,
  softmaxWithTemperature,
  sparsityAt,
  temperatureAt,
  thresholdAt,
} from "./loops/schedules.ts";
export { Rng } from "./core/rng.ts";
export type { RngState } from "./core/rng.ts";
export { EvaluationNetwork } from "./nets/evaluation_network.ts";
export { train, TrainInterrupted, TrainRun } from "./loops/train.ts";
export type { TrainOptions, TrainResult, TrainTelemetry } from "./loops/train.ts";
export { loadWeights, saveWeights } from "./nets/weights_io.ts";
export { cellToDot, cellToSvg, curvesToSvg, supernetToSvg } from "./report/render.ts";
export { dashboardHandler, serveDashboard } from "./report/dashboard_server.ts";
export type { DashboardServer } from "./report/dashboard_server.ts";
export { findRuns, parseTelemetry, readRun } from "./report/telemetry_read.ts";
export type { RunDetail, RunStatus, RunSummary, TelemetryPoint } from "./report/telemetry_read.ts";

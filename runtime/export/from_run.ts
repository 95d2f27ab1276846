/**
 * A trained evaluation network read back from an `evaluate` run folder (`eval.json`,
 * `genotype.json`, `weights/`, `result.json`), with what its export states: the input shape, the
 * training set's standardization, the class names. The network is built without its auxiliary head
 * (inference does not use it) and takes the saved weights by name.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { Genotype } from "../../dsl/ir.ts";
import { IR_VERSION } from "../../dsl/ir.ts";
import { channelStats, type Standardization } from "../data/augment.ts";
import { classNamesOf, DATA_KINDS, type DataSource, inputOf, loadSource } from "../data/sources.ts";
import { EvaluationNetwork } from "../nets/evaluation_network.ts";
import { loadWeights, WeightsError } from "../nets/weights_io.ts";
import { Rng } from "../core/rng.ts";

/** An evaluate run folder that cannot be exported; the message says which file and why. */
export class RunReadError extends Error {
  override readonly name = "RunReadError";
}

/** The fields of `eval.json` read here. */
interface EvalRecord {
  readonly data: DataSource;
  readonly channels: number | null;
  readonly cells: number | null;
  /** Written by evaluate runs on labelled image folders and named datasets. */
  readonly classNames?: readonly string[];
}

/** What {@linkcode readEvaluateRun} returns; dispose the network when done. */
export interface EvaluateRun {
  readonly dir: string;
  readonly genotype: Genotype;
  readonly net: EvaluationNetwork;
  /** `[H, W, C]` of the images. */
  readonly inputShape: readonly [number, number, number];
  readonly classNames: readonly string[];
  readonly standardize: Standardization;
  readonly data: DataSource;
  /** From `result.json`. */
  readonly testAccuracy: number | null;
}

async function readJson<T>(path: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new RunReadError(`${what} "${path}" is missing`);
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RunReadError(`"${path}" is not valid JSON`);
  }
}

/** `eval.json`'s class names when they fit the network, else the source's (older runs did not record them). */
function classNames(data: DataSource, classes: number, recorded?: readonly string[]): readonly string[] {
  const names = recorded && recorded.length === classes ? recorded : classNamesOf(data);
  return names.length === classes ? names : Array.from({ length: classes }, (_, i) => String(i));
}

/**
 * Reads an evaluate run folder into its trained network.
 *
 * @param dir The folder `deno task evaluate` wrote (it holds eval.json and weights/).
 * @returns The network with its weights and what its export states.
 * @throws {RunReadError} When a file is missing, or the weights do not fit the network.
 * @example
 * ```ts
 * import { readEvaluateRun, RunReadError } from "./from_run.ts";
 * const dir = await Deno.makeTempDir(); // no eval.json: a search's folder, say
 * await readEvaluateRun(dir).then(
 *   () => Promise.reject(new Error("not an evaluate run folder")),
 *   (error) => { if (!(error instanceof RunReadError) || !error.message.includes("eval.json")) throw error; },
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readEvaluateRun(dir: string): Promise<EvaluateRun> {
  const root = dir.replace(/\/+$/, "");
  try {
    if (!(await Deno.stat(root)).isDirectory) {
      throw new RunReadError(`"${dir}" is not a folder: give the folder deno task evaluate wrote`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new RunReadError(`"${dir}" does not exist`);
    throw error;
  }
  try {
    await Deno.stat(`${root}/eval.json`);
  } catch {
    throw new RunReadError(
      `"${dir}" is not an evaluate run folder (it has no eval.json): export the folder that ` +
        `deno task evaluate wrote, not a search's`,
    );
  }
  const config = await readJson<EvalRecord>(`${root}/eval.json`, "evaluation record");
  if (!config.data || !DATA_KINDS.includes(config.data.kind)) {
    throw new RunReadError(`"${root}/eval.json" names no known data source`);
  }
  const genotype = await readJson<Genotype>(`${root}/genotype.json`, "genotype");
  if (genotype.version !== 1 || genotype.space?.version !== IR_VERSION || !Array.isArray(genotype.cells)) {
    throw new RunReadError(`"${root}/genotype.json" is not a genotype this asap reads (IR ${IR_VERSION})`);
  }
  try {
    await Deno.stat(`${root}/weights/weights.json`);
  } catch {
    throw new RunReadError(
      `"${dir}" has no trained weights (weights/weights.json): the evaluation has not finished; ` +
        `finish it with deno task evaluate --resume ${dir}`,
    );
  }
  const result = await readJson<{ testAccuracy?: number | null; standardize?: Standardization }>(
    `${root}/result.json`,
    "result",
  ).catch(() => ({} as { testAccuracy?: number | null; standardize?: Standardization }));

  const input = inputOf(config.data);
  const init = new Rng(0);
  const net = new EvaluationNetwork(genotype.space, genotype.cells, {
    inputChannels: input.inputChannels,
    classes: input.classes,
    ...(config.channels !== null ? { channels: config.channels } : {}),
    ...(config.cells !== null ? { cells: config.cells } : {}),
    auxiliary: false,
    nextSeed: () => init.int(2 ** 31 - 1),
  });
  try {
    await assignSaved(net, `${root}/weights`);
    // The training set's statistics, as training standardized with them (older runs did not record them).
    const standardize = result.standardize ?? channelStats(await loadSource(config.data, "train"));
    return {
      dir: root,
      genotype,
      net,
      inputShape: [input.inputSize, input.inputSize, input.inputChannels],
      classNames: classNames(config.data, input.classes, config.classNames),
      standardize,
      data: config.data,
      testAccuracy: result.testAccuracy ?? null,
    };
  } catch (error) {
    net.dispose();
    throw error;
  }
}

/** Assigns every variable of the network from the saved weights (the auxiliary head's are not needed). */
async function assignSaved(net: EvaluationNetwork, dir: string): Promise<void> {
  let saved: Record<string, tf.Tensor>;
  try {
    saved = await loadWeights(dir);
  } catch (error) {
    if (error instanceof WeightsError) throw new RunReadError(error.message);
    throw error;
  }
  try {
    for (const [name, variable] of Object.entries(net.namedVariables())) {
      const value = saved[name];
      if (!value) {
        throw new RunReadError(
          `the weights in "${dir}" have no "${name}": they belong to another network than genotype.json ` +
            `and eval.json describe`,
        );
      }
      if (value.shape.join() !== variable.shape.join()) {
        throw new RunReadError(
          `weight "${name}" in "${dir}" is ${value.shape.join("×")}, the network's is ${
            variable.shape.join("×")
          }`,
        );
      }
      variable.assign(value);
    }
  } finally {
    tf.dispose(Object.values(saved));
  }
}

/**
 * A sweep file (`sweep.json`): the same as the sweep's flags, for sweeps kept under version control.
 *
 * ```json
 * {"space": "tiny.space", "seeds": [0, 1], "set": {"t0": [1.3, 1.6]}, "evaluate": false, "args": ["--epochs", "2"]}
 * ```
 *
 * @module
 */
import { parseSetValues, SweepError, type SweepSpec } from "./plan.ts";

/**
 * Reads a sweep file: `{"space", "seeds", "set", "evaluate", "args", "evalArgs"}`, the space path
 * relative to the file.
 *
 * @param path The sweep.json.
 * @returns The fields it gives (the space always).
 * @throws {SweepError} Naming the file and the field that is wrong.
 */
export async function readSpecFile(path: string): Promise<Partial<SweepSpec> & { space: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new SweepError(`sweep file "${path}" does not exist`);
    throw new SweepError(`sweep file "${path}" is not valid JSON`);
  }
  const bad = (field: string, expected: string) =>
    new SweepError(`sweep file "${path}": "${field}" should be ${expected}`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("the file", "an object");
  const r = raw as Record<string, unknown>;
  const known = ["space", "seeds", "set", "evaluate", "args", "evalArgs"];
  const unknown = Object.keys(r).find((k) => !known.includes(k));
  if (unknown !== undefined) throw bad(unknown, `one of the known fields (${known.join(", ")})`);
  if (typeof r.space !== "string") throw bad("space", "the path of a .space file");
  const base = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
  const space = r.space.startsWith("/") ? r.space : `${base}${r.space}`;
  const ints = (v: unknown) => Array.isArray(v) && v.every((s) => Number.isInteger(s) && s >= 0);
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
  if (r.seeds !== undefined && !ints(r.seeds)) throw bad("seeds", "a list of integers ≥ 0");
  if (r.evaluate !== undefined && typeof r.evaluate !== "boolean") throw bad("evaluate", "true or false");
  if (r.args !== undefined && !strings(r.args)) throw bad("args", "a list of search flags as strings");
  if (r.evalArgs !== undefined && !strings(r.evalArgs)) throw bad("evalArgs", "a list of evaluate flags");
  let set: Array<[string, number[]]> | undefined;
  if (r.set !== undefined) {
    if (typeof r.set !== "object" || r.set === null || Array.isArray(r.set)) {
      throw bad("set", 'an object of lists, {"t0": [1.3, 1.6]}');
    }
    set = Object.entries(r.set).map(([k, v]) => {
      if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "number")) {
        throw bad(`set.${k}`, "a non-empty list of numbers");
      }
      return parseSetValues(`${k}=${v.join(",")}`);
    });
  }
  return {
    space,
    ...(r.seeds !== undefined ? { seeds: r.seeds as number[] } : {}),
    ...(set !== undefined ? { set } : {}),
    ...(r.evaluate !== undefined ? { evaluate: r.evaluate as boolean } : {}),
    ...(r.args !== undefined ? { searchArgs: r.args as string[] } : {}),
    ...(r.evalArgs !== undefined ? { evaluateArgs: r.evalArgs as string[] } : {}),
  };
}

/**
 * `deno task compile <file.space | genotype> [--summary]`: the IR as JSON on stdout (exit 0), or the
 * diagnostics on stderr (exit 1). Usage errors exit 2. A DARTS-format genotype (`Genotype(normal=…)`),
 * given as the argument or in a file, compiles as the DARTS space with its cells (darts_genotype.ts).
 *
 * @module
 */
import { compileSpace } from "./compile.ts";
import { looksLikeDartsGenotype, readDartsGenotype } from "./darts_genotype.ts";
import { parseArgs } from "./deps.ts";
import { renderDiagnostics } from "./diagnostics.ts";
import { irToJson } from "./ir.ts";

const USAGE = "usage: deno task compile <file.space> [--summary]";

/** Where the CLI writes (the console by default; tests pass their own). */
export interface CliOutput {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const consoleOutput: CliOutput = {
  stdout: (text) => console.log(text.replace(/\n$/, "")),
  stderr: (text) => console.error(text.replace(/\n$/, "")),
};

/**
 * Runs the compile command.
 *
 * @param args the command-line arguments: one file, optionally `--summary` (counts instead of the IR)
 * @param out where to write
 * @returns the exit code: 0 compiled, 1 the file has errors or cannot be read, 2 usage error
 */
export async function main(args: string[], out: CliOutput = consoleOutput): Promise<number> {
  let options: { summary?: boolean; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args,
      options: { summary: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    options = parsed.values;
    files = parsed.positionals;
  } catch (error) {
    out.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    out.stdout(
      `${USAGE}\n  Prints the IR of the space as JSON, or with --summary its sizes. A DARTS-format genotype\n` +
        "  (Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=[…], reduce=[…], reduce_concat=[…]))\n" +
        "  compiles as the DARTS space holding its cells, with the DARTS paper's evaluation settings.",
    );
    return 0;
  }
  const file = files[0];
  if (files.length !== 1 || file === undefined) {
    out.stderr(
      `error: ${files.length === 0 ? "no .space file given" : "give exactly one .space file"}\n${USAGE}`,
    );
    return 2;
  }
  let text: string;
  try {
    text = looksLikeDartsGenotype(file) ? file : await Deno.readTextFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : error instanceof Error
      ? error.message
      : String(error);
    out.stderr(`error: cannot read "${file}": ${reason}`);
    return 1;
  }
  const { ir, diagnostics } = looksLikeDartsGenotype(text)
    ? readDartsGenotype(text, text === file ? "<genotype>" : file)
    : compileSpace(text, file);
  if (diagnostics.length > 0) out.stderr(renderDiagnostics(diagnostics, text));
  if (!ir) return 1;
  if (options.summary) {
    const { summarize } = await import("./infer.ts");
    const { searchMemory } = await import("./memory.ts");
    const summary = summarize(ir);
    // The sizes only: the per-cell shapes stay in the IR tools (`summarize` returns them).
    const { cells: _cells, cellTypeDetails: _details, ...sizes } = summary;
    // Bytes of a search step at the space's batch size (32×32×3 images): see dsl/memory.ts.
    const { largestTensorPerSample: _largest, ...memory } = searchMemory(ir, summary);
    out.stdout(JSON.stringify({ ...sizes, memory }));
  } else {
    out.stdout(irToJson(ir));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

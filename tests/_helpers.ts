// Helpers shared by the test files.
import type { CliIo } from "../runtime/cli/_common.ts";

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>, prefix = "asap-test-"): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A CLI's output streams, captured. */
export function captureIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: { write: (text) => out += text, isTerminal: false },
    err: (text) => err += text,
    stdout: () => out,
    stderr: () => err,
  };
}

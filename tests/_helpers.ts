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

/**
 * A tiny space whose α moves fast (high Adam lr, no grace, low T), so ops are pruned within the first
 * epochs: for tests of resuming, telemetry and live views.
 */
export function fastSpace(name = "fast", maxEpochs = 6): string {
  return `space ${name} {
  operation skip_connect = identity
  operation avg_pool_3x3 = avg_pool(kernel: 3)
  operation conv_3x3 = relu > conv(kernel: 3) > batch_norm
  cell normal { nodes: 2  candidates: skip_connect, avg_pool_3x3, conv_3x3 }
  cell reduction extends normal { reduction: true }
  supernet { channels: 4  cells: 3  reductions: [1] }
  search asap {
    temperature: exponential(t0: 0.5, beta: 0.6)
    grace_epochs: 0
    max_epochs: ${maxEpochs}
    batch_size: 8
    alpha: adam(lr: 0.05, beta1: 0.5, beta2: 0.999, weight_decay: 0.001)
  }
}
`;
}

/** The value with every `span` field removed, for comparing IRs built from different text. */
export function stripSpans(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripSpans);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => k !== "span").map(([k, v]) => [k, stripSpans(v)]),
  );
}

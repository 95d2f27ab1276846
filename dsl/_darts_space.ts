/**
 * The DARTS space that DARTS-format genotypes are read into (darts_genotype.ts): DARTS' operations
 * (`operations.py` of the DARTS code, as `spaces/darts.space` declares them) and the settings of
 * `spaces/darts_v2.space` (DARTS' supernet and search; the DARTS paper's evaluation of its cells).
 * tests/darts_genotype_test.ts keeps this and `spaces/darts_v2.space` the same.
 *
 * @module
 */

import { compileSpace } from "./compile.ts";
import type { Step } from "./ir.ts";

/**
 * DARTS' operations by name, as `.space` definitions; `always` ones are declared in every space read
 * from a genotype (DARTS' eight candidates), the others only when a genotype uses them.
 */
export const DARTS_OPERATIONS: Readonly<
  Record<string, { readonly definition: string; readonly always: boolean }>
> = {
  none: { definition: "zero", always: true },
  max_pool_3x3: { definition: "max_pool(kernel: 3)", always: true },
  avg_pool_3x3: { definition: "avg_pool(kernel: 3)", always: true },
  skip_connect: { definition: "identity", always: true },
  sep_conv_3x3: { definition: "sep_conv(kernel: 3)", always: true },
  sep_conv_5x5: { definition: "sep_conv(kernel: 5)", always: true },
  dil_conv_3x3: { definition: "dil_conv(kernel: 3, dilation: 2)", always: true },
  dil_conv_5x5: { definition: "dil_conv(kernel: 5, dilation: 2)", always: true },
  // In DARTS' OPS table too, used by the NASNet and AmoebaNet genotypes of its genotypes.py.
  sep_conv_7x7: { definition: "sep_conv(kernel: 7)", always: false },
};

/** The supernet, search and evaluate blocks of `spaces/darts_v2.space`, indented for a space body. */
export const DARTS_SETTINGS = `  supernet {
    channels: 16
    cells: 8
    reductions: [2, 5]
    stem_multiplier: 3
    channel_doubling: true
    normal: normal
    reduction: reduction
  }

  search darts {
    temperature: constant(1)
    grace_epochs: 0
    schedule_unit: epoch
    max_epochs: 50
    batch_size: 64
    train_fraction: 0.5
    weights: sgd(lr: 0.025, lr_min: 0.001, momentum: 0.9, nesterov: false, weight_decay: 0.0003, grad_clip: 5)
    alpha: adam(lr: 0.0003, beta1: 0.5, beta2: 0.999, weight_decay: 0.001)
  }

  evaluate {
    cells: 20
    channels: 36
    reductions: [6, 13]
    auxiliary_weight: 0.4
    drop_path: 0.2
    cutout: 16
    label_smoothing: 0
    auto_augment: false
    epochs: 600
    batch_size: 96
    lr_schedule: cosine
    weights: sgd(lr: 0.025, lr_min: 0, momentum: 0.9, nesterov: true, weight_decay: 0.0003, grad_clip: 5)
  }`;

let lowered: ReadonlyMap<string, readonly Step[]> | null = null;

/**
 * The primitive steps a DARTS operation lowers to, compiled once from {@linkcode DARTS_OPERATIONS}.
 *
 * @param name An operation name.
 * @returns Its steps, or null when DARTS has no operation of that name.
 */
export function dartsOperationSteps(name: string): readonly Step[] | null {
  if (lowered === null) {
    const ops = Object.entries(DARTS_OPERATIONS).map(([op, { definition }]) =>
      `  operation ${op} = ${definition}`
    );
    const text =
      `space darts_ops {\n${ops.join("\n")}\n  cell normal { nodes: 1 candidates: skip_connect }\n` +
      `  cell reduction extends normal { reduction: true }\n}\n`;
    const { ir, diagnostics } = compileSpace(text, "<darts operations>");
    if (!ir) throw new Error(`DARTS' operations do not compile: ${diagnostics[0]?.message}`);
    lowered = new Map(ir.operations.map((op) => [op.name, op.steps]));
  }
  return lowered.get(name) ?? null;
}

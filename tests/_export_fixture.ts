// A tiny evaluation network whose cells hold every op the shipped spaces (spaces/*.space) can
// produce and the `.space` language's own steps (conv with dilation, conv_1x1, batch_norm after a
// pool, factorized_reduce, zero), with a reduction cell and a projected output: the export tests'
// network. Its batch norms get random running statistics, so folding them is tested.
import { tf } from "../runtime/deps.ts";
import { compileSpace } from "../dsl/compile.ts";
import type { GenotypeCell, SpaceIR } from "../dsl/ir.ts";
import { EvaluationNetwork } from "../runtime/nets/evaluation_network.ts";

export const EXPORT_SPACE = `space export_ops {
  operation sep_conv_3x3 = sep_conv(kernel: 3)
  operation sep_conv_5x5 = sep_conv(kernel: 5)
  operation dil_conv_3x3 = dil_conv(kernel: 3, dilation: 2)
  operation dil_conv_5x5 = dil_conv(kernel: 5, dilation: 2)
  operation max_pool_3x3 = max_pool(kernel: 3)
  operation avg_pool_3x3 = avg_pool(kernel: 3)
  operation skip_connect = identity
  operation none = zero
  operation conv_3x3_d2 = relu > conv(kernel: 3, dilation: 2) > batch_norm
  operation pool_bn = avg_pool(kernel: 3) > batch_norm(affine: false)
  operation point = conv_1x1 > batch_norm
  operation reduce = factorized_reduce
  cell normal {
    nodes: 5
    candidates: sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5, max_pool_3x3, avg_pool_3x3,
      skip_connect, none, conv_3x3_d2, pool_bn, point, reduce
    output: concat(nodes) project
  }
  cell reduction extends normal { reduction: true output: concat(n1, n2, n3, n4) }
  supernet { channels: 4 cells: 3 reductions: [1] }
  evaluate { channels: 4 cells: 3 reductions: [1] }
}`;

const input = (index: number) => ({ kind: "input", index }) as const;
const node = (index: number) => ({ kind: "node", index }) as const;

/** Where each cell's edges run: n0 ← both inputs, n1 ← input 0 and n0, n2 and n3 ← three each, n4 ← only a zero. */
const EDGES = [
  [input(0), 0],
  [input(1), 0],
  [input(0), 1],
  [node(0), 1],
  [input(1), 2],
  [node(1), 2],
  [input(0), 2],
  [input(1), 3],
  [node(2), 3],
  [input(0), 3],
  [input(1), 4],
] as const;

function cell(cellType: string, ops: readonly string[]): GenotypeCell {
  return { cellType, edges: EDGES.map(([from, to], i) => ({ from, to, op: ops[i]! })) };
}

/**
 * The genotype: every op at stride 1 in the normal cell; in the reduction cell every op with a
 * stride at stride 2 (the edges that leave an input: 0, 1, 2, 4, 6, 7, 9, 10).
 */
export const EXPORT_GENOTYPE: readonly GenotypeCell[] = [
  cell("normal", [
    "sep_conv_3x3",
    "dil_conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "conv_3x3_d2",
    "pool_bn",
    "none",
    "reduce",
    "point",
    "none",
  ]),
  cell("reduction", [
    "sep_conv_5x5",
    "dil_conv_3x3",
    "skip_connect",
    "point",
    "reduce",
    "pool_bn",
    "conv_3x3_d2",
    "max_pool_3x3",
    "sep_conv_3x3",
    "avg_pool_3x3",
    "none",
  ]),
];

export function exportSpace(): SpaceIR {
  const { ir, diagnostics } = compileSpace(EXPORT_SPACE, "export_ops.space");
  if (!ir) throw new Error(diagnostics.map((d) => d.message).join("\n"));
  return ir;
}

/**
 * The network for 8×8 images of `channels` channels and 5 classes, its batch norms' running
 * statistics and affine parameters set to random values.
 */
export function exportNetwork(channels = 3, seed = 11): EvaluationNetwork {
  let s = seed;
  const net = new EvaluationNetwork(exportSpace(), EXPORT_GENOTYPE, {
    inputChannels: channels,
    classes: 5,
    auxiliary: false,
    nextSeed: () => s++,
  });
  for (const [name, v] of Object.entries(net.namedVariables())) {
    const r = s++;
    if (name.endsWith("running_var") || name.endsWith("gamma")) {
      v.assign(tf.randomUniform(v.shape, 0.5, 1.5, "float32", r));
    } else if (name.endsWith("running_mean") || name.endsWith("beta")) {
      v.assign(tf.randomUniform(v.shape, -0.3, 0.3, "float32", r));
    }
  }
  return net;
}

/**
 * Kernels the native backend lacked at first: TopK, SpaceToBatchND (and BatchToSpaceND, its gradient),
 * MirrorPad and GatherV2 with batch dimensions. No path of the runtime uses them today (the searches and trainings ran without them); they
 * are here so that a user's own code on the native backend gets tfjs' results instead of "Kernel not
 * registered". Each follows tfjs' cpu backend (tests/native_gaps_test.ts compares them).
 *
 * @module
 */
import { tf } from "../../deps.ts";
import type { NativeBackend } from "./backend.ts";
import { type Info, one, register, runTyped } from "./pack.ts";

/** `info` read under another shape of the same size (the shim views the storage so). */
const as = (info: Info, shape: number[]): Info => ({ ...info, shape });

/**
 * GatherV2 with `batchDims` > 0: x seen as [batches, outer, gathered axis, slice], the indices as
 * [batches, indices per batch], one ATen gather.
 *
 * @param b The backend.
 * @param x The tensor gathered from.
 * @param indices int32 indices into `axis`.
 * @param axis The gathered axis (negative counts from the end).
 * @param batchDims Leading dimensions shared by `x` and `indices`.
 * @returns The gathered tensor, of tfjs' output shape.
 */
export function gatherBatch(b: NativeBackend, x: Info, indices: Info, axis: number, batchDims: number): Info {
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x, indices, $axis, batchDims);
  const perBatch = tf.util.sizeFromShape(indices.shape) / info.batchSize;
  const out = one(
    b,
    "GatherBatch",
    x.dtype,
    (p) =>
      p.t(as(x, [info.batchSize, info.outerSize, info.dimSize, info.sliceSize]))
        .t(as(indices, [info.batchSize, perBatch])),
  );
  return as(out, info.outputShape);
}

/** Registers TopK, SpaceToBatchND, BatchToSpaceND and MirrorPad (GatherV2 with batch dimensions goes through kernels.ts). */
export function registerGapKernels(): void {
  register("TopK", ({ x }, b, { k, sorted }) => {
    const last = x!.shape[x!.shape.length - 1] ?? 1;
    if (k < 0 || k > last) throw new Error(`'k' passed to topk() must be >= 0 and <= ${last}, but got ${k}`);
    // Always sorted: with sorted = false tfjs leaves the order unspecified.
    void sorted;
    return runTyped(b, "TopK", [x!.dtype, "int32"], (p) => p.t(x!).n(k));
  });

  // As tfjs' cpu backend: pad the spatial axes, then move each block's offsets into the batch axis.
  register("SpaceToBatchND", ({ x }, b, { blockShape, paddings }) => {
    const shape = x!.shape;
    const blocks = blockShape as number[];
    const all: [number, number][] = [[0, 0], ...(paddings as [number, number][])];
    for (let d = 1 + blocks.length; d < shape.length; d++) all.push([0, 0]);
    const padded = one(b, "PadV2", x!.dtype, (p) => p.t(x!).list(all.flat()).n(0));
    const prod = tf.util.sizeFromShape(blocks);
    const split = tf.backend_util.getReshaped(padded.shape, blocks, prod, false);
    const perm = tf.backend_util.getPermuted(split.length, blocks.length, false);
    const moved = one(b, "Transpose", x!.dtype, (p) => p.t(as(padded, split)).list(perm));
    b.disposeData(padded.dataId);
    return as(moved, tf.backend_util.getReshapedPermuted(padded.shape, blocks, prod, false));
  });

  // Its inverse (and its gradient), as tfjs' cpu backend: the batch axis's blocks back into space, then the crop.
  register("BatchToSpaceND", ({ x }, b, { blockShape, crops }) => {
    const blocks = blockShape as number[];
    const prod = tf.util.sizeFromShape(blocks);
    const split = tf.backend_util.getReshaped(x!.shape, blocks, prod);
    const perm = tf.backend_util.getPermuted(split.length, blocks.length);
    const joined = tf.backend_util.getReshapedPermuted(x!.shape, blocks, prod);
    const begin = tf.backend_util.getSliceBeginCoords(crops as number[][], blocks.length);
    const size = tf.backend_util.getSliceSize(joined, crops as number[][], blocks.length);
    const moved = one(b, "Transpose", x!.dtype, (p) => p.t(as(x!, split)).list(perm));
    const out = one(b, "Slice", x!.dtype, (p) => p.t(as(moved, joined)).list(begin).list(size));
    b.disposeData(moved.dataId);
    return out;
  });

  // One gather per padded axis, of the reflected (or, 'symmetric', mirrored with the edge) indices.
  register("MirrorPad", ({ x }, b, { paddings, mode }) => {
    const pads = paddings as [number, number][];
    const offset = mode === "reflect" ? 0 : 1;
    let current: Info = x!;
    pads.forEach(([before, after], axis) => {
      if (before === 0 && after === 0) return;
      const n = current.shape[axis]!;
      const limit = mode === "reflect" ? n - 1 : n;
      if (before > limit || after > limit) {
        throw new Error(`MirrorPad: padding ${before}, ${after} of axis ${axis} exceeds ${limit} (${mode})`);
      }
      // Output j reads input j − before inside; before it, the mirror image about the first element
      // (reflect: before − j) or about the edge (symmetric: before − j − 1); after it, likewise at the end.
      const source = Int32Array.from({ length: before + n + after }, (_, j) => {
        if (j < before) return before - j - offset;
        if (j >= before + n) return 2 * (n - 1) - (j - before) + offset;
        return j - before;
      });
      const idx = b.makeTensorInfo([source.length], "int32", source);
      const next = one(b, "GatherV2", current.dtype, (p) => p.t(current).t(idx).n(axis));
      b.disposeData(idx.dataId);
      if (current !== x) b.disposeData(current.dataId);
      current = next;
    });
    return current === x ? b.alias(x!, x!.shape) : current;
  });
}

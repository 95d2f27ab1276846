/**
 * asap: neural architecture search spaces as `.space` files, searched with ASAP (Architecture
 * Search, Anneal and Prune) on TensorFlow.js.
 *
 * Compile a space, then search it:
 *
 * @example
 * ```ts
 * import { compileSpace, renderDiagnostics } from "./mod.ts";
 *
 * const text = `space demo {
 *   operation skip = identity
 *   operation pool = max_pool(kernel: 3)
 *   cell normal { nodes: 2  candidates: skip, pool }
 *   cell reduction extends normal { reduction: true }
 *   supernet { channels: 4  cells: 3  reductions: [1] }
 * }`;
 * const { ir, diagnostics } = compileSpace(text, "demo.space");
 * if (!ir) throw new Error(renderDiagnostics(diagnostics, text));
 * console.log(ir.cellTypes.map((c) => c.name)); // ["normal", "reduction"]
 * ```
 *
 * Searching needs a backend and data: see {@linkcode search} and {@linkcode useBackend}.
 *
 * @module
 */
export * from "./dsl/mod.ts";
export * from "./runtime/mod.ts";

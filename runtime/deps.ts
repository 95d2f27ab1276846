// External packages of runtime/, pinned, in one place (a module imported from a URL gets no import map).
// The individual tfjs packages, not the union package `@tensorflow/tfjs`: that one pulls in the data,
// converter and webgl packages and core-js, whose ignored build script makes Deno print a warning in
// every program that imports asap.
export * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// Side-effect imports: a named import used only as a type would be dropped and nothing registered.
// tfjs-core registers no gradients; tfjs-layers registers the same 105 gradient configs as the union
// package does (its models are not used).
// deno-lint-ignore no-import-prefix -- deps.ts is the one place for pinned specifiers (see DESIGN.md)
import "npm:@tensorflow/tfjs-layers@4.22.0";
// deno-lint-ignore no-import-prefix -- as above
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
// deno-lint-ignore no-import-prefix -- as above
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

/**
 * The webgpu backend, loaded only when `webgpu` is chosen: importing it registers a high-priority
 * backend factory and loads its kernels, which wasm and cpu users should not pay for.
 */
// deno-lint-ignore no-import-prefix -- as above
export const loadWebgpuBackend = () => import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");

/**
 * Specifiers of the native TensorFlow bindings. They are kept out of the module graph (imported from a
 * variable) because their install downloads libtensorflow, which is not always possible.
 */
export const TFJS_NODE_SPECIFIERS = {
  tensorflow: "npm:@tensorflow/tfjs-node@4.22.0",
  "tensorflow-gpu": "npm:@tensorflow/tfjs-node-gpu@4.22.0",
} as const;

/**
 * The process's CPU time and resident high-water mark (getrusage), as the PyTorch peer reads them
 * (runtime/cli/bench.ts); /proc needs --allow-all under Deno, these need no permission.
 */
export { cpuUsage, resourceUsage } from "node:process";

/** Per-core CPU times since boot (`--allow-sys=cpus`): how busy the machine is when native loads. */
export { cpus } from "node:os";

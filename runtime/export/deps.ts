// External packages of runtime/export/, pinned, in one place (a module imported from a URL gets no
// import map). onnx-proto encodes ONNX's protobuf (ONNX 1.10 schema, opset ≤ 15); tfjs-converter is
// stock TensorFlow.js's graph-model loader, the one a web page uses; onnxruntime-node (a native
// addon, it needs --allow-ffi) and onnxruntime-web (WebAssembly, --allow-read only) run ONNX models,
// each loaded only when an ONNX model is run (run_model.ts).
// deno-lint-ignore no-import-prefix -- deps.ts is the one place for pinned specifiers (see DESIGN.md)
import onnxProto from "npm:onnx-proto@8.0.1";
export { loadGraphModel } from "npm:@tensorflow/tfjs-converter@4.22.0";
export type { GraphModel } from "npm:@tensorflow/tfjs-converter@4.22.0";

/** ONNX's protobuf messages (`onnx.ModelProto` …). */
export const onnx = onnxProto.onnx;

/** The version strings of the runtimes pinned here, for the export's metadata and the notes. */
export const RUNTIME_VERSIONS = {
  "onnx-proto": "8.0.1",
  "onnxruntime-node": "1.31.1",
  "onnxruntime-web": "1.31.1",
  "@tensorflow/tfjs-converter": "4.22.0",
} as const;

/** onnxruntime-node, loaded on first use (a native addon; exporting does not need it). */
// deno-lint-ignore no-import-prefix -- as above
export const loadOnnxRuntimeNode = () => import("npm:onnxruntime-node@1.31.1");

/** onnxruntime-web (its WebAssembly build), loaded on first use. */
// deno-lint-ignore no-import-prefix -- as above
export const loadOnnxRuntimeWeb = () => import("npm:onnxruntime-web@1.31.1");

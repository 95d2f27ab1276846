// External packages of runtime/, pinned, in one place (a module imported from a URL gets no import map).
// The union package registers the gradients; tfjs-core alone has none.
export * as tf from "npm:@tensorflow/tfjs@4.22.0";
// Side-effect imports: a named import used only as a type would be dropped and the backend never
// registered.
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

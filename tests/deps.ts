// Test-only packages, in one place: switching to @std/assert is this one line.
import assert from "node:assert/strict";
export { assert };

/**
 * Stock TensorFlow.js for browsers, the version the runtime pins: the browser test serves this file of
 * the union package (its path in Deno's npm cache) to headless Chromium.
 */
export const TFJS_BROWSER = {
  specifier: "npm:@tensorflow/tfjs@4.22.0",
  path: "@tensorflow/tfjs/4.22.0/dist/tf.min.js",
} as const;

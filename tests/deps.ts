// Test-only packages, in one place: switching to @std/assert is this one line.
import assert from "node:assert/strict";
export { assert };

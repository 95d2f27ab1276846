// The native backend in tests: whether it runs here, and the backends every numeric test covers.
import { NativeUnavailableError } from "../runtime/kernels/native/build.ts";
import { loadNative } from "../runtime/kernels/native/load.ts";

/** Why the native backend cannot run here (libtorch or g++ missing), or undefined when it can. */
export const nativeMissing: string | undefined = await loadNative({ log: (line) => console.error(line) })
  .then(
    () => undefined,
    (error: unknown) => {
      if (!(error instanceof NativeUnavailableError)) throw error;
      // CI sets this where it installed libtorch and g++: there a shim that does not build is a failure.
      if (Deno.env.get("ASAP_NATIVE_REQUIRED") === "1") {
        throw new Error(`ASAP_NATIVE_REQUIRED=1 but the native backend cannot run: ${error.message}`);
      }
      return error.message;
    },
  );

/** The backends a numeric test runs on: the cpu reference, wasm, and native. */
export const NUMERIC_BACKENDS = ["cpu", "wasm", "native"] as const;

/**
 * Deno.test options for a test on `backend`: a native test where the library is missing is listed as
 * ignored, with the reason in its name (never a silent pass).
 */
export function onBackend(name: string, backend: string): { name: string; ignore: boolean } {
  const missing = backend === "native" ? nativeMissing : undefined;
  return {
    name: missing === undefined ? name : `${name} — not run: the native backend is missing here (${missing})`,
    ignore: missing !== undefined,
  };
}

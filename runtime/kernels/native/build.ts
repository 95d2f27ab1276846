/**
 * Builds the native backend's shim (`shim.cpp`) against an installed libtorch, once, and caches it.
 *
 * - Where: `.asap-cache/native/<key>/libasap_native.so` under the current directory (the project root
 *   for `deno task`), so the tasks need no environment access: `--allow-run=g++`,
 *   `--allow-write=.asap-cache` and `--allow-ffi=.asap-cache` are the whole grant.
 * - Key: a hash of the shim's source, the compiler command and libtorch's version, so an edited
 *   shim or a new libtorch builds anew.
 * - Atomic: g++ writes a temporary file beside the target, renamed into place when complete; two
 *   processes building at once both succeed and either result is used.
 * - Offline: only the local compiler and headers.
 *
 * @module
 */

/** Where a libtorch is: its headers and libraries (Debian's `libtorch-dev` by default). */
export interface Libtorch {
  /** Directories with `ATen/ATen.h`. */
  readonly includeDirs: readonly string[];
  /** The directory with `libtorch_cpu.so`. */
  readonly libDir: string;
  /** Its version (from `torch/csrc/api/include/torch/version.h`), or "unknown". */
  readonly version: string;
  /** Link the CUDA libraries too (a pip/conda PyTorch built with CUDA); Debian's is CPU only. */
  readonly cuda: boolean;
}

/** Why the shim cannot be built or loaded here, with the one line that gets the fast path. */
export class NativeUnavailableError extends Error {
  override readonly name = "NativeUnavailableError";
}

/** How to get the native backend on Debian/Ubuntu (shown when it is missing). */
export const INSTALL_HINT = "apt-get install libtorch-dev g++";

const SHIM_URL = new URL("./shim.cpp", import.meta.url);
const LIB_NAME = "libasap_native.so";
/** The default cache folder, relative to the current directory. */
export const CACHE_DIR = ".asap-cache/native";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds Debian's libtorch (`libtorch-dev`): headers under /usr/include, libraries under the
 * multiarch folder.
 *
 * @returns The install, or undefined when it is not there.
 */
export function findLibtorch(): Libtorch | undefined {
  const include = "/usr/include";
  if (!exists(`${include}/ATen/ATen.h`)) return undefined;
  const libDir = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]
    .find((d) => exists(`${d}/libtorch_cpu.so`));
  if (!libDir) return undefined;
  let version = "unknown";
  try {
    const text = Deno.readTextFileSync(`${include}/torch/csrc/api/include/torch/version.h`);
    const part = (name: string) => new RegExp(`TORCH_VERSION_${name}\\s+(\\d+)`).exec(text)?.[1] ?? "?";
    version = `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`;
  } catch { /* headers without version.h: the key still has the source */ }
  return { includeDirs: [include, `${include}/torch/csrc/api/include`], libDir, version, cuda: false };
}

/**
 * A line for the user when libtorch's BLAS (Debian's `libblas.so.3` alternative) is the unoptimised
 * reference one, which makes matMul about 9× slower; undefined when it is an optimised one.
 */
export function slowBlasWarning(torch: Libtorch): string | undefined {
  let blas: string;
  try {
    blas = Deno.realPathSync(`${torch.libDir}/libblas.so.3`);
  } catch {
    return undefined; // not Debian's alternatives layout: nothing to say
  }
  if (/openblas|blis|mkl/i.test(blas)) return undefined;
  return `the native backend's matMul runs on the reference BLAS (${blas}); for a fast one: apt-get install libopenblas0-openmp`;
}

/** The g++ arguments that build the shim from `source` into `output`. */
export function compileArgs(torch: Libtorch, source: string, output: string): string[] {
  return [
    "-O2",
    "-ffp-contract=off", // float32 steps rounded one by one, as tfjs's composed ops (AsapSgdUpdate)
    "-shared",
    "-fPIC",
    "-std=c++17",
    ...torch.includeDirs.map((d) => `-I${d}`),
    source,
    "-o",
    output,
    `-L${torch.libDir}`,
    `-Wl,-rpath,${torch.libDir}`,
    // With CUDA, keep the CUDA libraries linked although no symbol is used: loading them registers
    // ATen's CUDA kernels.
    ...(torch.cuda ? ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda"] : []),
    "-ltorch",
    "-ltorch_cpu",
    "-lc10",
  ];
}

async function hash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The path of the built shim, building it first when the cache has none.
 *
 * @param options `torch` (default: Debian's), `cacheDir` (default {@linkcode CACHE_DIR}), `log` for a
 * line when a build starts (it takes tens of seconds).
 * @returns The shared library's path.
 * @throws {NativeUnavailableError} When libtorch or g++ is missing, a permission is not granted, or
 * the build fails (with the compiler's first error lines).
 * @example
 * ```ts ignore
 * import { buildShim } from "./build.ts";
 * const path = await buildShim({ log: console.error });
 * ```
 */
export async function buildShim(
  options: { torch?: Libtorch; cacheDir?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const torch = options.torch ?? findLibtorch();
  if (!torch) throw new NativeUnavailableError(`libtorch is not installed (${INSTALL_HINT})`);
  const source = await Deno.readTextFile(SHIM_URL);
  const dir = options.cacheDir ?? CACHE_DIR;
  const key = await hash([source, torch.version, compileArgs(torch, "shim.cpp", "out").join(" ")].join("\n"));
  const target = `${dir}/${key}/${LIB_NAME}`;
  // Absolute: Deno matches --allow-ffi=.asap-cache against the resolved path.
  if (exists(target)) return Deno.realPathSync(target);
  try {
    await Deno.mkdir(`${dir}/${key}`, { recursive: true });
    const sourcePath = `${dir}/${key}/shim.cpp`;
    const temporary = `${target}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeTextFile(sourcePath, source);
    options.log?.(`building the native backend's shim against libtorch ${torch.version} (once) …`);
    const result = await new Deno.Command("g++", {
      args: compileArgs(torch, sourcePath, temporary),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      await Deno.remove(temporary).catch(() => {});
      const errors = new TextDecoder().decode(result.stderr).split("\n").filter((l) => l.includes("error"));
      throw new NativeUnavailableError(`the shim did not compile: ${errors.slice(0, 3).join(" | ")}`);
    }
    await Deno.rename(temporary, target);
    return Deno.realPathSync(target);
  } catch (error) {
    if (error instanceof NativeUnavailableError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new NativeUnavailableError(`g++ is not installed (${INSTALL_HINT})`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new NativeUnavailableError(
        `building the shim needs --allow-run=g++ --allow-write=${CACHE_DIR.split("/")[0]} (${error.message})`,
      );
    }
    throw error;
  }
}

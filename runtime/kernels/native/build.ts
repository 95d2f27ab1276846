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
  /**
   * The C++ ABI it was built with (`_GLIBCXX_USE_CXX11_ABI`), when it says: pip's wheels used the old one
   * until PyTorch 2.7; undefined keeps the compiler's default (Debian's, the CXX11 one).
   */
  readonly cxx11Abi?: boolean;
  /** Where it was found, for messages: "Debian's libtorch-dev", a folder, or a Python's torch. */
  readonly source?: string;
}

/**
 * The environment variable that names the libtorch to build against: a folder holding `include/` and
 * `lib/` (a pip or conda PyTorch's `torch/` folder, or an unpacked libtorch), or `python` (or
 * `python:/path/to/python3`) to ask that Python's torch where it is.
 */
export const LIBTORCH_ENV = "ASAP_LIBTORCH";

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
  return {
    includeDirs: [include, `${include}/torch/csrc/api/include`],
    libDir,
    version,
    cuda: false,
    source: "Debian's libtorch-dev",
  };
}

/**
 * A libtorch in a folder with `include/ATen/ATen.h` and `lib/libtorch_cpu.so`: a pip or conda PyTorch's
 * `torch/` folder, or an unpacked libtorch. CUDA when `lib/libtorch_cuda.so` is there; the ABI from
 * `share/cmake/Torch/TorchConfig.cmake`; the version from `version.py` or the headers.
 *
 * @param dir The folder.
 * @param source How it was named, for messages (default: the folder).
 * @returns The install.
 * @throws {NativeUnavailableError} When the folder lacks the headers or the libraries.
 * @example
 * ```ts
 * import { libtorchAt, NativeUnavailableError } from "./build.ts";
 * try {
 *   libtorchAt("/nonexistent");
 *   throw new Error("a folder without headers was accepted");
 * } catch (error) {
 *   if (!(error instanceof NativeUnavailableError)) throw error;
 * }
 * ```
 */
export function libtorchAt(dir: string, source = dir): Libtorch {
  const root = dir.replace(/\/+$/, "");
  if (!exists(`${root}/include/ATen/ATen.h`)) {
    throw new NativeUnavailableError(
      `${source} has no include/ATen/ATen.h: name a PyTorch install's torch folder ` +
        `(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))") or an unpacked libtorch`,
    );
  }
  if (!exists(`${root}/lib/libtorch_cpu.so`)) {
    throw new NativeUnavailableError(`${source} has headers but no lib/libtorch_cpu.so`);
  }
  const read = (path: string) => {
    try {
      return Deno.readTextFileSync(`${root}/${path}`);
    } catch {
      return "";
    }
  };
  const header = read("include/torch/csrc/api/include/torch/version.h");
  const part = (name: string) => new RegExp(`TORCH_VERSION_${name}\\s+(\\d+)`).exec(header)?.[1];
  const version = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(read("version.py"))?.[1] ??
    (part("MAJOR") ? `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}` : "unknown");
  const abi = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(read("share/cmake/Torch/TorchConfig.cmake"))?.[1];
  return {
    includeDirs: [`${root}/include`, `${root}/include/torch/csrc/api/include`],
    libDir: `${root}/lib`,
    version,
    cuda: exists(`${root}/lib/libtorch_cuda.so`),
    ...(abi !== undefined ? { cxx11Abi: abi === "1" } : {}),
    source,
  };
}

/**
 * Asks a Python's torch where it is installed (its `torch/` folder), with its ABI flag.
 *
 * @param python The interpreter (default `python3`).
 * @returns The install, or undefined when that Python cannot be run or has no torch.
 */
export async function pythonLibtorch(python = "python3"): Promise<Libtorch | undefined> {
  const code = "import os, torch; print(os.path.dirname(torch.__file__)); " +
    "print(int(torch._C._GLIBCXX_USE_CXX11_ABI))";
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(python, { args: ["-c", code], stdout: "piped", stderr: "null" }).output();
  } catch {
    return undefined; // not installed, or not allowed to run
  }
  if (!output.success) return undefined;
  const [dir, abi] = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (!dir) return undefined;
  try {
    const found = libtorchAt(dir.trim(), `${python}'s torch (${dir.trim()})`);
    return { ...found, cxx11Abi: abi?.trim() === "1" };
  } catch {
    return undefined; // a torch without headers (some slim installs)
  }
}

/** Whether this process may read `name` from the environment (asked without a prompt). */
function envGranted(name: string): boolean {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
}

/**
 * The libtorch to build against: the one {@linkcode LIBTORCH_ENV} names; else Debian's `libtorch-dev`;
 * else the torch of `python3` (a pip or conda PyTorch, possibly with CUDA) where running it is allowed.
 *
 * @returns The install, or undefined when there is none.
 * @throws {NativeUnavailableError} When the variable names a folder without a libtorch, or a Python
 * without torch.
 */
export async function resolveLibtorch(): Promise<Libtorch | undefined> {
  const named = envGranted(LIBTORCH_ENV) ? Deno.env.get(LIBTORCH_ENV)?.trim() : undefined;
  if (named) {
    const python = /^python(?::(.+))?$/.exec(named);
    if (python) {
      const interpreter = python[1] ?? "python3";
      const found = await pythonLibtorch(interpreter);
      if (!found) {
        throw new NativeUnavailableError(
          `${LIBTORCH_ENV}=${named}: ${interpreter} could not be run (--allow-run=${interpreter}) or has no torch`,
        );
      }
      return found;
    }
    return libtorchAt(named, `${LIBTORCH_ENV}=${named}`);
  }
  const debian = findLibtorch();
  if (debian) return debian;
  if (Deno.permissions.querySync({ name: "run", command: "python3" }).state !== "granted") return undefined;
  return await pythonLibtorch("python3");
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
    // at::parallel_for is an OpenMP region inlined from ATen's headers: without this flag the shim's own
    // loops (batch norm, depthwise filter gradient) ran on one thread whatever the thread count.
    "-fopenmp",
    "-shared",
    "-fPIC",
    "-std=c++17",
    ...(torch.cxx11Abi !== undefined ? [`-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi ? 1 : 0}`] : []),
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
  const torch = options.torch ?? await resolveLibtorch();
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
    options.log?.(
      `building the native backend's shim against libtorch ${torch.version}${
        torch.cuda ? " with CUDA" : ""
      }` +
        `${torch.source && torch.source !== "Debian's libtorch-dev" ? ` (${torch.source})` : ""} (once) …`,
    );
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

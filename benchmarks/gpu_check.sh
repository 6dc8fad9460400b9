#!/usr/bin/env bash
# Issue 20's GPU check, for a machine with an NVIDIA GPU (CI and dev machines have none,
# and nothing else depends on one). It:
#   1. shows the GPUs (nvidia-smi) and what Orca's inventory finds;
#   2. builds llama-cpp-python with CUDA into a temporary venv (the project's venv keeps
#      its CPU build) and checks that the build offloads to the GPU;
#   3. runs the GPU tests (tests/pools -m gpu: two models placed on the GPU, the
#      determinism corpus on every replica) and the pool_gpu benchmark with that build.
# Every step must pass; the first that does not stops the script with its name and a
# non-zero status. Without a GPU it fails at step 1: it never reports a CPU run as a GPU one.
#
#   bash benchmarks/gpu_check.sh
#
# Settings (environment):
#   ORCA_PYTHON            the project's Python (default .venv/bin/python, else python3)
#   LLAMA_CPP_CUDA_WHEEL   a llama-cpp-python wheel already built with CUDA: installed
#                          instead of building one
#   LLAMA_CPP_WHEELHOUSE   a folder holding llama-cpp-python's sdist and its build
#                          requirements (scikit-build-core, cmake, ninja, ...), for a
#                          machine without network: pip then reads only that folder
#   GPU_CHECK_LOG          where the full log goes (default $OUT/gpu_check.log when $OUT
#                          is set, else a temporary file)
# The version built is the one the project's venv has, so the engine is the same.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/orca-gpu-check.XXXXXX")
LOG=${GPU_CHECK_LOG:-${OUT:+$OUT/gpu_check.log}}
LOG=${LOG:-$(mktemp "${TMPDIR:-/tmp}/orca-gpu-check-XXXXXX.log")}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
STEP="starting"

finish() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        printf '\ngpu_check: FAILED at step "%s" (status %s); full log: %s\n' \
            "$STEP" "$status" "$LOG" >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap finish EXIT

step() {
    STEP=$1
    printf '\n== %s\n' "$STEP" | tee -a "$LOG"
}

fail() {
    printf 'gpu_check: %s\n' "$1" | tee -a "$LOG" >&2
    exit 1
}

# run a command, its output to the screen and the log; a failure stops the script
run() {
    printf '$ %s\n' "$*" >>"$LOG"
    "$@" 2>&1 | tee -a "$LOG"
}

if [ -n "${ORCA_PYTHON:-}" ]; then
    PY=$ORCA_PYTHON
elif [ -x .venv/bin/python ]; then
    PY=.venv/bin/python
else
    PY=python3
fi
# the detection below must see the real GPUs, never a simulated inventory
unset ORCA_SIMULATED_GPUS

step "1. the NVIDIA GPU and driver"
command -v nvidia-smi >/dev/null ||
    fail "no nvidia-smi on PATH: this check needs a machine with an NVIDIA GPU and its driver"
nvidia-smi -L >>"$LOG" 2>&1 ||
    fail "nvidia-smi -L failed: the NVIDIA driver is not loaded (see $LOG)"
grep -q '^GPU [0-9]' "$LOG" || fail "nvidia-smi lists no GPU"
run nvidia-smi
run nvidia-smi --query-gpu=index,name,uuid,memory.total,memory.free,driver_version \
    --format=csv,noheader,nounits
run env PYTHONPATH="$ROOT/src" "$PY" -c '
from orca.pools._inventory import detect_inventory
inventory = detect_inventory()
print("orca inventory:", inventory.source, "driver", inventory.driver_version,
      "cuda", inventory.cuda_version)
for device in inventory.devices:
    print(f"  GPU {device.index}: {device.name} {device.uuid} "
          f"{device.free_bytes >> 20} of {device.total_bytes >> 20} MiB free")
for note in inventory.notes:
    print("  note:", note)
if inventory.source not in ("nvml", "nvidia-smi") or not inventory.devices:
    raise SystemExit("orca found no GPU where nvidia-smi lists one")
'

step "2. llama-cpp-python built with CUDA"
VERSION=$("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)') ||
    fail "the project's Python ($PY) has no llama-cpp-python: install the project first"
printf 'llama-cpp-python %s (the version of the project venv)\n' "$VERSION" | tee -a "$LOG"
run "$PY" -m venv "$WORK/venv"
GPU_SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# no cache: a wheel pip built earlier (without CUDA) must not stand in for the build
PIP=("$WORK/venv/bin/python" -m pip install --no-deps --force-reinstall --no-cache-dir
    --progress-bar off)
if [ -n "${LLAMA_CPP_CUDA_WHEEL:-}" ]; then
    run "${PIP[@]}" "$LLAMA_CPP_CUDA_WHEEL"
else
    if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null; then
        if [ -x /usr/local/cuda/bin/nvcc ]; then
            export PATH="/usr/local/cuda/bin:$PATH"
        else
            fail "no nvcc: building with CUDA needs the CUDA toolkit (or set LLAMA_CPP_CUDA_WHEEL)"
        fi
    fi
    run nvcc --version
    FROM=()
    if [ -n "${LLAMA_CPP_WHEELHOUSE:-}" ]; then
        FROM=(--no-index --find-links "$LLAMA_CPP_WHEELHOUSE")
    fi
    # native: only this machine's GPU architecture, which keeps the build to minutes
    run env CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=native" \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "${PIP[@]}" "${FROM[@]}" --no-binary llama-cpp-python "llama-cpp-python==$VERSION"
fi
# the CUDA build first on the path; everything else from the project's venv
export PYTHONPATH="$GPU_SITE:$ROOT/src"
run "$PY" -c '
import llama_cpp
print("llama_cpp from", llama_cpp.__file__)
if not llama_cpp.llama_supports_gpu_offload():
    raise SystemExit("this llama-cpp-python build cannot offload to the GPU")
print("GPU offload: yes")
'

# the GPU tests and benchmark fail, not skip, when they find no GPU
export ORCA_REQUIRE_GPU=1

step "3. the GPU tests (tests/pools -m gpu)"
set +e
run "$PY" -m pytest -q -p no:cacheprovider tests/pools -m gpu
status=$?
set -e
if [ "$status" -eq 5 ]; then
    fail "no test is marked gpu in tests/pools: nothing was checked on the GPU"
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi

step "4. the pool_gpu benchmark"
run "$PY" benchmarks/run.py --only pool_gpu

STEP="done"
printf '\ngpu_check: OK, every step passed (log: %s)\n' "$LOG" | tee -a "$LOG"

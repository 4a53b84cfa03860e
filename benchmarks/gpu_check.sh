#!/usr/bin/env bash
# Issue 18, part 2, in one call on the GPU machine: build llama-cpp-python with CUDA from the kit
# (benchmarks/gpu_kit.sh), make a random-weight Llama GGUF, and show with the real `duet` commands
# where the layers go, then measure Duet's panes against bare llama-cpp-python on the GPU.
#
#   bash benchmarks/gpu_check.sh KIT_DIR [cuda|cpu]
#
# `cpu` builds without CUDA: the same script proven on a machine without a GPU (every check then
# expects 0 layers on a GPU, and plans that llama.cpp could not follow). Results go to $OUT (the
# device tool's folder; ./gpu-check-out elsewhere): log.txt, info_all.json, info_partial.json,
# info_budget.json, ask.json, placement_check.json, speed.json, summary.txt (8 files, what the
# device tool brings back). Environment: PYTHON (python3), CUDA_ARCH (90: H100/H200),
# DUET_SITE (/tmp/duet-site, where the wheels and the build are installed), LAYERS/EMBD (the
# random model's size), REPEATS.
set -uo pipefail
KIT=${1:?usage: bash benchmarks/gpu_check.sh KIT_DIR [cuda|cpu]}
BACKEND=${2:-cuda}
OUT=${OUT:-$PWD/gpu-check-out}
PY=${PYTHON:-python3}
SITE=${DUET_SITE:-/tmp/duet-site}
BUILD=${DUET_BUILD:-/tmp/duet-build}
mkdir -p "$OUT" "$BUILD"
exec > >(tee -a "$OUT/log.txt") 2>&1
step() { echo; echo "== $(date +%T) $*"; }
fail() { echo "gpu_check: $*"; exit 1; }

step "machine: $($PY --version 2>&1), $(nproc) cores, backend $BACKEND"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"

step "Duet's missing dependencies, from the kit's wheels"
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$KIT"/wheels/*.whl \
    || fail "the wheels did not install"
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1

if [ ! -f "$SITE/llama_cpp/__init__.py" ]; then
    step "build llama-cpp-python ($BACKEND)"
    tar xzf "$KIT"/src/llama_cpp_python-*-trimmed.tar.gz -C "$BUILD" || fail "no trimmed source in the kit"
    if [ "$BACKEND" = cuda ]; then
        # Duet never asks for flash attention (its heaviest kernels to compile) nor NCCL (one GPU)
        export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90} -DGGML_CUDA_FA=OFF -DGGML_CUDA_NCCL=OFF"
    fi
    export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
    started=$(date +%s)
    $PY -m pip wheel -q --no-deps --no-build-isolation -w "$BUILD/wheel" "$BUILD"/llama_cpp_python-*/ \
        || fail "llama-cpp-python did not build"
    echo "built in $(( $(date +%s) - started )) s"
    $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$BUILD"/wheel/llama_cpp_python-*.whl \
        || fail "the built wheel did not install"
fi
$PY -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'GPU offload:', llama_cpp.llama_supports_gpu_offload())" \
    || fail "llama_cpp does not import"

step "a random-weight Llama GGUF"
MODEL="$BUILD/random-llama.gguf"
$PY -m benchmarks.random_gguf "$MODEL" --layers "${LAYERS:-16}" --embd "${EMBD:-1024}" --heads 16 --kv-heads 4 \
    --ff $(( ${EMBD:-1024} * 11 / 4 )) --vocab 32000 || fail "no model"
BOTH=(--base "$MODEL" --chat "$MODEL")
RAW=(--base-mode raw --chat-mode raw)  # duet ask: the random model has a chat template, raw is plain
duet() { $PY -m tui.cli "$@"; }
# a budget for both panes' compute buffers and the layers of one model: each pane gets about half
BUDGET_MB=$($PY -c "
import sys; from pathlib import Path
from models.files.gguf import read_header; from models.placement.costs import gpu_bytes; from models.placement.shape import shape_from_header
s = shape_from_header(read_header(Path(sys.argv[1])), 'm')
print(int((gpu_bytes(s, 2048, s.total_layers) + gpu_bytes(s, 2048, 1)) / 2**20))
" "$MODEL") || fail "no budget"

step "duet info: every layer on the GPU when nothing limits it"
duet info --json "${BOTH[@]}" > "$OUT/info_all.json"; echo "exit $?"
step "duet info --gpu-layers 5: partial offload, as llama.cpp reports it"
duet info --json "${BOTH[@]}" --gpu-layers 5 > "$OUT/info_partial.json"; echo "exit $?"
step "duet info --gpu-memory ${BUDGET_MB}MB: a budget smaller than both models"
duet info --json "${BOTH[@]}" --gpu-memory "${BUDGET_MB}MB" > "$OUT/info_budget.json"; echo "exit $?"
duet info "${BOTH[@]}" --gpu-memory "${BUDGET_MB}MB" | grep -E "^\[|placement|GPU plan"
step "duet ask --json: both panes answering at once, under that budget"
duet ask --json --no-save "${BOTH[@]}" "${RAW[@]}" --gpu-memory "${BUDGET_MB}MB" --max-tokens 64 "The history of the river begins" \
    > "$OUT/ask.json"; echo "exit $?"

step "the planner's formulas beside the buffers llama.cpp reserved on the device"
$PY -m benchmarks.placement_check "$MODEL" --ctx 2048 4096 --gpu-layers -1 9 0 --json "$OUT/placement_check.json"
step "tokens/s: each pane against bare llama-cpp-python, and both panes at once"
$PY -m benchmarks.gpu_speed "$MODEL" --repeats "${REPEATS:-5}" --max-tokens 128 --json "$OUT/speed.json"

step "summary"
$PY -m benchmarks.gpu_summary "$OUT" "$BACKEND" "$BUDGET_MB" | tee "$OUT/summary.txt"

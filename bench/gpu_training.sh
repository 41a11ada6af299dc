#!/usr/bin/env bash
# The GPU part of the bench, as one short script for a machine with an NVIDIA GPU (H200: Hopper, sm_90): the
# project's training step (bench/training_scale.py, driftloop's train_model) at 1M and 10M synthetic label rows
# with 26 features, on the CPU and on the GPU, each in a fresh process; writes one JSON line per run and the
# ratio CPU / GPU per size to $OUT/gpu_training.json (default bench/results/gpu/), and prints them.
#
# XGBoost comes from, in this order: the Python environment it runs in (PYTHON, default .venv/bin/python, else
# python3) when its build trains on CUDA; a carried wheel bench/wheels/xgboost-*.whl; or the sdist
# bench/wheels/xgboost-*.tar.gz built for sm_90 (needs nvcc, cmake and a C++ compiler). Either of the last two is
# installed into .gpu-site/ (ignored by git), nowhere else. The other imports (numpy, pandas, pyarrow, scipy) must be
# in that environment; the script says which one is missing. Sizes: GPU_ROWS (default 1000000,10000000); rounds:
# BENCH_TRAIN_ROUNDS (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-bench/results/gpu}"
mkdir -p "$OUT_DIR"
RESULT="$OUT_DIR/gpu_training.json"
PY="${PYTHON:-}"
[ -n "$PY" ] || { [ -x .venv/bin/python ] && PY=.venv/bin/python; } || PY=python3
export PYTHONPATH="$PWD/.gpu-site:$PWD/include:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export BENCH_DATA="${BENCH_DATA:-$PWD/data/bench}"

nvidia-smi --query-gpu=name,compute_cap,memory.total --format=csv,noheader || echo "nvidia-smi: no GPU listed"
for module in numpy pandas pyarrow scipy; do
    "$PY" -c "import $module" 2>/dev/null || { echo "missing Python module $module in $PY" >&2; exit 3; }
done

probe() {
    "$PY" - <<'EOF'
import json, sys, warnings
import numpy as np
import xgboost as xgb
warnings.simplefilter("ignore")
m = xgb.DMatrix(np.arange(8, dtype=np.float32).reshape(4, 2), label=[0, 1, 0, 1])
try:
    b = xgb.train({"device": "cuda", "tree_method": "hist", "verbosity": 0}, m, 1)
except xgb.core.XGBoostError:
    sys.exit(1)
device = json.loads(b.save_config())["learner"]["generic_param"]["device"]
print(f"xgboost {xgb.__version__} from {xgb.__file__}, CUDA build {xgb.build_info().get('USE_CUDA')}, trains on {device}")
sys.exit(0 if device.startswith("cuda") else 1)
EOF
}

if ! probe; then
    wheel=$(ls bench/wheels/xgboost-*.whl 2>/dev/null | head -1 || true)
    sdist=$(ls bench/wheels/xgboost-*.tar.gz 2>/dev/null | head -1 || true)
    if [ -n "$wheel" ]; then
        "$PY" -m pip install -q --no-deps --target .gpu-site "$wheel"
    elif [ -n "$sdist" ] && command -v nvcc >/dev/null; then
        CMAKE_ARGS="-DUSE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90" \
            "$PY" -m pip install -q --no-deps --no-build-isolation --target .gpu-site "$sdist"
    else
        echo "no XGBoost that trains on CUDA: carry bench/wheels/xgboost-*.whl, or the sdist with nvcc present" >&2
        exit 4
    fi
    probe || { echo "the installed XGBoost still does not train on the GPU" >&2; exit 5; }
fi

: > "$RESULT"
IFS=, read -ra SIZES <<< "${GPU_ROWS:-1000000,10000000}"
for rows in "${SIZES[@]}"; do
    "$PY" -m bench.training_scale --rows "$rows" --side generate > /dev/null
    for device in cpu cuda; do
        "$PY" -m bench.training_scale --rows "$rows" --side ours --device "$device" | tee -a "$RESULT"
    done
done
"$PY" - "$RESULT" <<'EOF'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for rows in sorted({r["rows"] for r in runs}):
    by = {r["device"].split(":")[0]: r for r in runs if r["rows"] == rows}
    print(f"{rows:,} rows: CPU {by['cpu']['seconds']} s, GPU {by['cuda']['seconds']} s, "
          f"CPU/GPU {by['cpu']['seconds'] / by['cuda']['seconds']:.1f}x, peak RSS {by['cuda']['peak_rss_mb']} MB")
EOF

#!/usr/bin/env bash
# What only a GPU shows, in one pass of a few minutes on one CUDA device (CI has none; these tests skip there):
#   - the CUDA-only tests (the SAC update's missing host syncs, DataParallel; those needing 2 devices skip on one);
#   - the SAC learner on the GPU: ding against a bare torch update, and the per-step NaN/inf guard against the
#     deferred one (policy.learn.nonfinite_check).
# Needs a Python (${PYTHON:-python3}) with a CUDA build of torch, pytest and tensorboard, and ding's pure-Python needs
# (easydict, gymnasium, Farama-Notifications). A GPU machine without network that lacks the latter takes them as
# wheels fetched elsewhere, all three pure Python:
#   python3 -m pip download --no-deps --only-binary=:all: -d gpu_wheels easydict gymnasium farama-notifications
# then, there: DING_WHEELS=gpu_wheels bash benchmarks/gpu_checks.sh (installed into a temporary folder only).
# Writes its output to ${GPU_CHECKS_OUT:-.}/gpu_checks.log too. Exits non-zero when a test fails, and with 2 before
# any test when a module is missing or no CUDA device is visible (naming which).
#
# Run: bash benchmarks/gpu_checks.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
log="${GPU_CHECKS_OUT:-.}/gpu_checks.log"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
if [ -n "${DING_WHEELS:-}" ]; then
    site="$(mktemp -d)"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$DING_WHEELS"/*.whl || exit 2
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" - <<'PY' || exit 2
import importlib.util, sys
missing = [m for m in ("torch", "pytest", "tensorboard", "easydict", "gymnasium") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_checks: {sys.executable} lacks {', '.join(missing)}; see the head of benchmarks/gpu_checks.sh")
import torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_checks: torch {torch.__version__} sees no CUDA device (torch.version.cuda={torch.version.cuda})")
PY
{
    nvidia-smi -L || true
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
    "$PY" -m pytest -q -rs -p no:cacheprovider \
        tests/policy/test_nonfinite_guard.py tests/policy/test_qac_policies.py tests/torch_utils/test_data_parallel.py \
        tests/utils/test_dist_collectives.py -k "cuda or gpu or nccl or data_parallel"
    status=$?
    "$PY" benchmarks/bench_sac_learner.py --device cuda --iters 200 --rounds 5
    "$PY" benchmarks/bench_sac_learner.py --device cuda --ab-guard --iters 200 --rounds 5
    "$PY" benchmarks/bench_sac_learner.py --device cuda --ab-guard --iters 200 --rounds 5 --sizes pendulum
    exit $status
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"

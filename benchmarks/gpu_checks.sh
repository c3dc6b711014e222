#!/usr/bin/env bash
# What only a GPU shows, in one pass of a few minutes on one CUDA device (CI has none; these tests skip there):
#   - the CUDA-only tests (the SAC update's missing host syncs, DataParallel; those needing 2 devices skip on one);
#   - the SAC learner on the GPU: ding against a bare torch update, and the per-step NaN/inf guard against the
#     deferred one (policy.learn.nonfinite_check).
# Needs a torch build with CUDA. Writes its output to ${GPU_CHECKS_OUT:-.}/gpu_checks.log too.
# Exits non-zero when a test fails.
#
# Run: bash benchmarks/gpu_checks.sh
set -uo pipefail
cd "$(dirname "$0")/.."
log="${GPU_CHECKS_OUT:-.}/gpu_checks.log"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
{
    nvidia-smi -L || true
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
    python -m pytest -q -rs -p no:cacheprovider \
        tests/policy/test_nonfinite_guard.py tests/policy/test_qac_policies.py tests/torch_utils/test_data_parallel.py \
        tests/utils/test_dist_collectives.py -k "cuda or gpu or nccl or data_parallel"
    status=$?
    python benchmarks/bench_sac_learner.py --device cuda --iters 200 --rounds 5
    python benchmarks/bench_sac_learner.py --device cuda --ab-guard --iters 200 --rounds 5
    python benchmarks/bench_sac_learner.py --device cuda --ab-guard --iters 200 --rounds 5 --sizes pendulum
    exit $status
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"

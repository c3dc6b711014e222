"""Import cost: `from ding.entry import serial_pipeline` against `import torch`, each in fresh processes.

Run: python benchmarks/bench_import.py [--repeat 5]
Target: ding's entry costs at most 0.5 s more than torch alone (DI-engine 0.5.3: 4.2 s vs 1.5 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def measure(stmt: str) -> float:
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", TIMER.format(stmt=stmt)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch_times, ding_times = [], []
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        torch_times.append(measure("import torch"))
        ding_times.append(measure("from ding.entry import serial_pipeline"))
    torch_t, ding_t = statistics.median(torch_times), statistics.median(ding_times)
    print(f"import torch                            : {torch_t:.3f} s median of {args.repeat}")
    print(f"from ding.entry import serial_pipeline  : {ding_t:.3f} s median of {args.repeat}")
    print(f"ding's extra cost                       : {ding_t - torch_t:+.3f} s (target <= +0.5 s)")


if __name__ == "__main__":
    main()

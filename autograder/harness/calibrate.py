"""How fast this machine computes, against the machine the budgets were set on: the budgets' exchange rate.

A training budget is CPU time, so that a busy machine does not change the
verdict; but a CPU-second on a student's laptop, on the course's server and
on Gradescope's 0.5 vCPU buys different amounts of work. So a grading first
times a short fixed workload (a small network's forward and backward passes
in NumPy, on one thread, in a process of its own, best of three) and divides
by what it took on the reference machine: that is `GRADER_SPEED`, by which
config.cpu_budget multiplies every budget. The same submission then gets the
same verdict on every machine, idle or busy, up to the workload's own
noise: config.BAND says how close to its budget a training must come before
the grader says that the verdict may differ elsewhere.

This module only measures. grade.run_suite sets GRADER_SPEED from it for the
grading (unless it is set already), and run_autograder caps it on Gradescope
so that the budgets still fit the timeout (config.TRAIN_DEADLINE_ON_GRADESCOPE).
"""

from __future__ import annotations

import os
import subprocess
import sys

# CPU-seconds the workload took on the reference machine (this repository's 2-core test machine, best of 3,
# idle: 0.310, 0.312, 0.309 in three runs).
REFERENCE_SECONDS = 0.31
LOWEST, HIGHEST = 0.25, 8.0  # a factor outside these says more about the measurement than the machine

WORKLOAD = """
import time
import numpy as np
rng = np.random.default_rng(0)
X = rng.random((256, 784), dtype=np.float32)
W1 = rng.standard_normal((784, 128)).astype(np.float32) * 0.05
W2 = rng.standard_normal((128, 10)).astype(np.float32) * 0.05
best = None
for _ in range(3):
    start = time.process_time()
    for _ in range(180):
        h = np.maximum(X @ W1, 0)
        z = h @ W2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dh = (p @ W2.T) * (h > 0)
        W1 -= 1e-4 * (X.T @ dh)
        W2 -= 1e-4 * (h.T @ p)
    took = time.process_time() - start
    best = took if best is None else min(best, took)
print(best)
"""


def workload_seconds() -> float:
    """CPU-seconds the workload takes here, on one thread (the best of three rounds)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMP_WAIT_POLICY="PASSIVE")
    done = subprocess.run([sys.executable, "-c", WORKLOAD], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def speed() -> float:
    """This machine's CPU-seconds per CPU-second of the reference machine, within [LOWEST, HIGHEST]; 1.0
    when the workload cannot run (the budgets are then the reference machine's)."""
    try:
        factor = workload_seconds() / REFERENCE_SECONDS
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return 1.0
    return round(min(max(factor, LOWEST), HIGHEST), 3)


if __name__ == "__main__":
    print(f"workload {workload_seconds():.3f} s; speed factor {speed():.3f}")

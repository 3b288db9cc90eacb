"""What the first fit of a process costs more than later ones: memory and time.

Each measurement runs in a new Python process (``python -c``), which imports
skgmm, fits once, then fits again on the same data.  For each fit it reports
the peak resident memory over what was resident before it (``VmHWM`` less
``VmRSS`` of ``/proc/self/status``, the peak reset by writing 5 to
``/proc/self/clear_refs``; Linux only) and its wall time.  The
kernels are switched with ``SKGMM_COMPILED``: the C kernels (``1``) or the
numpy code (``0``).  A fit here is the default start (skgmm's k-means) and
EM with ``covariance_type='full'``: the paths that run compiled loops.

    python benchmarks/bench_first_fit.py [--n-samples 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine_description  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})

def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {{key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}}

def reset_peak():
    with open("/proc/self/clear_refs", "w") as file:  # "5": VmHWM = VmRSS
        file.write("5")

import numpy as np
from skgmm import GaussianMixtureEM
from skgmm.covariance.kernels import kernels_description

X = np.random.RandomState(0).normal(size=({n_samples}, 16))
X[: len(X) // 2] += 3
record = {{"kernels": kernels_description(), "imported": status()}}
for name in ("first", "second"):
    reset_peak()
    record[name + "_start"] = status()
    start = time.perf_counter()
    GaussianMixtureEM(n_components=8, covariance_type="full", max_iter=5, tol=0, random_state=0).fit(X)
    record[name + "_s"] = time.perf_counter() - start
    record[name] = status()
print(json.dumps(record))
"""


def measure(compiled, n_samples):
    env = {**os.environ, "SKGMM_COMPILED": "1" if compiled else "0"}
    code = CHILD.format(root=os.path.abspath(ROOT), n_samples=n_samples)
    output = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine_description())
    print(
        f"{args.n_samples} x 16 float64, K=8, 'full', k-means start + 5 EM iterations; medians of {args.repeats}"
    )
    print(f"{'kernels':34s} {'RSS after import':>16s} {'1st fit adds':>12s} {'2nd adds':>9s} "
          f"{'extra of 1st':>12s} {'1st fit':>8s} {'2nd fit':>8s}")  # fmt: skip
    for compiled in (True, False):
        runs = [measure(compiled, args.n_samples) for _ in range(args.repeats)]

        def median(key, runs=runs):
            return statistics.median(key(run) for run in runs)

        def added(r, name):
            return r[name]["VmHWM"] - r[name + "_start"]["VmRSS"]

        first = median(lambda r: added(r, "first"))
        second = median(lambda r: added(r, "second"))
        extra = median(lambda r: added(r, "first") - added(r, "second"))
        print(
            f"{runs[0]['kernels']:34s} {median(lambda r: r['imported']['VmRSS']):13.1f} MiB"
            f" {first:8.1f} MiB {second:5.1f} MiB {extra:8.1f} MiB"
            f" {median(lambda r: r['first_s']):7.3f}s {median(lambda r: r['second_s']):7.3f}s"
        )
    print("1st fit adds: peak resident memory during the first fit (VmHWM, reset before it) less the "
          "resident memory before it; 2nd adds: the same for the second fit; extra of 1st: the difference.")  # fmt: skip


if __name__ == "__main__":
    main()

"""skgmm's k-means start vs scikit-learn's ``KMeans(n_init=1)``: time, peak memory, equal labels.

``skgmm._kmeans.kmeans`` (the default ``init_params='kmeans'``) and
``sklearn.cluster.KMeans(n_clusters=K, n_init=1, random_state=0).fit(X)`` run
alternately in one process on the same data, after one untimed warm-up call
of each, with ``--pause`` seconds of sleep before each timed call: OpenBLAS
and OpenMP threads keep spinning for a while after a call, and on a busy
2-core machine they slow down whatever runs next (measured: skgmm right
after sklearn took twice its time alone).

Printed per configuration: the median wall time over ``--repeats``
alternations and its range, the ratio sklearn / skgmm, the median process
CPU time (all threads, spinning ones included), the peak of memory
allocated during a call (tracemalloc, which numpy reports to) as a fraction
of ``X.nbytes``, whether the labels are equal, and the Lloyd iterations.
skgmm runs its compiled loops (C, built at install) when they were built and,
with ``--numpy``, also its numpy code.

Examples
--------
python benchmarks/bench_kmeans.py                      # the four configurations, float64
python benchmarks/bench_kmeans.py --dtype float32 --numpy
python benchmarks/bench_kmeans.py --configs 0 --repeats 9
python benchmarks/bench_kmeans.py --data overlapping   # one Gaussian blob: many Lloyd steps
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load_average, machine_description, make_mixture  # noqa: E402

#: (n_samples, n_features, n_clusters)
CONFIGS = [
    (100_000, 16, 8),
    (1_000_000, 16, 16),
    (5_000, 8, 5),
    (1_000, 2, 3),
]
#: the issue's target: at least this ratio at 100k x 16, K=8
TARGET = {(100_000, 16, 8): 3.0}


def make_data(kind, n_samples, n_features, n_clusters, dtype):
    if kind == "mixture":
        return make_mixture(n_samples, n_features, n_clusters, seed=0, dtype=dtype)
    return np.random.RandomState(0).normal(size=(n_samples, n_features)).astype(dtype)


def run_sklearn(X, n_clusters):
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=n_clusters, n_init=1, random_state=0).fit(X)
    return model.labels_, model.n_iter_


def run_skgmm(X, n_clusters, compiled):
    from skgmm import _kmeans

    if not compiled:
        original = _kmeans._kernels
        _kmeans._kernels = lambda: None
    try:
        result = _kmeans.kmeans(X, None, n_clusters, np.random.RandomState(0))
    finally:
        if not compiled:
            _kmeans._kernels = original
    return result.labels, result.n_iter


def peak_memory(fn):
    """Peak bytes allocated while ``fn()`` runs (above what was allocated before)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench(n_samples, n_features, n_clusters, dtype, kind, repeats, runners, pause):
    X = make_data(kind, n_samples, n_features, n_clusters, dtype)
    times = {name: [] for name in runners}
    cpu_times = {name: [] for name in runners}
    outputs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in runners.items():
            outputs[name] = fn(X, n_clusters)  # warm-up
        for _ in range(repeats):
            for name, fn in runners.items():
                time.sleep(pause)
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(X, n_clusters)
                times[name].append(time.perf_counter() - start)
                cpu_times[name].append(time.process_time() - start_cpu)
        memory = {
            name: peak_memory(lambda fn=fn: fn(X, n_clusters)) / X.nbytes for name, fn in runners.items()
        }
    reference_labels, reference_iter = outputs["sklearn"]
    medians = {name: statistics.median(values) for name, values in times.items()}
    rows = []
    for name in runners:
        labels, n_iter = outputs[name]
        rows.append(
            dict(
                name=name,
                time=medians[name],
                ratio=medians["sklearn"] / medians[name],
                memory=memory[name],
                equal=bool(np.array_equal(labels, reference_labels)),
                n_iter=n_iter,
                spread=(min(times[name]), max(times[name])),
                cpu=statistics.median(cpu_times[name]),
            )
        )
    return rows, reference_iter


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", default=None, help="comma-separated indices into CONFIGS")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--data", default="mixture", choices=["mixture", "overlapping"])
    parser.add_argument("--numpy", action="store_true", help="also time skgmm's numpy code")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds of sleep before each timed call")
    args = parser.parse_args(argv)

    from skgmm._kmeans import _kernels

    compiled = _kernels() is not None
    runners = {"sklearn": run_sklearn}
    runners["skgmm" + (" (compiled)" if compiled else " (numpy)")] = lambda X, K: run_skgmm(X, K, compiled)
    if args.numpy and compiled:
        runners["skgmm (numpy)"] = lambda X, K: run_skgmm(X, K, False)

    configs = CONFIGS if args.configs is None else [CONFIGS[int(i)] for i in args.configs.split(",")]
    print(f"machine: {machine_description()}")
    print(f"load average before: {load_average()}")
    print(
        f"data: {args.data}, {args.dtype}; median of {args.repeats} after a warm-up, {args.pause} s pause "
        "before each call; memory: tracemalloc peak / X.nbytes"
    )
    print(
        f"{'n x d, K':<20}{'':<20}{'median':>10}{'min-max':>18}{'ratio':>8}{'cpu':>9}{'memory':>8}{'labels':>8}"
        f"{'iters':>7}"
    )
    for n_samples, n_features, n_clusters in configs:
        rows, _ = bench(
            n_samples,
            n_features,
            n_clusters,
            np.dtype(args.dtype),
            args.data,
            args.repeats,
            runners,
            args.pause,
        )
        label = f"{n_samples:,} x {n_features}, K={n_clusters}"
        for row in rows:
            equal = "ref" if row["name"] == "sklearn" else ("equal" if row["equal"] else "DIFFER")
            low, high = row["spread"]
            print(
                f"{label:<20}{row['name']:<20}{row['time'] * 1e3:>8.1f}ms{low * 1e3:>8.1f}-{high * 1e3:<8.1f}"
                f"{row['ratio']:>7.1f}x{row['cpu'] * 1e3:>7.1f}ms{row['memory']:>7.2f}x{equal:>8}{row['n_iter']:>7}"
            )
            label = ""
        target = TARGET.get((n_samples, n_features, n_clusters))
        if target is not None and args.data == "mixture":
            best = max(row["ratio"] for row in rows[1:2])
            print(f"{'':<20}target >= {target:.0f}x: {'met' if best >= target else 'NOT met'} ({best:.1f}x)")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()

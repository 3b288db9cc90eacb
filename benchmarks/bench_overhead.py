"""Per-fit overhead and per-iteration time on small data, skgmm next to scikit-learn.

Both libraries start from the same explicit ``*_init`` arrays (see
``_common.explicit_init``), so no k-means start is timed.  The per-fit overhead
is the CPU time of a fit with ``max_iter=1``; the per-iteration time is
``(t(1 + iters) - t(1)) / iters`` with ``tol=0``.  CPU time (``process_time``)
and medians of many repeats, since the small fits last milliseconds.

    python benchmarks/bench_overhead.py [--repeats 31] [--iters 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    explicit_init,
    load_average,
    machine_description,
    make_estimators,
    make_mixture,
)


def cases():
    from sklearn.datasets import load_iris

    yield "iris 150x4 K=3", load_iris().data, 3
    yield "1,000x2 K=3", make_mixture(1000, 2, 3), 3
    yield "5,000x8 K=5", make_mixture(5000, 8, 5), 5


def cpu_ms(estimator, X, repeats):
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            start = time.process_time()
            estimator.fit(X)
            times.append(time.process_time() - start)
    return 1e3 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--types", default="full,tied,diag,spherical")
    args = parser.parse_args()
    print(machine_description())
    print(f"load average before: {load_average()}")
    header = f"{'data':<16} {'type':<10} {'sk fit(1) ms':>12} {'gm fit(1) ms':>12} {'sk iter ms':>10} {'gm iter ms':>10}"
    print(header)
    print("-" * len(header))
    for name, X, K in cases():
        for covariance_type in args.types.split(","):
            init = explicit_init(X, K, covariance_type)
            one = make_estimators(K, covariance_type, init, 1)
            many = make_estimators(K, covariance_type, init, 1 + args.iters)
            for estimator in one + many:  # warm-up: imports, first calls
                cpu_ms(estimator, X, 2)
            t1 = [cpu_ms(e, X, args.repeats) for e in one]
            tn = [cpu_ms(e, X, args.repeats) for e in many]
            per_iter = [(b - a) / args.iters for a, b in zip(t1, tn)]
            print(
                f"{name:<16} {covariance_type:<10} {t1[0]:>12.3f} {t1[1]:>12.3f} "
                f"{per_iter[0]:>10.3f} {per_iter[1]:>10.3f}"
            )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()

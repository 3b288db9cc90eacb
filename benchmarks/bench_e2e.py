"""Whole default fits: skgmm's GaussianMixtureEM vs scikit-learn's GaussianMixture.

Both estimators get the same arguments (``n_components``, ``covariance_type``,
``random_state=0``, everything else default: the k-means start, ``tol``,
``max_iter``) and fit the same data in one process: one warm-up fit of each,
then the median wall time of two rounds of ``--repeats`` fits of each library
back to back, the libraries' blocks alternating after pauses of ``--pause``
seconds (see ``ROUNDS``).  The table gives
the ratio sklearn / skgmm, whether both reached the same model (the
difference of ``lower_bound_`` and whether ``n_iter_`` is equal), and the
extra peak memory of one skgmm fit relative to ``X.nbytes`` (tracemalloc, in
a separate untimed fit: tracemalloc slows the allocations it traces).

Examples
--------
python benchmarks/bench_e2e.py                # whole grid, 1M x 16 included (long)
python benchmarks/bench_e2e.py --skip-large   # without 1,000,000 x 16
python benchmarks/bench_e2e.py --repeats 3 --configs 1,2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load_average, machine_description, make_mixture  # noqa: E402

#: (n_samples, n_features, n_components, covariance_type); the last is "large".
GRID = [
    (1_000, 2, 3, "full"),
    (5_000, 8, 5, "full"),
    (5_000, 8, 5, "diag"),
    (20_000, 10, 8, "full"),
    (100_000, 16, 8, "full"),
    (100_000, 16, 8, "diag"),
    (100_000, 16, 8, "tied"),
    (1_000_000, 16, 16, "full"),
]
LARGE_ROWS = 1_000_000


def estimators(n_components, covariance_type):
    from sklearn.mixture import GaussianMixture

    from skgmm import GaussianMixtureEM

    common = dict(n_components=n_components, covariance_type=covariance_type, random_state=0)
    return GaussianMixture(**common), GaussianMixtureEM(**common)


#: Rounds of timed fits: each round times ``--repeats`` fits of scikit-learn back to back, then
#: as many of skgmm, each block after a pause of ``PAUSE_S`` seconds.  Back to back, as a user's
#: repeated fits run: after its last call OpenBLAS keeps its threads spinning for about 0.1 s,
#: and on 2 cores a fit started at once competes with them (measured here at 100k x 16, median
#: of 5: fits alternating one by one took skgmm 115 / 63 / 73 ms ('full', 'diag', 'tied')
#: against 76 / 47 / 60 ms back to back, scikit-learn's the same either way).  Alternating
#: rounds spread the machine's drift over both libraries.
ROUNDS = 2
PAUSE_S = 0.3


def timed_fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        estimator.fit(X)
        return time.perf_counter() - start


def extra_peak_memory(estimator, X):
    """Peak bytes traced during ``estimator.fit(X)``, relative to ``X.nbytes``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / X.nbytes


def run_config(n, d, K, covariance_type, repeats, pause=PAUSE_S):
    X = make_mixture(n, d, K)
    sk, gm = estimators(K, covariance_type)
    timed_fit(sk, X), timed_fit(gm, X)  # warm-up: imports, caches
    sk_times, gm_times = [], []
    for _ in range(ROUNDS):
        for estimator, times in ((sk, sk_times), (gm, gm_times)):
            time.sleep(pause)
            times.extend(timed_fit(estimator, X) for _ in range(repeats))
    memory = extra_peak_memory(estimators(K, covariance_type)[1], X)
    sk_ms, gm_ms = 1e3 * statistics.median(sk_times), 1e3 * statistics.median(gm_times)
    return {
        "data": f"{n:,} x {d} K={K}",
        "type": covariance_type,
        "sk_ms": sk_ms,
        "gm_ms": gm_ms,
        "ratio": sk_ms / gm_ms,
        "dlb": abs(sk.lower_bound_ - gm.lower_bound_),
        "n_iter": f"{sk.n_iter_}/{gm.n_iter_}" + ("" if sk.n_iter_ == gm.n_iter_ else " !"),
        "memory": memory,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed fits of each library (median)")
    parser.add_argument("--skip-large", action="store_true", help=f"leave out the {LARGE_ROWS:,}-row fit")
    parser.add_argument("--configs", help="comma-separated 1-based rows of the grid to run")
    parser.add_argument("--pause", type=float, default=PAUSE_S, help="seconds before each block of fits")
    args = parser.parse_args(argv)
    grid = list(enumerate(GRID, 1))
    if args.configs:
        chosen = {int(i) for i in args.configs.split(",")}
        grid = [(i, c) for i, c in grid if i in chosen]
    if args.skip_large:
        grid = [(i, c) for i, c in grid if c[0] < LARGE_ROWS]
    print(machine_description())
    print(f"load average before: {load_average()}")
    print(
        f"median of {ROUNDS} x {args.repeats} default fits after a warm-up ({ROUNDS} rounds of "
        f"{args.repeats} fits of each library back to back, after {args.pause:g} s pauses), wall time; "
        "ratio = sklearn / skgmm"
    )
    header = (
        f"{'#':>2} {'data':<20} {'type':<5} {'sklearn ms':>11} {'skgmm ms':>10} {'ratio':>6} "
        f"{'|dlower_bound|':>14} {'n_iter sk/gm':>13} {'extra mem / X':>13}"
    )
    print(header)
    print("-" * len(header))
    for i, (n, d, K, covariance_type) in grid:
        r = run_config(n, d, K, covariance_type, args.repeats, args.pause)
        print(
            f"{i:>2} {r['data']:<20} {r['type']:<5} {r['sk_ms']:>11.1f} {r['gm_ms']:>10.1f} "
            f"{r['ratio']:>6.2f} {r['dlb']:>14.2e} {r['n_iter']:>13} {r['memory']:>12.2f}x",
            flush=True,
        )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()

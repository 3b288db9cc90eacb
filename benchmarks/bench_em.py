"""skgmm vs scikit-learn: per-iteration EM time, agreement, peak memory, end-to-end fit.

Both libraries run alternately in one process on the same data from the same
explicit starting parameters (``tol=0``).  The time of one EM iteration is
``(t(1 + iters) - t(1)) / iters``, which cancels validation, initialisation
and the final E-step.  Medians over ``--repeats`` alternations are printed with
the ratio sklearn / skgmm, and the difference of the mean log-likelihood after
the same number of iterations.

Examples
--------
python benchmarks/bench_em.py                 # full grid (< 10 min on 2 cores)
python benchmarks/bench_em.py --only grid     # per-iteration grid only
python benchmarks/bench_em.py --scale 0.1     # smaller n, for a smoke run
python benchmarks/bench_em.py --only grid --configs 1,6 --repeats 5   # two rows, more repeats
python benchmarks/bench_em.py --only bayes    # variational: BayesianGaussianMixture vs
                                              # BayesianGaussianMixtureEM per iteration at
                                              # 200k x 16, K=16, full: ratio, lower_bound_ agreement
python benchmarks/bench_em.py --only bayes --scale 0.05   # smoke run (timings are noise)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    SKLEARN_BLAS_THREADS,
    explicit_init,
    load_average,
    machine_description,
    make_estimators,
    make_mixture,
    timed_fit,
    warm_up,
)

#: (n, d, K, covariance, dtype, iters, repeats): the targets of issue #3.
GRID = [
    (500_000, 16, 16, "full", "float64", 2, 3),
    (500_000, 16, 16, "full", "float32", 2, 3),
    (500_000, 16, 16, "tied", "float64", 2, 3),
    (500_000, 16, 16, "diag", "float64", 3, 3),
    (500_000, 16, 16, "spherical", "float64", 3, 3),
    (100_000, 2, 5, "full", "float64", 10, 5),
    (200_000, 64, 32, "full", "float64", 2, 3),
]
TARGETS = {
    (16, "full", "float64"): 5,
    (16, "full", "float32"): 10,
    (16, "tied", "float64"): 10,
    (16, "diag", "float64"): 5,
    (16, "spherical", "float64"): 5,
    (2, "full", "float64"): 5,
    (64, "full", "float64"): 5,
}


def flops_per_iteration(n, d, K, covariance):
    """GEMM flops of one EM iteration in the dense formulation (issue #3)."""
    return {"full": 4 * n * K * d * d, "tied": 2 * n * d * d + 4 * n * K * d}.get(covariance, 8 * n * K * d)


def bench_config(n, d, K, covariance, dtype, iters, repeats, seed=0):
    X = make_mixture(n, d, K, seed=seed, dtype=np.dtype(dtype))
    init = explicit_init(X, K, covariance, seed=seed)
    warm_up(K, covariance, X)
    per_iter = {"sklearn": [], "skgmm": []}
    cpu_iter = {"sklearn": [], "skgmm": []}
    lower_bounds = {}
    for _ in range(repeats):
        for index, name in enumerate(("sklearn", "skgmm")):
            short = make_estimators(K, covariance, init, 1)[index]
            long = make_estimators(K, covariance, init, 1 + iters)[index]
            t1, c1 = timed_fit(short, X, cpu=True)
            tn, cn = timed_fit(long, X, cpu=True)
            per_iter[name].append((tn - t1) / iters)
            cpu_iter[name].append((cn - c1) / iters)
            lower_bounds[name] = long.lower_bound_
    sk, ours = statistics.median(per_iter["sklearn"]), statistics.median(per_iter["skgmm"])
    cpu_ratio = statistics.median(cpu_iter["sklearn"]) / statistics.median(cpu_iter["skgmm"])
    return {
        "n": n,
        "d": d,
        "K": K,
        "cov": covariance,
        "dtype": dtype,
        "iters": iters,
        "repeats": repeats,
        "sklearn_s": sk,
        "skgmm_s": ours,
        "ratio": sk / ours,
        "cpu_ratio": cpu_ratio,
        "target": TARGETS.get((d, covariance, dtype)),
        "dll": abs(lower_bounds["sklearn"] - lower_bounds["skgmm"]),
        "gflops": flops_per_iteration(n, d, K, covariance) / ours / 1e9,
    }


def print_grid(rows):
    print(
        "| n | d | K | cov | dtype | sklearn s/iter | skgmm s/iter | ratio | target | "
        "|Δ mean loglik| | skgmm GFLOP/s | CPU-time ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = "" if r["target"] is None else f"≥{r['target']}×"
        verdict = "" if r["target"] is None else (" ok" if r["ratio"] >= r["target"] else " MISSED")
        print(
            f"| {r['n']:,} | {r['d']} | {r['K']} | {r['cov']} | {r['dtype']} | {r['sklearn_s']:.4f} | "
            f"{r['skgmm_s']:.4f} | **{r['ratio']:.1f}×** | {target}{verdict} | {r['dll']:.1e} | {r['gflops']:.1f} | {r['cpu_ratio']:.1f}× |"
        )


# -- peak memory (each measurement in a fresh subprocess) --------------------
def memory_child(lib, n, d, K, covariance, dtype, warm):
    import tracemalloc

    X = make_mixture(n, d, K, dtype=np.dtype(dtype))
    init = explicit_init(X, K, covariance)
    index = 0 if lib == "sklearn" else 1
    if warm:
        # a small fit first: what a process pays once (imports, first use
        # of BLAS and of the buffers) is then not counted against this fit
        make_estimators(K, covariance, explicit_init(X[:5000], K, covariance), 3)[index].fit(X[:20_000])
    estimator = make_estimators(K, covariance, init, 3)[index]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    timed_fit(estimator, X)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(json.dumps({"lib": lib, "peak_bytes": peak, "x_bytes": X.nbytes}))


def measure_memory(n, d, K, covariance, dtype):
    """Peak bytes of one fit per library, each in a fresh process (skgmm twice: first fit, warm)."""
    results = {}
    for name, lib, warm in (("sklearn", "sklearn", 0), ("skgmm", "skgmm", 0), ("skgmm warm", "skgmm", 1)):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", lib, str(n), str(d), str(K), covariance, dtype, str(warm)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


# -- end-to-end default fit ---------------------------------------------------
def bench_end_to_end(n, d, K, repeats):
    from sklearn.mixture import GaussianMixture

    from skgmm import GaussianMixtureEM

    X = make_mixture(n, d, K, seed=1)
    warm_up(K, "full", X)
    times = {"sklearn": [], "skgmm": []}
    info = {}
    for _ in range(repeats):
        for name, cls in (("sklearn", GaussianMixture), ("skgmm", GaussianMixtureEM)):
            estimator = cls(n_components=K, random_state=0)
            times[name].append(timed_fit(estimator, X))
            info[name] = (estimator.n_iter_, estimator.lower_bound_)
    sk, ours = statistics.median(times["sklearn"]), statistics.median(times["skgmm"])
    print("| n, d, K | sklearn fit s | skgmm fit s | ratio | target | n_iter sk / skgmm | lower_bound sk / skgmm |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {n:,}, {d}, {K} | {sk:.2f} | {ours:.2f} | **{sk / ours:.1f}×** | ≥3×{' ok' if sk / ours >= 3 else ' MISSED'} | "
        f"{info['sklearn'][0]} / {info['skgmm'][0]} | {info['sklearn'][1]:.6f} / {info['skgmm'][1]:.6f} |"
    )


# -- variational per iteration ---------------------------------------------------
def bench_bayesian(n, d, K, iters, repeats, covariance="full"):
    """Per-iteration time of BayesianGaussianMixture vs BayesianGaussianMixtureEM.

    Both from the same k-means start (``random_state=0``, ``tol=0``): the start
    cancels in ``(t(1 + iters) - t(1)) / iters``.
    """
    from sklearn.mixture import BayesianGaussianMixture

    from skgmm import BayesianGaussianMixtureEM

    X = make_mixture(n, d, K, seed=2)
    classes = (("sklearn", BayesianGaussianMixture), ("skgmm", BayesianGaussianMixtureEM))

    def make(cls, max_iter):
        return cls(n_components=K, covariance_type=covariance, max_iter=max_iter, tol=0, random_state=0)

    for _, cls in classes:  # warm-up: imports, kernels
        timed_fit(make(cls, 2), X[:2000])
    per_iter = {"sklearn": [], "skgmm": []}
    bounds = {}
    for _ in range(repeats):
        for name, cls in classes:
            times = []
            for max_iter in (1, 1 + iters):
                estimator = make(cls, max_iter)
                times.append(timed_fit(estimator, X))
            per_iter[name].append((times[1] - times[0]) / iters)
            bounds[name] = estimator.lower_bound_
    sk, ours = statistics.median(per_iter["sklearn"]), statistics.median(per_iter["skgmm"])
    print("| n, d, K, covariance | sklearn s/iter | skgmm s/iter | ratio | lower bound rel. diff |")
    print("|---|---|---|---|---|")
    diff = abs(bounds["skgmm"] - bounds["sklearn"]) / abs(bounds["sklearn"])
    # at smoke sizes the k-means start's jitter can exceed the iterations' time
    ratio = f"**{sk / ours:.1f}×**" if sk > 0 and ours > 0 else "n/a (too small to time)"
    print(f"| {n:,}, {d}, {K}, {covariance} | {sk:.3f} | {ours:.3f} | {ratio} | {diff:.1e} |")


# -- GEMM ceiling ---------------------------------------------------------------
def gemm_ceiling(size=2048, repeats=5):
    """Best square-GEMM rate of this machine (numpy's BLAS, its default threads)."""
    from threadpoolctl import threadpool_limits

    rates = {}
    for dtype in ("float64", "float32"):
        a = np.random.RandomState(0).rand(size, size).astype(dtype)
        for threads in (None, 1):
            with threadpool_limits(limits=threads, user_api="blas"):
                best = float("inf")
                a @ a
                for _ in range(repeats):
                    start = time.perf_counter()
                    a @ a
                    best = min(best, time.perf_counter() - start)
            rates[(dtype, threads or "all")] = 2 * size**3 / best / 1e9
    return rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["grid", "memory", "e2e", "gemm", "bayes"], action="append")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every n by this")
    parser.add_argument("--repeats", type=int, default=None, help="override the repeats of every config")
    parser.add_argument("--e2e-repeats", type=int, default=1)
    parser.add_argument(
        "--configs", type=lambda text: [int(i) for i in text.split(",")], default=None,
        help="comma-separated 0-based rows of the grid to run (default: all)",
    )
    parser.add_argument(
        "--sklearn-blas-threads", type=int, default=None,
        help="limit scikit-learn's BLAS threads (default: its own); 1 is fairer on a loaded machine",
    )
    parser.add_argument("--memory-child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        lib, n, d, K, covariance, dtype, warm = args.memory_child
        memory_child(lib, int(n), int(d), int(K), covariance, dtype, bool(int(warm)))
        return
    SKLEARN_BLAS_THREADS[0] = args.sklearn_blas_threads
    parts = args.only or ["gemm", "grid", "memory", "e2e"]
    print(f"machine: {machine_description()}")
    print(f"load average at start: {load_average()}")
    print(f"scikit-learn BLAS threads: {args.sklearn_blas_threads or 'default'}; skgmm: its own row-block threads")
    started = time.perf_counter()
    ceiling = None
    if "gemm" in parts:
        ceiling = gemm_ceiling()
        print("\n## GEMM ceiling (square 2048, best of 5)")
        for (dtype, threads), rate in ceiling.items():
            print(f"- {dtype}, {threads} BLAS thread(s): {rate:.1f} GFLOP/s")
    if "grid" in parts:
        rows = []
        selected = GRID if args.configs is None else [GRID[i] for i in args.configs]
        for n, d, K, covariance, dtype, iters, repeats in selected:
            n = max(1000, int(n * args.scale))
            rows.append(bench_config(n, d, K, covariance, dtype, iters, args.repeats or repeats))
            print(f"  done {n}x{d} K={K} {covariance} {dtype}: ratio {rows[-1]['ratio']:.1f}  "
                  f"(load {load_average()})", flush=True)
        print("\n## Per EM iteration (median of alternating runs)")
        print_grid(rows)
        if ceiling:
            print(
                "\nFraction of the GEMM ceiling reached by skgmm (dense 'full' flop count 4nKd^2; skgmm skips "
                "most of the zero half of the triangular factors, so it can pass 100 %):"
            )
            for r in rows:
                if r["cov"] == "full":
                    peak = ceiling[(r["dtype"], "all")]
                    print(f"- {r['n']:,}x{r['d']} K={r['K']} {r['dtype']}: {r['gflops']:.1f} GFLOP/s of "
                          f"{peak:.1f} = {r['gflops'] / peak:.0%} (time / bound = {peak / r['gflops']:.1f}×)")
    if "memory" in parts:
        n = max(1000, int(1_000_000 * args.scale))
        print(f"\n## Peak memory added by fit (tracemalloc), n={n:,}, d=16, K=16, explicit init, 3 iterations")
        print("'first fit' is the first fit of a fresh process, 'warm' follows a small fit (see memory_child).")
        print("| cov | dtype | X MB | sklearn peak / X | skgmm peak / X, first fit | skgmm peak / X, warm | target (warm) |")
        print("|---|---|---|---|---|---|---|")
        for covariance, dtype in (("full", "float64"), ("full", "float32"), ("diag", "float64")):
            res = measure_memory(n, 16, 16, covariance, dtype)
            x = res["skgmm"]["x_bytes"]
            first, warm = res["skgmm"]["peak_bytes"] / x, res["skgmm warm"]["peak_bytes"] / x
            target = "≤0.5×" + (" ok" if warm <= 0.5 else " MISSED") if (covariance, dtype) == ("full", "float64") else ""
            print(
                f"| {covariance} | {dtype} | {x / 1e6:.0f} | {res['sklearn']['peak_bytes'] / x:.2f}× | "
                f"{first:.3f}× | {warm:.3f}× | {target} |"
            )
    if "e2e" in parts:
        n = max(1000, int(1_000_000 * args.scale))
        print("\n## End-to-end fit, default parameters (k-means init, tol=1e-3), random_state=0")
        bench_end_to_end(n, 16, 16, args.e2e_repeats)
    if "bayes" in parts:  # not in the default parts
        n = max(1000, int(200_000 * args.scale))
        print("\n## Variational fit per iteration (k-means start, tol=0)")
        bench_bayesian(n, 16, 16, iters=2, repeats=args.repeats or 3)
    print(f"\nload average at end: {load_average()}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

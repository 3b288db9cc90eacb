"""Time per EM iteration against n, skgmm vs scikit-learn, with a log-log plot.

Same method as ``bench_em.py`` (explicit identical start, ``tol=0``,
``(t(1 + iters) - t(1)) / iters``, libraries alternating in one process).
sklearn is skipped above ``--sklearn-max-n`` to keep the run short.

Example
-------
python benchmarks/bench_scaling.py --out benchmarks/scaling.png
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

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


def per_iteration(index, X, K, covariance, iters, repeats):
    init = explicit_init(X, K, covariance)
    times = []
    for _ in range(repeats):
        t1 = timed_fit(make_estimators(K, covariance, init, 1)[index], X)
        tn = timed_fit(make_estimators(K, covariance, init, 1 + iters)[index], X)
        times.append((tn - t1) / iters)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", default="10000,30000,100000,300000,1000000,2000000,4000000")
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--K", type=int, default=16)
    parser.add_argument("--cov", default="full")
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sklearn-max-n", type=int, default=1_000_000)
    parser.add_argument("--sklearn-blas-threads", type=int, default=None, help="limit scikit-learn's BLAS threads")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "scaling.png"))
    args = parser.parse_args(argv)
    ns = [int(n) for n in args.ns.split(",")]
    SKLEARN_BLAS_THREADS[0] = args.sklearn_blas_threads
    print(f"machine: {machine_description()}")
    print(f"load average at start: {load_average()}")
    print(f"scikit-learn BLAS threads: {args.sklearn_blas_threads or 'default'}")
    print(f"\n## Seconds per EM iteration, d={args.d}, K={args.K}, {args.cov}, float64")
    print("| n | sklearn s/iter | skgmm s/iter | ratio | skgmm µs per row |")
    print("|---|---|---|---|---|")
    rows = []
    for n in ns:
        X = make_mixture(n, args.d, args.K)
        warm_up(args.K, args.cov, X)
        # small n: more iterations and repeats, so that noise does not swamp the difference
        scale = max(1, min(5, 1_000_000 // n))
        iters, repeats = args.iters * scale, args.repeats * scale
        ours = per_iteration(1, X, args.K, args.cov, iters, repeats)
        sk = per_iteration(0, X, args.K, args.cov, iters, repeats) if n <= args.sklearn_max_n else np.nan
        rows.append((n, sk, ours))
        ratio = "" if np.isnan(sk) else f"{sk / ours:.1f}×"
        sk_text = "skipped" if np.isnan(sk) else f"{sk:.4f}"
        print(f"| {n:,} | {sk_text} | {ours:.4f} | {ratio} | {ours / n * 1e6:.3f} |", flush=True)
        del X
    print(f"\nload average at end: {load_average()}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_arr = np.array([r[0] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.loglog(n_arr, [r[1] for r in rows], "o-", label="scikit-learn GaussianMixture")
    ax.loglog(n_arr, [r[2] for r in rows], "s-", label="skgmm GaussianMixtureEM")
    ref = rows[len(rows) // 2]
    ax.loglog(n_arr, ref[2] * n_arr / ref[0], "k:", lw=1, label="linear in n")
    ax.set_xlabel("n (rows)")
    ax.set_ylabel("seconds per EM iteration")
    ax.set_title(f"EM iteration time, d={args.d}, K={args.K}, {args.cov}, float64")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()

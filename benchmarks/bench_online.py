"""partial_fit (stepwise EM) against batch EM on a stream.

A stream of ``--n-samples`` rows (default 1e6, d=8, K=8) is fed to
``GaussianMixtureEM.partial_fit`` in batches of ``--batch-size`` rows, once.
The held-out mean log-likelihood after that single pass is compared with
``GaussianMixtureEM.fit`` and ``sklearn.mixture.GaussianMixture.fit`` on all
rows (same initialisation method), in one process.

Run: python benchmarks/bench_online.py [--n-samples 1000000] [--batch-size 10000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skgmm import GaussianMixtureEM


def make_stream(n_samples, n_features, n_components, seed, separation=1.5, centers_seed=0):
    centers = np.random.RandomState(centers_seed).normal(scale=separation, size=(n_components, n_features))
    scales = np.random.RandomState(centers_seed + 1).uniform(0.5, 1.5, size=(n_components, n_features))
    rng = np.random.RandomState(seed)
    labels = rng.randint(n_components, size=n_samples)
    return centers[labels] + scales[labels] * rng.normal(size=(n_samples, n_features))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-components", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--learning-decay", type=float, default=0.7)
    parser.add_argument("--learning-offset", type=float, default=10.0)
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--separation", type=float, default=1.5, help="scale of the component centres")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    K, d = args.n_components, args.n_features
    X = make_stream(args.n_samples, d, K, seed=args.seed + 1, separation=args.separation)
    X_test = make_stream(100_000, d, K, seed=args.seed + 2, separation=args.separation)
    print(f"stream: {args.n_samples} x {d}, K={K}, batches of {args.batch_size}\n")

    online = GaussianMixtureEM(
        K, random_state=args.seed, learning_decay=args.learning_decay, learning_offset=args.learning_offset
    )
    checkpoints = {}
    n_batches = -(-args.n_samples // args.batch_size)
    start = time.perf_counter()
    for index, begin in enumerate(range(0, args.n_samples, args.batch_size), start=1):
        online.partial_fit(X[begin : begin + args.batch_size])
        if index in (1, max(1, n_batches // 20), max(1, n_batches // 4), max(1, n_batches // 2)):
            checkpoints[index / n_batches] = online.score(X_test)
    online_seconds = time.perf_counter() - start
    checkpoints[1.0] = online.score(X_test)

    start = time.perf_counter()
    batch = GaussianMixtureEM(K, random_state=args.seed).fit(X)
    batch_seconds = time.perf_counter() - start
    batch_score = batch.score(X_test)
    print("| method | held-out mean log-likelihood | relative gap to skgmm fit | time |")
    print("|---|---|---|---|")
    for fraction, score in checkpoints.items():
        gap = (batch_score - score) / abs(batch_score)
        label = f"partial_fit after {fraction:.2f} pass"
        extra = f"{online_seconds:.1f} s" if fraction == 1.0 else ""
        print(f"| {label} | {score:.4f} | {gap:+.2%} | {extra} |")
    print(f"| skgmm fit ({batch.n_iter_} passes) | {batch_score:.4f} | 0 | {batch_seconds:.1f} s |")
    if not args.no_sklearn:
        start = time.perf_counter()
        reference = GaussianMixture(K, random_state=args.seed).fit(X)
        sk_seconds = time.perf_counter() - start
        sk_score = reference.score(X_test)
        gap = (batch_score - sk_score) / abs(batch_score)
        print(
            f"| sklearn fit ({reference.n_iter_} passes) | {sk_score:.4f} | {gap:+.2%} | {sk_seconds:.1f} s |"
        )
        print(
            f"\ntime ratios: sklearn fit / partial_fit pass = {sk_seconds / online_seconds:.1f}x, "
            f"skgmm fit / partial_fit pass = {batch_seconds / online_seconds:.1f}x"
        )
    gap = (batch_score - checkpoints[1.0]) / abs(batch_score)
    print(
        f"\none pass of partial_fit is within {abs(gap):.3%} of batch fit (criterion: 1%): "
        f"{'PASS' if abs(gap) < 0.01 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()

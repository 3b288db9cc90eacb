"""How good a maximum does each initialisation find?  skgmm vs scikit-learn.

For every data set, covariance type and number of components K, fits

- ``sk n1`` / ``sk nN``: scikit-learn's ``GaussianMixture`` (k-means start) with
  ``n_init=1`` and ``n_init=N``;
- ``hier``: ``GaussianMixtureEM(init_params='hierarchical')``, mclust's start
  (deterministic, so one start);
- ``hier+km nN``: what ``GaussianMixtureIC(n_init=N)`` fits for one candidate:
  the hierarchical start plus ``N - 1`` k-means starts, keeping the best;

and prints the final total log-likelihood (``lower_bound_ * n_samples``; higher
is better), the median over ``--seeds`` random states for the random methods.
``hier+km nN - sk nN`` compares the two at equal ``n_init``.

Usage::

    python benchmarks/bench_init_quality.py --n-init 10 --seeds 3 --markdown
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_blobs
from sklearn.mixture import GaussianMixture

from skgmm import GaussianMixtureEM, GaussianMixtureIC


def generated_mixture(seed, n_components=5, n_features=6, n_samples=800):
    """Overlapping mixture with random full covariances and unequal weights."""
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.full(n_components, 2.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    means = rng.normal(scale=3.0, size=(n_components, n_features))
    factors = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    noise = rng.normal(size=(n_samples, n_features))
    return means[labels] + np.einsum("nd,nde->ne", noise, factors[labels])


def datasets():
    blobs, _ = make_blobs(n_samples=600, n_features=4, centers=6, cluster_std=1.5, random_state=3)
    return {
        "iris": load_iris().data,
        "wine": load_wine().data,
        "breast_cancer": load_breast_cancer().data,
        "generated_5x6d": generated_mixture(0),
        "generated_8x3d": generated_mixture(1, n_components=8, n_features=3, n_samples=1000),
        "blobs_6x4d": blobs,
    }


def total_log_likelihood(estimator, X):
    try:
        return estimator.fit(X).lower_bound_ * len(X)
    except ValueError:  # a collapsed component beyond reg_covar
        return np.nan


def compare(X, covariance_type, n_components, n_init, seeds):
    row = {}
    row["sk n1"] = np.nanmedian(
        [
            total_log_likelihood(
                GaussianMixture(n_components, covariance_type=covariance_type, random_state=s), X
            )
            for s in range(seeds)
        ]
    )
    row[f"sk n{n_init}"] = np.nanmedian(
        [
            total_log_likelihood(
                GaussianMixture(n_components, covariance_type=covariance_type, n_init=n_init, random_state=s),
                X,
            )
            for s in range(seeds)
        ]
    )
    row["hier"] = total_log_likelihood(
        GaussianMixtureEM(n_components, covariance_type=covariance_type, init_params="hierarchical"), X
    )
    combined = []
    for s in range(seeds):
        ic = GaussianMixtureIC([n_components], covariance_type=covariance_type, n_init=n_init, random_state=s)
        try:
            combined.append(ic.fit(X).lower_bound_ * len(X))
        except ValueError:
            combined.append(np.nan)
    row[f"hier+km n{n_init}"] = np.nanmedian(combined)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--components", type=int, nargs="+", default=list(range(2, 10)))
    parser.add_argument("--covariance-types", nargs="+", default=["full", "diag"])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    data = datasets()
    names = args.datasets or list(data)
    columns = ["sk n1", f"sk n{args.n_init}", "hier", f"hier+km n{args.n_init}"]
    header = ["data", "cov", "K", *columns, "hier - sk n1", f"hier+km - sk n{args.n_init}"]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    else:
        print(" ".join(f"{h:>14}" for h in header))
    tally = {"hier vs sk n1": [0, 0, 0], f"hier+km vs sk n{args.n_init}": [0, 0, 0]}
    start = time.perf_counter()
    for name in names:
        X = data[name]
        for covariance_type in args.covariance_types:
            for k in args.components:
                row = compare(X, covariance_type, k, args.n_init, args.seeds)
                d1 = row["hier"] - row["sk n1"]
                dn = row[f"hier+km n{args.n_init}"] - row[f"sk n{args.n_init}"]
                for key, diff in zip(tally, (d1, dn)):
                    # ties within 0.01 log-likelihood units (or a NaN) count as equal
                    tally[key][0 if diff > 0.01 else 2 if diff < -0.01 else 1] += 1
                values = [row[c] for c in columns] + [d1, dn]
                if args.markdown:
                    print(
                        f"| {name} | {covariance_type} | {k} | "
                        + " | ".join(f"{v:.2f}" for v in values)
                        + " |"
                    )
                else:
                    print(
                        f"{name:>14} {covariance_type:>14} {k:>14} " + " ".join(f"{v:14.2f}" for v in values)
                    )
    print()
    for key, (better, equal, worse) in tally.items():
        print(f"{key}: skgmm better {better}, equal {equal}, worse {worse}")
    print(f"time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

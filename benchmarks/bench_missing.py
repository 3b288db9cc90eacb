"""Missing values: how exact EM degrades with MCAR missingness, and imputation RMSE.

Part 1 fits GaussianMixtureEM to data with a fraction of entries missing
completely at random and reports the error of the means and covariances and
the ARI of the labels, against two things a scikit-learn user can do today:
fit ``sklearn.mixture.GaussianMixture`` on mean-imputed data, or on the
complete rows only. The ARI of the true model on the same incomplete rows
(the best any method can do) is the reference.

Part 2 compares the imputation RMSE of GaussianMixtureImputer with
SimpleImputer (mean) and IterativeImputer on generated mixtures.

Run: python benchmarks/bench_missing.py [--n-samples 3000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from skgmm import GaussianMixtureEM, GaussianMixtureImputer


def make_mixture(n_samples, n_features, n_components, seed, separation=4.0):
    """Mixture with random full covariances (correlated features)."""
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=separation, size=(n_components, n_features))
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    covariances = np.einsum("kij,klj->kil", mixing, mixing) + 0.1 * np.eye(n_features)
    labels = rng.randint(n_components, size=n_samples)
    chol = np.linalg.cholesky(covariances)
    X = (
        means[labels]
        + np.einsum("kij,nj->nki", chol, rng.normal(size=(n_samples, n_features)))[
            np.arange(n_samples), labels
        ]
    )
    return X, labels, means, covariances


def mcar(X, fraction, seed):
    rng = np.random.RandomState(seed)
    X = X.copy()
    X[rng.uniform(size=X.shape) < fraction] = np.nan
    return X


def match(estimated_means, true_means):
    cost = ((estimated_means[:, None] - true_means[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    order = np.empty(len(true_means), dtype=int)
    order[cols] = rows
    return order


def parameter_errors(model, means, covariances):
    order = match(model.means_, means)
    mean_error = np.abs(model.means_[order] - means).max()
    cov_error = np.abs(model.covariances_[order] - covariances).max()
    return mean_error, cov_error


def degradation(args):
    K, d = 3, 6
    fractions = [0.0, 0.1, 0.2, 0.3, 0.4]
    rows = []
    for fraction in fractions:
        stats = {
            key: []
            for key in (
                "em_mean",
                "em_cov",
                "em_ari",
                "oracle_ari",
                "mi_ari",
                "mi_mean",
                "cc_mean",
                "cc_rows",
                "em_s",
                "mi_s",
            )
        }
        for seed in range(args.seeds):
            X, labels, means, covariances = make_mixture(args.n_samples, d, K, seed)
            X_missing = mcar(X, fraction, seed + 100)
            start = time.perf_counter()
            em = GaussianMixtureEM(K, n_init=3, random_state=seed, max_iter=500).fit(X_missing)
            stats["em_s"].append(time.perf_counter() - start)
            mean_error, cov_error = parameter_errors(em, means, covariances)
            stats["em_mean"].append(mean_error)
            stats["em_cov"].append(cov_error)
            stats["em_ari"].append(adjusted_rand_score(labels, em.predict(X_missing)))
            oracle = GaussianMixtureEM(
                K,
                max_iter=0,
                weights_init=np.bincount(labels, minlength=K) / len(labels),
                means_init=means,
                precisions_init=np.linalg.inv(covariances),
            ).fit(X_missing)
            stats["oracle_ari"].append(adjusted_rand_score(labels, oracle.predict(X_missing)))
            start = time.perf_counter()
            imputed = SimpleImputer().fit_transform(X_missing)
            mi = GaussianMixture(K, n_init=3, random_state=seed, max_iter=500).fit(imputed)
            stats["mi_s"].append(time.perf_counter() - start)
            stats["mi_ari"].append(adjusted_rand_score(labels, mi.predict(imputed)))
            stats["mi_mean"].append(parameter_errors(mi, means, covariances)[0])
            complete = ~np.isnan(X_missing).any(axis=1)
            stats["cc_rows"].append(complete.sum())
            if complete.sum() >= 10 * K:
                cc = GaussianMixture(K, n_init=3, random_state=seed, max_iter=500).fit(X_missing[complete])
                stats["cc_mean"].append(parameter_errors(cc, means, covariances)[0])
            else:
                stats["cc_mean"].append(np.nan)
        rows.append((fraction, {key: float(np.mean(value)) for key, value in stats.items()}))
    print(
        f"\n## MCAR degradation (n={args.n_samples}, d={d}, K={K}, full covariances, mean of {args.seeds} seeds)\n"
    )
    print(
        "| missing | skgmm EM: max mean error | max cov error | ARI | oracle ARI | "
        "mean-impute + sklearn: mean error | ARI | complete rows: n | mean error | time skgmm / sklearn-MI |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fraction, s in rows:
        print(
            f"| {fraction:.0%} | {s['em_mean']:.3f} | {s['em_cov']:.3f} | {s['em_ari']:.3f} | {s['oracle_ari']:.3f} | "
            f"{s['mi_mean']:.3f} | {s['mi_ari']:.3f} | {s['cc_rows']:.0f} | {s['cc_mean']:.3f} | "
            f"{s['em_s']:.2f} s / {s['mi_s']:.2f} s |"
        )


def imputation(args):
    print(f"\n## Imputation RMSE on missing entries (n={args.n_samples}, mean of {args.seeds} seeds)\n")
    settings = [(6, 3, 0.1), (6, 3, 0.2), (6, 3, 0.4), (10, 5, 0.2)]
    methods = {
        "mean (SimpleImputer)": lambda K, s: SimpleImputer(),
        "IterativeImputer": lambda K, s: IterativeImputer(max_iter=20, random_state=s),
        "GaussianMixtureImputer K=1": lambda K, s: GaussianMixtureImputer(1, random_state=s),
        "GaussianMixtureImputer K=true": lambda K, s: GaussianMixtureImputer(K, n_init=3, random_state=s),
    }
    print("| d | K | missing | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for d, K, fraction in settings:
        rmse = {name: [] for name in methods}
        seconds = {name: 0.0 for name in methods}
        for seed in range(args.seeds):
            X, _, _, _ = make_mixture(args.n_samples, d, K, seed)
            X_missing = mcar(X, fraction, seed + 200)
            missing = np.isnan(X_missing)
            for name, make in methods.items():
                start = time.perf_counter()
                imputed = make(K, seed).fit_transform(X_missing)
                seconds[name] += time.perf_counter() - start
                rmse[name].append(np.sqrt(np.mean((imputed - X)[missing] ** 2)))
        cells = [f"{np.mean(rmse[name]):.3f} ({seconds[name] / args.seeds:.2f} s)" for name in methods]
        print(f"| {d} | {K} | {fraction:.0%} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-samples", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--part", choices=["all", "degradation", "imputation"], default="all")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.part in ("all", "degradation"):
        degradation(args)
    if args.part in ("all", "imputation"):
        imputation(args)


if __name__ == "__main__":
    main()

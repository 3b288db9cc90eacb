"""GaussianMixtureIC against R's mclust: the whole BIC grid, side by side.

For classic data sets (R's ``datasets`` and mclust's bundled data, 145 to
9,083 rows), runs ``benchmarks/mclust_grid.R``, which times
``Mclust(X, G = 1:9)`` (all 14 models) inside R and writes the data and
mclust's BIC table; then times ``GaussianMixtureIC`` with the same grid on the
same rows in this process, and compares every candidate's log-likelihood with
mclust's (derived from its BIC and df, which equal skgmm's parameter counts).

A candidate "reaches" mclust when its log-likelihood is at least mclust's
minus 1e-3 and it is not singular (``cv_results_['excluded']``); "within
mclust's tol" when it falls short by more than 1e-3 but less than mclust's own
convergence accuracy, ``1e-5 (1 + |L|)``; candidates where mclust's fit failed
(no BIC) are counted apart.

Usage (needs Rscript with mclust and jsonlite; Debian: r-cran-mclust)::

    python benchmarks/bench_mclust.py [--repeats 3] [--names iris faithful ...]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_description  # noqa: E402

MODELS = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"]


def selector(n_features, random_state=0, **params):
    from skgmm import GaussianMixtureIC

    models = MODELS if n_features > 1 else ["E", "V"]
    return GaussianMixtureIC(n_components=9, covariance_type=models, random_state=random_state, **params)


def time_skgmm(X, repeats, **params):
    times, fitted = [], None
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            fitted = selector(X.shape[1], **params).fit(X)
            times.append(time.perf_counter() - start)
    return times, fitted


def compare_maxima(reference, fitted, n_samples):
    """Counts of candidates that reach, fall short of, or only exceed mclust's maximum by collapsing."""
    table = fitted.cv_results_
    ours = {
        (str(t), int(k)): (ll, p, ex)
        for t, k, ll, p, ex in zip(
            table["param_covariance_type"],
            table["param_n_components"],
            table["log_likelihood"],
            table["n_parameters"],
            table["excluded"],
        )
    }
    counts = dict(reached=0, within_tol=0, lower=0, singular=0, mclust_failed=0, worst=0.0)
    shortfalls = []
    for model, bics in reference["bic"].items():
        for k, bic in enumerate(bics, start=1):
            if (model, k) not in ours:
                continue
            ll, n_parameters, excluded = ours[(model, k)]
            if bic is None:
                counts["mclust_failed"] += 1
                continue
            mclust_ll = (bic + n_parameters * math.log(n_samples)) / 2
            # mclust's own maximum is only as accurate as its convergence rule
            # (relative change 1e-5 of the total log-likelihood)
            accuracy = max(1e-3, 1e-5 * (1 + abs(mclust_ll)))
            if np.isfinite(ll) and mclust_ll - accuracy <= ll < mclust_ll - 1e-3 and not excluded:
                counts["within_tol"] += 1
            elif not np.isfinite(ll) or ll < mclust_ll - accuracy:
                counts["lower"] += 1
                shortfalls.append((model, k, mclust_ll - ll))
                counts["worst"] = max(counts["worst"], mclust_ll - ll if np.isfinite(ll) else math.inf)
            elif excluded:
                counts["singular"] += 1
            else:
                counts["reached"] += 1
    return counts, shortfalls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--names", nargs="*", default=[])
    parser.add_argument(
        "--n-init", type=int, default=None, help="GaussianMixtureIC n_init (default: its own)"
    )
    args = parser.parse_args(argv)
    params = {} if args.n_init is None else {"n_init": args.n_init}
    print(machine_description())
    with tempfile.TemporaryDirectory() as out:
        script = Path(__file__).with_name("mclust_grid.R")
        subprocess.run(["Rscript", str(script), out, str(args.repeats), *args.names], check=True)
        names = [p.stem for p in sorted(Path(out).glob("*.json"), key=lambda p: p.stat().st_mtime)]
        references = {n: json.loads(Path(out, n + ".json").read_text()) for n in names}
        data = {n: np.loadtxt(Path(out, n + ".csv"), delimiter=",", ndmin=2) for n in names}
    first = next(iter(data.values()))
    time_skgmm(first, 1, **params)  # imports and one-off loading outside the timings
    print(
        f"\nmclust {references[names[0]]['mclust_version']}, {references[names[0]]['r_version']}; "
        f"median of {args.repeats} fits each; GaussianMixtureIC({params or 'defaults'})\n"
    )
    print(
        "| data | n x d | mclust s | skgmm s | ratio | mclust choice | skgmm choice "
        "| reached | within mclust's tol | lower (worst) | singular | mclust failed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    total_r = total_py = 0.0
    same_choice, totals = 0, dict(reached=0, within_tol=0, lower=0, singular=0, mclust_failed=0)
    for name in names:
        X, ref = data[name], references[name]
        times, fitted = time_skgmm(X, args.repeats, **params)
        r_s, py_s = float(np.median(ref["seconds"])), float(np.median(times))
        total_r, total_py = total_r + r_s, total_py + py_s
        counts, shortfalls = compare_maxima(ref, fitted, len(X))
        choice = f"{fitted.covariance_type_},{fitted.n_components_}"
        same_choice += choice == f"{ref['model']},{ref['G']}"
        for key in totals:
            totals[key] += counts[key]
        print(
            f"| {name} | {X.shape[0]} x {X.shape[1]} | {r_s:.3f} | {py_s:.3f} | {r_s / py_s:.1f}x "
            f"| {ref['model']},{ref['G']} | {choice} | {counts['reached']} | {counts['within_tol']} "
            f"| {counts['lower']} ({counts['worst']:.3g}) | {counts['singular']} | {counts['mclust_failed']} |"
        )
        if shortfalls:
            worst = sorted(shortfalls, key=lambda s: -s[2])[:4]
            print("|  | lower: " + ", ".join(f"{m},{k} by {d:.3g}" for m, k, d in worst) + " |" + " |" * 10)
    print(
        f"| **total** |  | {total_r:.2f} | {total_py:.2f} | **{total_r / total_py:.1f}x** "
        f"| {same_choice} of {len(names)} the same |  | {totals['reached']} | {totals['within_tol']} "
        f"| {totals['lower']} | {totals['singular']} | {totals['mclust_failed']} |"
    )


if __name__ == "__main__":
    main()

"""Command line: ``skgmm demo`` (also ``python -m skgmm``) fits a built-in data set."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from skgmm import GaussianMixtureEM, __version__


def _demo(args) -> int:
    from sklearn.datasets import load_iris

    X = load_iris().data
    candidates = {
        (k, cov): GaussianMixtureEM(k, covariance_type=cov, n_init=3, random_state=0).fit(X)
        for k in range(1, 7)
        for cov in ("full", "tied", "diag", "spherical")
    }
    bics = {key: gm.bic(X) for key, gm in candidates.items()}
    best_key = min(bics, key=bics.get)
    best = candidates[best_key]
    print("skgmm demo: iris (150 samples, 4 features), BIC over n_components 1-6 x 4 covariance types")
    print(f"chosen: n_components={best_key[0]}, covariance_type={best_key[1]!r} (BIC {bics[best_key]:.1f})")
    print(f"log-likelihood per sample: {best.score(X):.4f}, EM iterations: {best.n_iter_}")
    with np.printoptions(precision=3, suppress=True):
        print("weights:", best.weights_)
        print("means:\n", best.means_)
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: pip install 'skgmm[plot]' to get the picture")
            return 0
        centred = X - X.mean(axis=0)
        axes = np.linalg.svd(centred, full_matrices=False)[2][:2].T
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter(*(centred @ axes).T, c=best.predict(X), s=15, cmap="viridis")
        ax.set(title=f"iris: {best_key[0]} components ({best_key[1]})", xlabel="PC 1", ylabel="PC 2")
        fig.savefig(args.plot, dpi=100)
        print(f"picture written to {args.plot}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``skgmm`` console script."""
    parser = argparse.ArgumentParser(prog="skgmm", description=__doc__)
    parser.add_argument("--version", action="version", version=f"skgmm {__version__}")
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="fit the iris data set and draw the result")
    demo.add_argument("--plot", default="skgmm-demo.png", help="where to write the picture")
    args = parser.parse_args(["demo"] if argv is None and len(sys.argv) == 1 else argv)
    if args.command in (None, "demo"):
        if args.command is None:
            args = demo.parse_args([])
        return _demo(args)
    return 0

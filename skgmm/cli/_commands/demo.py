"""``skgmm demo`` (also ``skgmm`` alone): fit the iris data set, choosing K and the covariance type by BIC."""

from __future__ import annotations

import argparse

from skgmm.cli._commands.fit import _fit_and_report
from skgmm.cli._errors import CLIError
from skgmm.cli._figure import _check_matplotlib
from skgmm.cli._report import _say
from skgmm.cli._tables import Table


def run(args: argparse.Namespace) -> int:
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score

    iris = load_iris()
    names = [name.replace(" (cm)", "") for name in iris.feature_names]
    table = Table(iris.data, names, None, "iris (scikit-learn's copy of Fisher's data)")
    plot = args.plot
    try:
        _check_matplotlib()
    except CLIError as exc:
        _say(args, f"{exc} (no figure this time)")
        plot = None
    args = argparse.Namespace(**{**vars(args), "plot": plot})
    _say(args, "skgmm demo: choosing the number of components and covariance type by BIC")
    result = _fit_and_report(table, args, title="iris: Gaussian mixture chosen by BIC")
    ari = adjusted_rand_score(iris.target, result.model.predict(iris.data))
    _say(args, f"agreement with the three iris species (adjusted Rand index): {ari:.2f}")
    return 0

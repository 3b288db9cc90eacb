"""Fitting a model, or choosing one by BIC, passing over singular fits as R's mclust does."""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import skgmm
from skgmm import GaussianMixtureEM
from skgmm._singular import singular_components
from skgmm.cli._progress import Progress, _monitoring
from skgmm.cli._tables import Table
from skgmm.covariance import COVARIANCE_MODELS
from skgmm.covariance.parsimonious import MULTIVARIATE_MODELS, UNIVARIATE_MODELS

#: Every ``--covariance-type``: the registry's names (scikit-learn's four, mclust's 14).
COVARIANCE_TYPES = tuple(COVARIANCE_MODELS)
#: The types ``--covariance-type auto`` tries: scikit-learn's four (the
#: registry's strategies named after themselves that are not mclust's own).
AUTO_COVARIANCE_TYPES = tuple(
    name for name, model in COVARIANCE_MODELS.items() if model.name == name and not name.isupper()
)

#: The types ``--covariance-type mclust`` tries: R mclust's default models.
MCLUST_COVARIANCE_TYPES = MULTIVARIATE_MODELS

__all__ = [
    "AUTO_COVARIANCE_TYPES",
    "COVARIANCE_TYPES",
    "MCLUST_COVARIANCE_TYPES",
    "FitResult",
    "fit_table",
    "singular_components",
]


@dataclass
class FitResult:
    """A fitted model and, when it was chosen from a grid, the criterion table."""

    model: Any
    grid: np.ndarray | None = None
    table: dict[str, np.ndarray] | None = None
    n_candidates: int = 1
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    singular: list[tuple[int, str]] = field(default_factory=list)
    selector: Any = None


def fit_table(table: Table, args: argparse.Namespace, progress: Progress | None = None) -> FitResult:
    """Fit one model, or choose one by BIC when ``n_components`` or ``covariance_type`` is 'auto'.

    Parameters
    ----------
    table : Table
        The data.
    args : argparse.Namespace
        ``n_components``, ``covariance_type``, ``max_components``, ``n_init``,
        ``max_iter``, ``tol``, ``random_state`` and ``verbose``.
    progress : Progress, default=None
        Where to report iterations.

    Returns
    -------
    result : FitResult
        The model and the BIC table.
    """
    X, weights = table.X, table.sample_weight
    n_samples = X.shape[0]
    if args.n_components == "auto":
        ks = list(range(1, min(args.max_components, n_samples) + 1))
    else:
        ks = [args.n_components]
    if args.covariance_type == "auto":
        covs = list(AUTO_COVARIANCE_TYPES)
    elif args.covariance_type == "mclust":
        covs = list(MCLUST_COVARIANCE_TYPES if X.shape[1] > 1 else UNIVARIATE_MODELS)
    else:
        covs = [args.covariance_type]
    # Unset --tol and --max-iter: each estimator's own defaults (scikit-learn's
    # for one model, mclust's convergence rule for a grid).
    options = {name: getattr(args, name) for name in ("max_iter", "tol") if getattr(args, name) is not None}
    options["random_state"] = args.random_state
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, _monitoring(progress):
        warnings.simplefilter("always")
        if len(ks) * len(covs) == 1:
            if progress:
                progress.set_candidate(f"K={ks[0]} {covs[0]}")
            model = GaussianMixtureEM(ks[0], covariance_type=covs[0], n_init=args.n_init or 1, **options)
            model.fit(X, sample_weight=weights)
            result = FitResult(model)
        else:
            result = _fit_selector(X, weights, ks, covs, options, args, progress)
    result.seconds = time.perf_counter() - start
    messages = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    result.warnings = list(messages)
    return result


def _fit_selector(X, weights, ks, covs, options, args, progress) -> FitResult:
    """Choose through :class:`skgmm.GaussianMixtureIC`."""
    from skgmm.plotting import _criterion_table

    if progress:
        progress.set_candidate(f"{len(ks) * len(covs)} candidates")
    extra = {} if args.n_init is None else {"n_init": args.n_init}
    selector = skgmm.GaussianMixtureIC(
        n_components=ks, covariance_type=covs, criterion="bic", **options, **extra
    )
    model_warnings = _fit_recording_warnings(selector, X, weights)
    model = selector.best_estimator_
    _reissue(model_warnings)  # only the chosen model's: the selector keeps no others'
    try:
        grid, table = _criterion_table(selector.cv_results_, "bic")
    except (AttributeError, ValueError):
        return FitResult(model, None, None, len(ks) * len(covs), selector=selector)
    # The selector passes over singular candidates (skgmm/_singular.py, the one
    # definition): they have no BIC in the table, as in R's mclust, and those
    # with a lower BIC than the chosen model are reported.
    results = selector.cv_results_
    chosen_bic = results["bic"][selector.best_index_]
    passed_over = []
    for i in np.argsort(np.where(np.isfinite(results["bic"]), results["bic"], np.inf), kind="stable"):
        k, cov = int(results["param_n_components"][i]), str(results["param_covariance_type"][i])
        if not results["excluded"][i] or i == selector.best_index_:
            continue
        table[cov][np.searchsorted(grid, k)] = np.nan
        if results["bic"][i] < chosen_bic:
            passed_over.append((k, cov))
    result = FitResult(model, grid, table, len(ks) * len(covs), selector=selector)
    result.singular = passed_over
    return result


def _fit_recording_warnings(selector, X, weights) -> list:
    """Fit ``selector`` and return the warnings it raised, instead of showing them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selector.fit(X, sample_weight=weights)
    return caught


def _reissue(caught) -> None:
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _bic(model, X, weights) -> float:
    """BIC, counting a row of weight w as w rows when there are weights."""
    if weights is None:
        return float(model.bic(X))
    return model._information_criteria(X, weights)["bic"]

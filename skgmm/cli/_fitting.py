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
from skgmm.cli._progress import Progress, _monitoring
from skgmm.cli._tables import Table

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


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
    runners_up_checked: bool = True


def singular_components(model) -> list[int]:
    """Components whose covariance the data leave singular, propped up by ``reg_covar`` alone.

    Such a component sits on a point, a line or a plane (duplicated or
    discretised values): its density, hence the likelihood and the BIC, is
    spuriously large. R's mclust reports no BIC for such fits; the command line
    likewise passes over them when it chooses a model.

    Parameters
    ----------
    model : fitted GaussianMixtureEM
        The mixture.

    Returns
    -------
    components : list of int
        The singular components (empty for a sound fit).
    """
    from skgmm.plotting import full_covariances

    n_components, n_features = model.means_.shape
    covariances = full_covariances(model.covariances_, model.covariance_type, n_components, n_features)
    spread = np.linalg.eigvalsh(covariances) - model.reg_covar  # what the data contribute
    tolerance = np.sqrt(np.finfo(model.means_.dtype).eps)
    # Singular: flat in some direction compared with its own widest one, or a
    # point compared with the widest component of the mixture.
    widest = max(float(spread.max()), 0.0)
    return [
        k
        for k in range(n_components)
        if spread[k].min() <= tolerance * max(spread[k].max(), 0.0) or spread[k].max() <= tolerance * widest
    ]


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
    covs = list(COVARIANCE_TYPES) if args.covariance_type == "auto" else [args.covariance_type]
    options = dict(max_iter=args.max_iter, tol=args.tol, random_state=args.random_state)
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


def _ranked_candidates(grid: np.ndarray, table: dict[str, np.ndarray]) -> list[tuple[float, int, str]]:
    """``(BIC, K, covariance type)`` of every fitted candidate (finite BIC), best first."""
    return sorted(
        (value, int(k), cov)
        for cov, values in table.items()
        for k, value in zip(grid, values, strict=True)
        if np.isfinite(value)
    )


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
    try:
        grid, table = _criterion_table(selector.cv_results_, "bic")
    except (AttributeError, ValueError):
        _reissue(model_warnings)
        return FitResult(model, None, None, len(ks) * len(covs))
    # Pass over singular fits, best first, refitting each runner-up alone (the
    # selector keeps only its best model). On small data every candidate may be
    # looked at (tiny data put many singular fits first), and the three
    # runners-up shown in the summary are checked too; on large data a dozen
    # refits at most.
    ranked = _ranked_candidates(grid, table)
    check_runners_up = X.size <= 1_000_000
    singular, passed_over, chosen, n_sound = [], [], None, 0
    for _value, k, cov in ranked if check_runners_up else ranked[:12]:
        if chosen is not None and (not check_runners_up or n_sound == 3):
            break
        if (k, cov) == (model.n_components, model.covariance_type):
            candidate, candidate_warnings = model, model_warnings
        else:
            refit = skgmm.GaussianMixtureIC(
                n_components=[k], covariance_type=[cov], criterion="bic", **options, **extra
            )
            candidate_warnings = _fit_recording_warnings(refit, X, weights)
            candidate = refit.best_estimator_
            table[cov][np.searchsorted(grid, k)] = _bic(candidate, X, weights)
        if singular_components(candidate):
            singular.append((k, cov))
            if chosen is None:
                passed_over.append((k, cov))
        elif chosen is None:
            chosen, chosen_warnings = candidate, candidate_warnings
        else:
            n_sound += 1
    if chosen is None:  # every candidate looked at is singular: keep the selector's choice
        chosen, chosen_warnings, passed_over = model, model_warnings, []
        singular = [entry for entry in singular if entry != (model.n_components, model.covariance_type)]
    _reissue(chosen_warnings)  # only the chosen model's, not those of the fits passed over
    for k, cov in singular:
        table[cov][np.searchsorted(grid, k)] = np.nan
    result = FitResult(chosen, grid, table, len(ks) * len(covs))
    result.singular = passed_over
    result.runners_up_checked = check_runners_up
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

"""What the displays read from fitted estimators: the mixture, the criterion table."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _fitted_mixture(estimator):
    """The fitted Gaussian mixture inside ``estimator`` (itself, or a selector's best model)."""
    check_is_fitted(estimator)
    best = getattr(estimator, "best_estimator_", None)
    return best if best is not None and hasattr(best, "means_") else estimator


def _criterion_table(cv_results, criterion: str):
    """(n_components grid, {covariance_type: values}) from a ``cv_results_``-like dict."""
    results = {key: np.asarray(value) for key, value in cv_results.items()}
    ks = results.get("param_n_components", results.get("n_components"))
    covs = results.get("param_covariance_type", results.get("covariance_type"))
    if ks is None or covs is None:
        raise ValueError("cv_results must have 'param_n_components' and 'param_covariance_type' entries.")
    candidates = [criterion, f"{criterion}_", f"mean_{criterion}", criterion.upper()]
    key = next((name for name in candidates if name in results), None)
    if key is None:
        raise ValueError(f"cv_results has no {criterion!r} column; columns: {sorted(results)}.")
    ks = ks.astype(int)
    grid = np.unique(ks)
    table = {}
    for cov in dict.fromkeys(str(c) for c in covs):
        values = np.full(len(grid), np.nan)
        rows = covs.astype(str) == cov
        values[np.searchsorted(grid, ks[rows])] = results[key][rows].astype(float)
        table[cov] = values
    return grid, table

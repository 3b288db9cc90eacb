"""The candidates of GaussianMixtureIC: fits sharing their starts, and the results table."""

from __future__ import annotations

import warnings

import numpy as np

from skgmm._estimator import GaussianMixtureEM
from skgmm._init import INITIALISERS
from skgmm._singular import singular_reason
from skgmm.covariance import get_covariance_model
from skgmm.engine.mstep import estimate_parameters
from skgmm.sources.memory import InMemorySource


def fit_candidates(
    X, sample_weight, init_data, n_components, covariance_types, init_params, partition, seeds, settings
):
    """Fit every covariance type at one number of components.

    Each start's responsibilities are drawn once, on ``init_data`` (X and its
    weights, with missing values filled), and shared by all the covariance
    types; each candidate keeps its best start.
    """
    X_init, weight_init = init_data
    settings = dict(settings)
    n_total = settings.pop("n_total")
    starts = []
    for i, seed in enumerate(seeds):
        if partition is not None and i == 0:
            starts.append(("hierarchical", int(seed), partition))
            continue
        method = "kmeans" if init_params == "hierarchical" else init_params
        resp = INITIALISERS[method](X_init, weight_init, n_components, np.random.RandomState(seed))
        starts.append((method, int(seed), resp))

    results = []
    for covariance_type in covariance_types:
        best = dict(
            n_components=n_components,
            covariance_type=covariance_type,
            estimator=None,
            error="",
            excluded="",
            warnings=[],
        )
        for method, seed, resp in starts:
            estimator = GaussianMixtureEM(
                n_components, covariance_type=covariance_type, n_init=1, random_state=seed, **settings
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    estimator.set_params(**_initial_values(X_init, weight_init, resp, estimator))
                    estimator.fit(X, sample_weight=sample_weight)
                except (ValueError, np.linalg.LinAlgError) as error:
                    best["error"] = best["error"] or str(error)
                    continue
            if best["estimator"] is None or estimator.lower_bound_ > best["estimator"].lower_bound_:
                # The start is fully described by init_params and random_state: the
                # estimator's parameters reproduce its fit.
                estimator.set_params(
                    init_params=method, weights_init=None, means_init=None, precisions_init=None
                )
                best.update(estimator=estimator, error="", warnings=caught)
        if best["estimator"] is not None:
            best.update(best["estimator"]._information_criteria(X, sample_weight))
            best["excluded"] = singular_reason(best["estimator"], n_total)
        results.append(best)
    return results


def _initial_values(X, sample_weight, resp, estimator):
    """``weights_init``, ``means_init``, ``precisions_init`` from responsibilities.

    The same M-step as :class:`GaussianMixtureEM`'s own initialisation, done
    here so that one start serves several covariance types.
    """
    model = get_covariance_model(estimator.covariance_type)
    n_components = estimator.n_components
    with InMemorySource(X, sample_weight, n_components) as source:
        stats = source.resp_stats(model, resp, n_components)
    weights, means, covariances = estimate_parameters(
        stats, model, estimator.reg_covar, X.dtype, weight_total=stats.weight_sum
    )
    precisions = model.compute_precisions(model.compute_precisions_cholesky(covariances.astype(X.dtype)))
    # Rows left out of a subset start carry no responsibility; the weights of
    # the others still sum to one.
    return dict(weights_init=weights / weights.sum(), means_init=means, precisions_init=precisions)


def results_table(candidates, criterion):
    """The candidates as a dict of equal-length arrays (a ``cv_results_``)."""
    n = len(candidates)
    table = {
        "param_n_components": np.array([c["n_components"] for c in candidates], dtype=int),
        "param_covariance_type": np.array([c["covariance_type"] for c in candidates], dtype=object),
        "params": [
            {"n_components": c["n_components"], "covariance_type": c["covariance_type"]} for c in candidates
        ],
    }
    for name in ("bic", "aic", "icl", "log_likelihood"):
        table[name] = np.array([c.get(name, np.nan) for c in candidates], dtype=float)
    table["n_parameters"] = np.array([c.get("n_parameters", -1) for c in candidates], dtype=int)
    fitted = [c["estimator"] for c in candidates]
    table["converged"] = np.array([e is not None and bool(e.converged_) for e in fitted])
    table["n_iter"] = np.array([-1 if e is None else e.n_iter_ for e in fitted], dtype=int)
    # Sound fits first, then singular ones, then failed ones (NaN criteria);
    # ties keep the grid order (fewer components first).
    table["excluded"] = np.array([c["excluded"] for c in candidates], dtype=object)
    values = np.where(np.isnan(table[criterion]), np.inf, table[criterion])
    group = np.where(np.isnan(table[criterion]), 2, (table["excluded"] != "").astype(int))
    order = np.lexsort((np.arange(n), values, group))
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    table["rank_criterion"] = rank
    table["error"] = np.array([c["error"] for c in candidates], dtype=object)
    return table

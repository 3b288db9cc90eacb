"""The candidates of GaussianMixtureIC: fits sharing their starts, and the results table."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from skgmm._callbacks import FitMonitor
from skgmm._estimator import GaussianMixtureEM
from skgmm._init import INITIALISERS
from skgmm._singular import singular_reason
from skgmm.covariance import get_covariance_model
from skgmm.engine.criteria import information_criteria
from skgmm.engine.degenerate import check_feature_scale
from skgmm.engine.guard import EmptyComponentGuard
from skgmm.engine.loop import EMSettings, fit_best
from skgmm.engine.mstep import MixtureParams, estimate_parameters
from skgmm.sources import array_source
from skgmm.sources.missing import has_missing


def fit_candidates(X, sample_weight, init_data, n_components, covariance_types, starts_spec, settings):
    """Fit every covariance type at one number of components.

    ``X`` and ``sample_weight`` are validated once by the selector.  Each
    start's responsibilities are drawn once, on ``init_data`` (X and its
    weights, with missing values filled), and shared by all the covariance
    types; each candidate keeps its best start.  The candidates run on the
    engine directly (one source for all of them on complete data, one per
    covariance type with missing values; no re-validation) and come back as
    fitted :class:`~skgmm.GaussianMixtureEM` whose parameters reproduce their fit.
    """
    X_init, weight_init = init_data
    init_params, partition, seeds = starts_spec
    settings = dict(settings)
    n_total = settings.pop("n_total")
    features = settings.pop("features")
    starts = []
    for i, seed in enumerate(seeds):
        if partition is not None and i == 0:
            labels, tree_seed = partition
            starts.append(("hierarchical", tree_seed, labels))
            continue
        method = "kmeans" if init_params == "hierarchical" else init_params
        resp = INITIALISERS[method](X_init, weight_init, n_components, np.random.RandomState(seed))
        starts.append((method, int(seed), resp))
    em_settings = EMSettings(
        settings["max_iter"], settings["tol"], settings["reg_covar"], settings["convergence"] == "relative"
    )
    fit = functools.partial(
        _fit_candidate,
        X,
        sample_weight,
        n_components,
        starts=starts,
        em_settings=em_settings,
        settings=settings,
        features=features,
        n_total=n_total,
    )
    if has_missing(X):
        # The source groups the rows by pattern for the covariance model: one per candidate.
        return [fit(covariance_type) for covariance_type in covariance_types]
    # Complete rows: one source (and one look at the features' scales) for every candidate.
    with array_source(X, sample_weight, None, n_components, n_required=n_components) as source:
        shared = _shared_source(source, em_settings.reg_covar)
        start_stats = {}
        return [
            fit(covariance_type, shared=shared, start_stats=start_stats)
            for covariance_type in covariance_types
        ]


def _fit_candidate(
    X, sample_weight, n_components, covariance_type, *, starts, em_settings, settings, features, n_total,
    shared=None, start_stats=None,
):  # fmt: skip
    """One candidate: EM from each start on one source; the best run as a fitted estimator.

    Sound runs rank before singular ones (:func:`~skgmm._singular.singular_reason`),
    then by log-likelihood: a start whose component collapsed onto a subspace
    must not win by its spuriously high likelihood.  ``shared`` is the
    :func:`_shared_source` of complete data, opened once for all the
    candidates; ``start_stats`` the statistics of their starts (see :func:`_start`).
    """
    model = get_covariance_model(covariance_type)
    start_stats = {} if start_stats is None else start_stats
    if shared is None:
        with array_source(X, sample_weight, model, n_components, n_required=n_components) as source:
            shared = _shared_source(source, em_settings.reg_covar)
            return _fit_candidate(
                X, sample_weight, n_components, covariance_type, starts=starts, em_settings=em_settings,
                settings=settings, features=features, n_total=n_total, shared=shared,
                start_stats=start_stats,
            )  # fmt: skip
    source, variance, (scale_error, scale_warnings) = shared
    best = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        estimator=None,
        error="",
        excluded="",
        warnings=[],
    )
    reg_covar = em_settings.reg_covar
    rows = source.init_source(0)
    if scale_error:
        best["error"] = scale_error
        return best
    for index, (method, seed, resp) in enumerate(starts):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for warning in scale_warnings:  # the data's, as each start would have seen them
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            try:
                params = _start(rows, model, resp, n_components, reg_covar, source.dtype, start_stats, index)
                guard = EmptyComponentGuard(source, model, reg_covar, variance)
                run = fit_best(source, model, lambda init, p=params: p, em_settings, 1, FitMonitor(), guard)
            except (ValueError, np.linalg.LinAlgError) as error:
                best["error"] = best["error"] or str(error)
                continue
        estimator = _fitted(run, method, seed, model, n_components, covariance_type, settings, X, features)
        excluded = singular_reason(estimator, n_total)
        rank = (excluded == "", run.lower_bound)
        if best["estimator"] is None or rank > best["rank"]:
            best.update(estimator=estimator, excluded=excluded, rank=rank, error="", warnings=caught)
    if best["estimator"] is None:
        return best
    estimator = best.pop("estimator")
    log_prob_norm, log_resp = source.estimate(model, estimator._fitted_params(source.dtype), "log_resp")
    estimator.labels_ = np.argmax(log_resp, axis=1)
    best.pop("rank")
    best["estimator"] = estimator
    best.update(information_criteria(log_prob_norm, log_resp, estimator._n_parameters(), sample_weight))
    return best


def _shared_source(source, reg_covar):
    """``(source, feature variances, (error, warnings))``: what every candidate on ``source`` shares.

    The data-scale check (:func:`~skgmm.engine.degenerate.check_feature_scale`)
    depends on the data and ``reg_covar`` alone: its error message ('' when
    none) and its warnings are found once.
    """
    _, variance, spread = source.feature_moments()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_feature_scale(variance, spread, source.n_samples, source.dtype, reg_covar)
        except ValueError as error:
            return source, variance, (str(error), [])
    return source, variance, ("", caught)


def _fitted(run, method, seed, model, n_components, covariance_type, settings, X, features):
    """A GaussianMixtureEM holding ``run``; its parameters (``init_params``, ``random_state``) reproduce it."""
    estimator = GaussianMixtureEM(
        n_components,
        covariance_type=covariance_type,
        n_init=1,
        init_params=method,
        random_state=seed,
        **settings,
    )
    estimator._set_run_attributes(model, run)
    estimator.n_features_in_ = X.shape[1]
    if features is not None:
        estimator.feature_names_in_ = features
    return estimator


def _start(rows, model, resp, n_components, reg_covar, dtype, start_stats, index):
    """The initial parameters of responsibilities ``resp`` on ``rows``, as the estimator's start.

    The same as :func:`~skgmm.engine.loop.start_parameters` computes from
    them (weights over the total row weight, as scikit-learn), so that a
    refit of the candidate retraces it.  The statistics of a start are the
    same for every strategy of one ``scatter_kind`` (their kernels of given
    responsibilities sum the same values): ``start_stats`` keeps them by
    start (``index``) and kind, for the other candidates.
    """
    key = (index, model.scatter_kind)
    if key not in start_stats:
        start_stats[key] = rows.resp_stats(model, resp, n_components)
    stats = start_stats[key]
    weights, means, covariances = estimate_parameters(
        stats, model, reg_covar, rows.dtype, weight_total=stats.weight_sum
    )
    covariances = covariances.astype(dtype)
    return MixtureParams(
        weights=weights.astype(dtype),
        means=means.astype(dtype),
        covariances=covariances,
        precisions_cholesky=np.asarray(model.compute_precisions_cholesky(covariances), dtype),
    )


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

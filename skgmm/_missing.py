"""Missing values (NaN): exact EM over the observed coordinates of each row.

This is the EM of Ghahramani & Jordan (1994, "Supervised learning from
incomplete data via an EM approach") for Gaussian mixtures, written as a
driver over the engine's :class:`~skgmm._stats.SufficientStats` so that the
M-step (:func:`skgmm._em.m_step`) is reused unchanged.

* E-step: a row's responsibilities use the *marginal* density of its observed
  coordinates, ``N(x_o | mu_o, Sigma_oo)``.
* Statistics: the missing coordinates are replaced by their conditional
  expectation ``mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o)`` under each
  component, and the conditional covariance ``Sigma_mm - Sigma_mo Sigma_oo^-1
  Sigma_om`` is added to that component's scatter.  The sums are centred on the
  component means, as the engine's are.

For 'full' and 'tied' covariances rows are grouped by missingness pattern: the
factorisations of ``Sigma_oo`` are computed once per pattern and pass, and each
group is processed with batched matrix products, so the cost stays close to the
complete-data cost when patterns are few.  For 'diag' and 'spherical' the
coordinates are independent given the component, so no grouping is needed: the
missing coordinates simply drop out of the density and contribute their
variance to the scatter.  Complete rows always go through the engine's own
kernel (:func:`skgmm._em.block_em_stats`); rows with every value missing have
no observed density, get the mixture weights as responsibilities and are left
out of fitting.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController

from skgmm._covariance import CovarianceModel, exp_above_floor, log_normalise_rows
from skgmm._drivers import em_pass, estimate_log_prob_resp
from skgmm._em import (
    MixtureParams,
    PassKernel,
    block_em_stats,
    estimate_weighted_log_prob,
    prepare_pass,
)
from skgmm._stats import SufficientStats, merge_stats
from skgmm._typing import FloatArray

LOG_2PI = math.log(2 * math.pi)


def has_missing(X) -> bool:
    """Whether ``X`` holds a NaN, without an (n_samples, n_features) temporary.

    ``X`` has already been checked for infinities, so a finite sum means no NaN
    (an overflow to inf in the sum falls back to a blockwise check).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X)):
            return False
    step = max(1, 2**20 // max(1, X.shape[1]))
    return any(np.isnan(X[start : start + step]).any() for start in range(0, X.shape[0], step))


def _uses_patterns(model: CovarianceModel) -> bool:
    return model.scatter_kind in ("full", "tied")


@dataclass(frozen=True)
class MissingLayout:
    """Where the missing values of one data set are, computed once per fit.

    Attributes
    ----------
    n_samples : int
    complete_units : list of (slice, ndarray or None)
        Row blocks holding complete rows, with the block-local indices of those
        rows (None when every row of the block is complete).
    missing_units : list of (int, ndarray)
        Groups of incomplete rows: a pattern index into ``observed`` (or -1 for
        'diag'/'spherical', where rows of any pattern are mixed) and the rows.
    observed : ndarray of shape (n_patterns, n_features), bool
        The observed coordinates of each pattern.
    empty_rows : ndarray of int
        Rows with no observed value.
    """

    n_samples: int
    complete_units: list
    missing_units: list
    observed: np.ndarray
    empty_rows: np.ndarray

    @classmethod
    def from_data(cls, X, model: CovarianceModel, block_size: int) -> MissingLayout:
        """Find the missing entries of ``X`` and group its incomplete rows."""
        n_samples, n_features = X.shape
        complete_units = []
        incomplete = []
        for start in range(0, n_samples, block_size):
            block = slice(start, min(start + block_size, n_samples))
            row_missing = np.isnan(X[block]).any(axis=1)
            if not row_missing.any():
                complete_units.append((block, None))
                continue
            local = np.flatnonzero(~row_missing)
            if local.size:
                complete_units.append((block, local))
            incomplete.append(start + np.flatnonzero(row_missing))
        rows = np.concatenate(incomplete) if incomplete else np.empty(0, np.intp)
        observed_rows = ~np.isnan(X[rows])
        nonempty = observed_rows.any(axis=1)
        empty_rows = rows[~nonempty]
        rows, observed_rows = rows[nonempty], observed_rows[nonempty]

        missing_units = []
        if _uses_patterns(model) and rows.size:
            observed, inverse = np.unique(observed_rows, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(observed) + 1))
            for pattern in range(len(observed)):
                group = rows[order[bounds[pattern] : bounds[pattern + 1]]]
                for start in range(0, group.size, block_size):
                    missing_units.append((pattern, group[start : start + block_size]))
        else:
            observed = np.ones((0, n_features), dtype=bool)
            for start in range(0, rows.size, block_size):
                missing_units.append((-1, rows[start : start + block_size]))
        return cls(n_samples, complete_units, missing_units, observed, empty_rows)

    @property
    def n_nonempty(self) -> int:
        """Number of rows with at least one observed value."""
        return self.n_samples - self.empty_rows.size

    def initialisation_data(self, X, sample_weight):
        """Data for the initialisers (see :func:`initialisation_data`)."""
        return initialisation_data(X, sample_weight, self.empty_rows)


def initialisation_data(X, sample_weight, empty_rows=None):
    """Data for the initialisers: ``X`` with NaN replaced by column means.

    Initialisers (k-means and friends) need complete data; the column means
    of the observed values are a neutral fill, and the EM iterations that
    follow use the exact missing-data likelihood.  Rows with no observed
    value (``empty_rows``, found if None) get weight 0, so they do not move
    the starting point.
    """
    if empty_rows is None:
        empty_rows = np.flatnonzero(np.isnan(X).all(axis=1)) if X.shape[1] else np.array([], dtype=np.intp)
    column_means = np.nanmean(X, axis=0) if X.shape[0] else np.zeros(X.shape[1])
    X_filled = np.where(np.isnan(X), column_means.astype(X.dtype), X)
    if empty_rows.size:
        sample_weight = np.ones(len(X), dtype=X.dtype) if sample_weight is None else sample_weight.copy()
        sample_weight[empty_rows] = 0
    return X_filled, sample_weight


def check_missing_layout(layout: MissingLayout, X, n_components: int) -> None:
    """Raise ValueError if the missing values leave too little to fit."""
    if layout.n_nonempty < n_components:
        raise ValueError(
            f"Only {layout.n_nonempty} samples have an observed value but "
            f"n_components = {n_components}: rows whose values are all missing (NaN) "
            "carry no information. Drop them or decrease n_components."
        )
    check_observed_features(X)


def check_observed_features(X) -> None:
    """Raise ValueError if a feature has no observed value."""
    unobserved = np.flatnonzero([np.isnan(X[:, j]).all() for j in range(X.shape[1])] if X.shape[0] else [])
    if unobserved.size:
        raise ValueError(
            f"Features {unobserved.tolist()} have no observed value (all NaN): their "
            "distribution cannot be estimated. Drop these columns."
        )


class PatternKernel(NamedTuple):
    """Conditional Gaussians of one missingness pattern, for every component."""

    observed: np.ndarray  # (n_observed,) indices
    missing: np.ndarray  # (n_missing,) indices
    whiten_t: FloatArray  # (K, n_observed, n_observed): (x_o - mu_o) @ whiten_t whitens
    constant: FloatArray  # (K,): log-normaliser of the observed marginal
    gain: FloatArray  # (K, n_observed, n_missing): x_m - mu_m = y @ gain (y whitened)
    conditional_covariance: FloatArray  # (K, n_missing, n_missing)


class MissingKernel(NamedTuple):
    """Everything one pass over incomplete data needs, derived once from parameters."""

    model: CovarianceModel
    engine: PassKernel  # the engine's kernel, for complete rows
    means: FloatArray  # (K, n_features), float64
    log_weights: FloatArray  # (K,)
    variances: FloatArray | None  # (K, n_features) for 'diag'/'spherical'
    patterns: list  # PatternKernel per pattern, for 'full'/'tied'


def full_covariances(model: CovarianceModel, params: MixtureParams, n_components: int) -> FloatArray:
    """Covariances of every component as a (K, d, d) float64 stack."""
    covariances = params.covariances
    if covariances is None:
        covariances = model.covariances_from_precisions_cholesky(
            np.asarray(params.precisions_cholesky, np.float64)
        )
    covariances = np.asarray(covariances, np.float64)
    if model.name == "tied":
        return np.broadcast_to(covariances, (n_components, *covariances.shape))
    if model.name == "full":
        return covariances
    n_features = np.asarray(params.means).shape[1]
    variances = np.broadcast_to(covariances.reshape(n_components, -1), (n_components, n_features))
    return variances[:, :, None] * np.eye(n_features)


def pattern_kernel(covariances: FloatArray, observed_mask) -> PatternKernel:
    """Marginal and conditional Gaussians of one pattern from full covariances."""
    observed = np.flatnonzero(observed_mask)
    missing = np.flatnonzero(~np.asarray(observed_mask))
    cov_oo = covariances[:, observed[:, None], observed]
    cov_om = covariances[:, observed[:, None], missing]
    cov_mm = covariances[:, missing[:, None], missing]
    # Batched numpy calls: scipy's per-matrix LAPACK calls cost milliseconds
    # each on a busy machine (BLAS thread wake-ups) for these tiny matrices.
    chol = np.linalg.cholesky(cov_oo)
    whiten_t = np.linalg.inv(chol).transpose(0, 2, 1)
    constant = -np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1) - 0.5 * observed.size * LOG_2PI
    gain = np.matmul(whiten_t.transpose(0, 2, 1), cov_om)  # L^-1 Sigma_om
    conditional = cov_mm - np.matmul(gain.transpose(0, 2, 1), gain)
    conditional = 0.5 * (conditional + conditional.transpose(0, 2, 1))
    return PatternKernel(observed, missing, whiten_t, constant, gain, conditional)


def prepare_missing_pass(model: CovarianceModel, params: MixtureParams, dtype, observed) -> MissingKernel:
    """Derive the kernel of ``params`` for the patterns ``observed`` (n_patterns, n_features)."""
    means = np.asarray(params.means, np.float64)
    n_components = means.shape[0]
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(params.weights, np.float64))
    variances, patterns = None, []
    if _uses_patterns(model):
        covariances = full_covariances(model, params, n_components)
        patterns = [pattern_kernel(covariances, mask) for mask in observed]
    else:
        variances = params.covariances
        if variances is None:
            variances = 1.0 / model.compute_precisions(np.asarray(params.precisions_cholesky, np.float64))
        variances = np.asarray(variances, np.float64).reshape(n_components, -1)
        variances = np.broadcast_to(variances, means.shape)
    return MissingKernel(model, prepare_pass(model, params, dtype), means, log_weights, variances, patterns)


# -- per-unit kernels -------------------------------------------------------
def pattern_log_prob(mk: MissingKernel, pattern: PatternKernel, X_rows):
    """Weighted log-densities (n, K) of rows sharing ``pattern``, and the whitened rows."""
    X_obs = np.asarray(X_rows[:, pattern.observed], np.float64)
    diff = X_obs[None] - mk.means[:, None, pattern.observed]  # (K, n, n_observed)
    whitened = np.matmul(diff, pattern.whiten_t)
    log_prob = -0.5 * np.einsum("knd,knd->nk", whitened, whitened)
    log_prob += pattern.constant + mk.log_weights
    return log_prob, (diff, whitened)


def _diagonal_log_prob(mk: MissingKernel, X_rows):
    """Weighted log-densities (n, K) of rows with any pattern, diagonal covariances."""
    X_rows = np.asarray(X_rows, np.float64)
    observed = ~np.isnan(X_rows)
    diff = np.where(observed[None], X_rows[None] - mk.means[:, None, :], 0.0)  # (K, n, d)
    precisions = 1.0 / mk.variances
    log_prob = -0.5 * np.einsum("knd,kd->nk", diff * diff, precisions)
    log_prob -= 0.5 * observed.astype(np.float64) @ (LOG_2PI + np.log(mk.variances)).T
    log_prob += mk.log_weights
    return log_prob, (diff, observed)


def unit_log_prob(mk: MissingKernel, pattern_index: int, X_rows):
    """Weighted log-densities of one group of incomplete rows."""
    if pattern_index < 0:
        return _diagonal_log_prob(mk, X_rows)
    return pattern_log_prob(mk, mk.patterns[pattern_index], X_rows)


def _pattern_stats(mk, pattern, cache, wresp):
    diff, whitened = cache
    n_components, n_rows, _ = diff.shape
    n_features = mk.means.shape[1]
    residual = np.empty((n_components, n_rows, n_features))
    residual[:, :, pattern.observed] = diff
    residual[:, :, pattern.missing] = np.matmul(whitened, pattern.gain)
    wresp_t = np.ascontiguousarray(wresp.T)
    weighted = residual * wresp_t[:, :, None]
    resp_x_sum = weighted.sum(axis=1)
    scatter = np.matmul(weighted.transpose(0, 2, 1), residual)
    resp_sum = wresp_t.sum(axis=1)
    missing = pattern.missing
    scatter[:, missing[:, None], missing] += resp_sum[:, None, None] * pattern.conditional_covariance
    if mk.model.scatter_kind == "tied":
        scatter = scatter.sum(axis=0)
    return resp_x_sum, scatter


def _diagonal_stats(mk, cache, wresp):
    diff, observed = cache
    resp_x_sum = np.einsum("nk,knd->kd", wresp, diff)
    scatter = np.einsum("nk,knd->kd", wresp, diff * diff)
    scatter += (wresp.T @ (~observed).astype(np.float64)) * mk.variances
    return resp_x_sum, scatter


def missing_unit_stats(mk: MissingKernel, unit, X, sample_weight) -> SufficientStats:
    """E-step and centred statistics of one group of incomplete rows."""
    pattern_index, rows = unit
    log_prob, cache = unit_log_prob(mk, pattern_index, X[rows])
    log_prob_norm, log_resp = log_normalise_rows(log_prob)
    wresp = exp_above_floor(log_resp, out=log_resp)
    if sample_weight is None:
        log_likelihood, weight_sum = float(log_prob_norm.sum()), float(rows.size)
    else:
        weights = np.asarray(sample_weight[rows], np.float64)
        wresp *= weights[:, None]
        log_likelihood, weight_sum = float(weights @ log_prob_norm), float(weights.sum())
    if pattern_index < 0:
        resp_x_sum, scatter = _diagonal_stats(mk, cache, wresp)
    else:
        resp_x_sum, scatter = _pattern_stats(mk, mk.patterns[pattern_index], cache, wresp)
    return SufficientStats(
        resp_sum=wresp.sum(axis=0),
        resp_x_sum=resp_x_sum,
        scatter=scatter,
        shift=mk.means,
        log_likelihood=log_likelihood,
        weight_sum=weight_sum,
        scatter_kind=mk.model.scatter_kind,
    )


def _complete_rows(X, unit):
    block, local = unit
    return X[block] if local is None else X[block][local]


def _complete_weights(sample_weight, unit):
    if sample_weight is None:
        return None
    block, local = unit
    return sample_weight[block] if local is None else sample_weight[block][local]


# -- drivers ----------------------------------------------------------------
_CONTROLLER = None


def single_threaded_blas():
    """A BLAS limit of one thread, from a controller built once per process.

    The per-pattern factorisations and products are tiny: BLAS threads only
    add wake-up latency (milliseconds per call on a busy machine), and a new
    ``threadpool_limits`` would scan the loaded libraries on every pass.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def map_units(n_units, unit_fn, n_threads):
    """``unit_fn(i)`` for every unit, in contiguous groups on threads; results in unit order."""
    n_threads = max(1, min(n_threads, n_units))
    bounds = np.linspace(0, n_units, n_threads + 1).round().astype(int)
    groups = [range(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def run(group):
        return [unit_fn(index) for index in group]

    if len(groups) <= 1:
        return [result for group in groups for result in run(group)]
    with ThreadPoolExecutor(len(groups)) as executor:
        return [result for results in executor.map(run, groups) for result in results]


def fit_pass(runner, X, sample_weight, model, params, layout: MissingLayout | None) -> SufficientStats:
    """One EM pass over ``X``: the engine's pass, or the exact missing-data pass.

    With ``layout`` None (no NaN in ``X``) this *is* :func:`skgmm._drivers.em_pass`.
    Otherwise complete rows go through the engine's kernel block by block,
    incomplete rows through the pattern kernels, and the statistics of all
    groups are merged in a fixed order.
    """
    if layout is None:
        return em_pass(runner, X, sample_weight, prepare_pass(model, params, X.dtype))
    n_complete = len(layout.complete_units)
    units = layout.complete_units + layout.missing_units

    def run(index):
        if index < n_complete:
            unit = units[index]
            return block_em_stats(mk.engine, _complete_rows(X, unit), _complete_weights(sample_weight, unit))
        return missing_unit_stats(mk, units[index], X, sample_weight)

    with single_threaded_blas():
        mk = prepare_missing_pass(model, params, X.dtype, layout.observed)
        results = map_units(len(units), run, runner.n_threads)
    # Merged in unit order, so the result does not depend on the threads.
    total = results[0]
    for result in results[1:]:
        total = merge_stats(total, result)
    return total


def log_prob_resp(runner, X, model, params, layout: MissingLayout | None, want="log_resp"):
    """Per-row log-likelihood and, as asked, log-responsibilities or labels.

    Same contract as :func:`skgmm._drivers.estimate_log_prob_resp`, which it
    calls when ``layout`` is None; rows with NaN use their observed marginal
    density, and rows with no observed value have log-likelihood 0 and the
    mixture weights as responsibilities.
    """
    if layout is None:
        return estimate_log_prob_resp(runner, X, prepare_pass(model, params, X.dtype), want=want)
    n_complete = len(layout.complete_units)
    units = layout.complete_units + layout.missing_units

    def run(index):
        unit = units[index]
        if index < n_complete:
            log_prob, _, _ = estimate_weighted_log_prob(mk.engine, _complete_rows(X, unit))
            rows = unit[0] if unit[1] is None else unit[0].start + unit[1]
            weighted[rows] = log_prob
        else:
            weighted[unit[1]] = unit_log_prob(mk, unit[0], X[unit[1]])[0]

    with single_threaded_blas():
        mk = prepare_missing_pass(model, params, X.dtype, layout.observed)
        weighted = np.empty((X.shape[0], mk.means.shape[0]), dtype=np.float64)
        weighted[layout.empty_rows] = mk.log_weights
        map_units(len(units), run, runner.n_threads)
    labels = weighted.argmax(axis=1) if want == "labels" else None
    extra = weighted.astype(X.dtype) if want == "weighted_log_prob" else None
    log_prob_norm, log_resp = log_normalise_rows(weighted)
    if want == "labels":
        extra = labels
    elif want == "log_resp":
        extra = log_resp.astype(X.dtype, copy=False)
    return log_prob_norm.astype(X.dtype, copy=False), extra


def missing_layout(X, model: CovarianceModel, block_size: int) -> MissingLayout | None:
    """The layout of ``X``'s missing values, or None when it has none."""
    if not has_missing(X):
        return None
    return MissingLayout.from_data(X, model, block_size)


def conditional_moments(mk: MissingKernel, pattern: PatternKernel, X_rows):
    """Per-component conditional means of the missing coordinates.

    Returns
    -------
    log_prob : ndarray of shape (n_rows, n_components)
        Weighted log-densities of the observed coordinates.
    means : ndarray of shape (n_components, n_rows, n_missing)
        ``E[x_m | x_o, k]``.
    """
    log_prob, (_, whitened) = pattern_log_prob(mk, pattern, X_rows)
    means = mk.means[:, None, pattern.missing] + np.matmul(whitened, pattern.gain)
    return log_prob, means

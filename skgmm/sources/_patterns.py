"""Missing-data E and M steps: conditional Gaussians of each missingness pattern.

The maths of :mod:`skgmm.sources.missing` (Ghahramani & Jordan 1994): for a
row with observed coordinates ``o`` the E-step uses the marginal density
``N(x_o | mu_o, Sigma_oo)``, and the statistics replace the missing coordinates
by their conditional expectation ``mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o)``
and add the conditional covariance ``Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om``
to the component's scatter.  Sums are centred on the component means, as the
engine's are.  Pure functions over one group of rows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from skgmm._typing import FloatArray
from skgmm.covariance import CovarianceModel
from skgmm.engine.logsumexp import normalise
from skgmm.engine.mstep import MixtureParams
from skgmm.engine.stats import SufficientStats

LOG_2PI = math.log(2 * math.pi)


def uses_patterns(model: CovarianceModel) -> bool:
    """Whether rows must be grouped by pattern ('full', 'tied'), or mix freely (diagonal)."""
    return model.scatter_kind in ("full", "tied")


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
    means: FloatArray  # (K, n_features), float64
    log_weights: FloatArray  # (K,)
    variances: FloatArray | None  # (K, n_features) for 'diag'/'spherical'
    patterns: list  # PatternKernel per pattern, for 'full'/'tied'


def _covariances(model: CovarianceModel, params: MixtureParams):
    """The covariances of ``params`` in the model's layout, from the precisions if not given."""
    if params.covariances is not None:
        return params.covariances
    return model.covariances_from_precisions_cholesky(np.asarray(params.precisions_cholesky, np.float64))


def dense_covariances(model: CovarianceModel, params: MixtureParams) -> FloatArray:
    """Covariances of every component as a (K, d, d) float64 stack."""
    n_components, n_features = np.shape(params.means)
    return model.dense_covariances(_covariances(model, params), n_components, n_features)


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


def prepare_missing_pass(model: CovarianceModel, params: MixtureParams, observed) -> MissingKernel:
    """Derive the kernel of ``params`` for the patterns ``observed`` (n_patterns, n_features)."""
    if getattr(params, "log_weights", None) is not None:
        # Explicit E-step terms (a variational fit) are those of complete rows:
        # the marginal of the observed coordinates would need other constants.
        raise ValueError(
            "Input X contains NaN. Missing values are not supported by a variational "
            "(Bayesian) fit; impute them, or drop the rows."
        )
    means = np.asarray(params.means, np.float64)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(params.weights, np.float64))
    variances, patterns = None, []
    if uses_patterns(model):
        covariances = dense_covariances(model, params)
        patterns = [pattern_kernel(covariances, mask) for mask in observed]
    else:
        # diagonal covariances, in whatever layout the model keeps them
        variances = model.component_variances(_covariances(model, params), *means.shape)
    return MissingKernel(model, means, log_weights, variances, patterns)


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
    weights = None if sample_weight is None else np.asarray(sample_weight[rows], np.float64)
    log_prob_norm = normalise(log_prob, 1, responsibilities=True, sample_weight=weights)
    wresp = log_prob
    if weights is None:
        log_likelihood, weight_sum = float(log_prob_norm.sum()), float(rows.size)
    else:
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
        n_rows=rows.size,
    )

"""Parameters of a mixture, the per-pass kernel, and the M-step over sufficient statistics.

Pure functions: no state, no printing.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from skgmm._typing import FloatArray
from skgmm.covariance import CovarianceModel, Kernel
from skgmm.engine.stats import SufficientStats


@functools.lru_cache(maxsize=8)
def _eps(dtype) -> float:
    """Machine epsilon of ``dtype`` (``np.finfo`` costs a microsecond, every M-step asks)."""
    return float(np.finfo(dtype).eps)


class MixtureParams(NamedTuple):
    """Parameters of a Gaussian mixture, in scikit-learn's layout."""

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray | None
    precisions_cholesky: FloatArray
    #: What an iterative M-step ended with (mclust's volumes, shapes and
    #: orientations), which the next one continues from, as mclust's ``me``
    #: does; None when the parameters did not come from an M-step of their
    #: strategy (a start, a re-seed, a user's), which then decomposes them.
    m_step_state: object = None


class PassKernel(NamedTuple):
    """Everything one pass over the data needs, derived once from parameters."""

    model: CovarianceModel
    kernel: Kernel
    origin: FloatArray  # (n_features,), subtracted from every row
    log_weights: FloatArray  # (n_components,)


def compute_origin(params: MixtureParams) -> FloatArray:
    """Mixture mean ``sum_k w_k mu_k``: the centre for a pass's arithmetic."""
    weights = np.asarray(params.weights, dtype=np.float64)
    return weights @ np.asarray(params.means, np.float64) / weights.sum()


def prepare_pass(model: CovarianceModel, params: MixtureParams, dtype, origin=None) -> PassKernel:
    """Derive the per-pass kernel of ``params`` for blocks of ``dtype``.

    ``origin`` is the point every row is centred on before the products (the
    data's mean, which a fitting source knows); by default the mixture mean of
    ``params``.  The expanded quadratic forms and raw sums of 'tied', 'diag'
    and 'spherical' lose about ``eps * |x - origin|^2``, so it must lie inside
    the data even when a start does not (``means_init`` far away).

    Parameters with a ``log_weights`` attribute (not None) give the additive
    per-component term of the E-step explicitly, and their ``weights`` only
    centre the pass: a variational fit (:class:`skgmm._bayesian.BayesianState`)
    passes its expected log-weights and Wishart constants so.  Otherwise the
    term is ``log(weights)``.
    """
    origin = compute_origin(params) if origin is None else np.asarray(origin, np.float64)
    means_c = np.asarray(params.means, np.float64) - origin
    explicit = getattr(params, "log_weights", None)
    if explicit is not None:
        log_weights = np.asarray(explicit, np.float64)
    else:
        weights = np.asarray(params.weights, np.float64)
        if np.minimum.reduce(weights) > 0:  # an errstate context costs more than the test
            log_weights = np.log(weights)
        else:
            with np.errstate(divide="ignore"):
                log_weights = np.log(weights)
    return PassKernel(
        model=model,
        kernel=model.prepare(means_c, params.precisions_cholesky, dtype),
        origin=origin.astype(dtype, copy=False),
        log_weights=log_weights.astype(dtype, copy=False),
    )


def estimate_parameters(
    stats: SufficientStats,
    model: CovarianceModel,
    reg_covar: float,
    dtype,
    weight_total: float | None = None,
    previous: MixtureParams | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weights, means and covariances (float64) from centred statistics.

    The mixture weights are ``nk / weight_total``, by default normalised to sum
    to one; initialisation divides by the total row weight as scikit-learn
    divides by ``n_samples`` (which matters when few rows carry responsibility).
    ``previous``, the parameters the statistics were computed under, warm-starts
    the M-steps that iterate (``model.warm_m_step``); the others ignore it.
    """
    # Empty components keep a tiny positive mass, as in scikit-learn, whose
    # 10 eps is a margin for rows of weight 1: here it is 10 eps of a row's
    # weight, so that scaling every weight by c scales nk by c exactly.
    return _estimate(stats, model, reg_covar, dtype, weight_total, previous)[:3]


def _estimate(stats, model, reg_covar, dtype, weight_total=None, previous=None):
    """:func:`estimate_parameters` and the M-step's state (see :attr:`MixtureParams.m_step_state`)."""
    nk = stats.resp_sum + 10 * _eps(dtype) * stats.row_weight
    weights = nk / (np.add.reduce(nk) if weight_total is None else weight_total)
    means = stats.shift + stats.resp_x_sum / nk[:, None]
    covariances, state = model.estimate_covariances_and_state(stats, nk, reg_covar, previous)
    return weights, means, covariances, state


def m_step(
    stats: SufficientStats,
    model: CovarianceModel,
    reg_covar: float,
    dtype,
    previous: MixtureParams | None = None,
) -> MixtureParams:
    """Maximisation step: parameters from centred sufficient statistics.

    ``previous`` (the parameters of the E-step) warm-starts iterative M-steps.

    Raises
    ------
    ValueError
        If a covariance is not positive definite (collapsed component with
        ``reg_covar`` too small); the message says what to change.
    """
    weights, means, covariances, state = _estimate(stats, model, reg_covar, dtype, previous=previous)
    # The estimates are new arrays: float64 ones are kept as they are.
    covariances = covariances.astype(dtype, copy=False)
    return MixtureParams(
        weights=weights.astype(dtype, copy=False),
        means=means.astype(dtype, copy=False),
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky_of(covariances, state).astype(dtype, copy=False),
        m_step_state=state,
    )


def mean_log_likelihood(stats: SufficientStats) -> float:
    """Weighted mean log-likelihood per sample: the EM lower bound."""
    return stats.log_likelihood / stats.weight_sum

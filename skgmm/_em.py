"""Pure EM steps over sufficient statistics (no state, no printing)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skgmm._covariance import CovarianceModel, Kernel
from skgmm._stats import SufficientStats
from skgmm._typing import FloatArray


class MixtureParams(NamedTuple):
    """Parameters of a Gaussian mixture, in scikit-learn's layout."""

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray | None
    precisions_cholesky: FloatArray


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


def prepare_pass(model: CovarianceModel, params: MixtureParams, dtype) -> PassKernel:
    """Derive the per-pass kernel of ``params`` for blocks of ``dtype``."""
    origin = compute_origin(params)
    means_c = np.asarray(params.means, np.float64) - origin
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(params.weights, np.float64))
    return PassKernel(
        model=model,
        kernel=model.prepare(means_c, params.precisions_cholesky, dtype),
        origin=origin.astype(dtype),
        log_weights=log_weights.astype(dtype),
    )


def estimate_weighted_log_prob(pk: PassKernel, X_block):
    """``log p(x | k) + log w_k`` of a block of shape (n_rows, n_components).

    Also returns the strategy's cache and the centred block, for the statistics.
    """
    Xc = X_block - pk.origin
    log_prob, cache = pk.model.log_prob(pk.kernel, Xc)
    log_prob += pk.log_weights
    return log_prob, cache, Xc


def _accumulate(pk: PassKernel, X, sample_weight, blocks, block_sums, work=None) -> SufficientStats:
    """Sum ``block_sums(X_block, weights, work)`` over blocks; centred statistics.

    ``block_sums`` returns ``(log_likelihood, resp_sum, raw_x_sum,
    raw_scatter)``; the blocks share scratch buffers (``work``) and float64
    running sums, and the strategy maps raw sums to centred statistics once.
    """
    work = {} if work is None else work
    log_likelihood, weight_sum = 0.0, 0.0
    totals = None
    for block in blocks:
        X_block = X[block]
        weights = None if sample_weight is None else sample_weight[block]
        block_ll, *sums = block_sums(block, X_block, weights, work)
        log_likelihood += block_ll
        weight_sum += float(len(X_block) if weights is None else weights.sum(dtype=np.float64))
        if totals is None:
            totals = [np.array(a, dtype=np.float64) for a in sums]
        else:
            for total, value in zip(totals, sums):
                total += value
    resp_x_sum, scatter = pk.model.finish_sums(pk.kernel, totals[1], totals[2])
    return SufficientStats(
        resp_sum=totals[0],
        resp_x_sum=resp_x_sum,
        scatter=scatter,
        shift=pk.kernel.means_c.astype(np.float64) + pk.origin.astype(np.float64),
        log_likelihood=log_likelihood,
        weight_sum=weight_sum,
        scatter_kind=pk.model.scatter_kind,
    )


def group_em_stats(pk: PassKernel, X, sample_weight, blocks, work=None) -> SufficientStats:
    """Fused E-step and M-step statistics of a run of row blocks of ``X``.

    ``work`` (a dict) holds scratch buffers that one thread reuses across
    blocks, and across passes when the caller keeps it.
    """

    def block_sums(block, X_block, weights, work):
        return pk.model.em_block_sums(pk.kernel, X_block, pk.origin, pk.log_weights, weights, work)

    return _accumulate(pk, X, sample_weight, blocks, block_sums, work)


def group_resp_stats(pk: PassKernel, X, sample_weight, blocks, resp_of_block, work=None) -> SufficientStats:
    """Statistics of a run of row blocks for given responsibilities.

    ``resp_of_block(block)`` gives the dense responsibilities of a block.
    """

    def block_sums(block, X_block, weights, work):
        wresp = np.asarray(resp_of_block(block), X_block.dtype)
        if weights is not None:
            wresp = wresp * weights[:, None]
        raw = pk.model.resp_block_sums(pk.kernel, X_block, pk.origin, wresp, weights, work)
        return (0.0, wresp.sum(axis=0, dtype=np.float64), *raw)

    return _accumulate(pk, X, sample_weight, blocks, block_sums, work)


def block_em_stats(pk: PassKernel, X_block, sample_weight) -> SufficientStats:
    """Fused E-step and M-step statistics of one block of rows."""
    return group_em_stats(pk, X_block, sample_weight, [slice(None)])


def block_resp_stats(pk: PassKernel, X_block, resp, sample_weight) -> SufficientStats:
    """Statistics of one block for given responsibilities (initialisation)."""
    return group_resp_stats(pk, X_block, sample_weight, [slice(None)], lambda block: resp)


def estimate_parameters(
    stats: SufficientStats,
    model: CovarianceModel,
    reg_covar: float,
    dtype,
    weight_total: float | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weights, means and covariances (float64) from centred statistics.

    The mixture weights are ``nk / weight_total``, by default normalised to sum
    to one; initialisation divides by the total row weight as scikit-learn
    divides by ``n_samples`` (which matters when few rows carry responsibility).
    """
    # Empty components keep a tiny positive mass, as in scikit-learn.
    nk = stats.resp_sum + 10 * np.finfo(dtype).eps
    weights = nk / (nk.sum() if weight_total is None else weight_total)
    means = stats.shift + stats.resp_x_sum / nk[:, None]
    return weights, means, model.estimate_covariances(stats, nk, reg_covar)


def m_step(
    stats: SufficientStats, model: CovarianceModel, reg_covar: float, dtype
) -> MixtureParams:
    """Maximisation step: parameters from centred sufficient statistics.

    Raises
    ------
    ValueError
        If a covariance is not positive definite (collapsed component with
        ``reg_covar`` too small); the message says what to change.
    """
    weights, means, covariances = estimate_parameters(stats, model, reg_covar, dtype)
    covariances = covariances.astype(dtype)
    return MixtureParams(
        weights=weights.astype(dtype),
        means=means.astype(dtype),
        covariances=covariances,
        precisions_cholesky=model.compute_precisions_cholesky(covariances).astype(dtype),
    )


def mean_log_likelihood(stats: SufficientStats) -> float:
    """Weighted mean log-likelihood per sample: the EM lower bound."""
    return stats.log_likelihood / stats.weight_sum

"""The fused row kernel: a block's whole E-step and centred sums in one compiled call.

On data with few features the arithmetic of a pass is small and the numpy
calls around it are not: whitening slices, a log-sum-exp, sums in whitened
coordinates mapped back, a few dozen calls of microseconds each per
iteration.  With the compiled kernels, the strategies prepare a
:class:`FusedKernel` instead (:func:`fused_kernel`), and one call of
``skgmm/_ckernels/fused_impl.h`` gives the log-likelihood of the block and
the sums of ``r``, ``r (x - mu_k)`` and ``r (x - mu_k)(x - mu_k)^T`` centred on
each component's mean, reduced as the strategy's ``scatter_kind`` says.  It
computes in float64 whatever the rows' type.

The strategies' ``prepare`` decide; :class:`~skgmm.covariance.base.CovarianceModel`
routes a fused kernel's blocks here (``em_block_sums``,
``weighted_log_prob_block``, ``resp_sums``, ``statistics``), so the engine
and the sources do not know which kernel runs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skgmm._typing import FloatArray
from skgmm.covariance.kernels import compiled_kernels
from skgmm.engine.logsumexp import exp_floor

#: Up to this many features, strategies with full precision factors ('full',
#: 'tied', mclust's models) run the fused kernel; above, their whitening
#: products and tiled scatter kernels, whose BLAS products win there, but for
#: float64 data with a full scatter (below).  Diagonal precisions ('diag',
#: 'spherical', EII ... EVI) run it at any width.
FUSED_MAX_FEATURES = 8
#: float64 data and a per-component ('full') scatter run the fused kernel at any
#: width: its register tiles (``fused_wide.h``) beat the whitening products, a
#: pass 1.6x faster at d=16 (100k rows, K=8 and 500k, K=16), 1.4x at d=24,
#: 1.25x at d=32, 1.1x at d=64 (2 cores, AVX-512).  Not 'tied' (one whitening
#: product for all components: 0.86x at d=16) nor float32 data (its products
#: are float32, the kernel float64: 1.2x at 100k x 16, K=8, 0.9x at 500k, K=16).
_ANY_WIDTH_DTYPE = np.dtype(np.float64)

_LOG_2PI = float(np.log(2 * np.pi))
#: The kernel's modes: E-step and sums, sums of given responsibilities, log-densities only,
#: each row's label and largest term, each row's log-likelihood.
EM, GIVEN, LOG_PROB, LABELS, ROW_LOG_LIKELIHOOD = 0, 1, 2, 3, 4


class FusedKernel(NamedTuple):
    """What the fused kernel needs of a pass's parameters (float64)."""

    precision: FloatArray  # (K, d, d) upper-triangular factors, or their diagonals (K, d); the
    # kernel takes the log-determinants from their diagonals
    scatter_kind: str  # 'full', 'diag' or 'tied'


def _kernels_for(n_features, any_width=False):
    """The compiled kernels where the fused ones run for ``n_features`` (any number with ``any_width``), else None."""
    return compiled_kernels() if any_width or n_features <= FUSED_MAX_FEATURES else None


def fused_kernel(scatter_kind, precision, n_features, diagonal, dtype):
    """A :class:`FusedKernel`, or None where the fused kernel does not run.

    ``precision`` is the (K, d, d) upper-triangular factors, or with
    ``diagonal`` their diagonals (K, d); ``dtype`` is the rows' type.
    """
    any_width = diagonal or (scatter_kind == "full" and np.dtype(dtype) == _ANY_WIDTH_DTYPE)
    if _kernels_for(n_features, any_width=any_width) is None:
        return None
    if not (precision.dtype == np.float64 and precision.flags.c_contiguous):
        precision = np.ascontiguousarray(precision, dtype=np.float64)
    return FusedKernel(precision, scatter_kind)


def precision_factors(covariances):
    """``(factors, failed)`` of :func:`~skgmm.covariance.kernels._compiled.precision_factors`,
    or None where the fused kernels do not run (no compiled kernels, many features, not float64)."""
    if covariances.dtype != np.float64 or covariances.ndim != 3:
        return None
    kernels = _kernels_for(covariances.shape[-1])
    return None if kernels is None else kernels.precision_factors(covariances)


def centred_scatter(stats, nk, divisor=None, reg=0.0):
    """:func:`~skgmm.covariance.kernels._compiled.centred_scatter` of 'full' or 'tied' statistics,
    or None where the fused kernels do not run (no compiled kernels, many features)."""
    kernels = _kernels_for(stats.resp_x_sum.shape[1])
    if kernels is None:
        return None
    return kernels.centred_scatter(stats.resp_sum, stats.resp_x_sum, stats.scatter, nk, divisor, reg)


def _run(
    fused: FusedKernel,
    means_c,
    X_block,
    origin,
    log_weights,
    weights,
    mode,
    resp=None,
    rows_out=None,
    labels=None,
):
    """The kernel's output ``[log-likelihood, resp_sum, x_sum, scatter]``; ``resp``, ``rows_out`` and
    ``labels`` as ``fused_rows``'s."""
    n_components = means_c.shape[0]
    constant = np.zeros(n_components) if log_weights is None else log_weights
    diagonal = fused.precision.ndim == 2
    parameters = np.concatenate(
        (origin, means_c.ravel(), fused.precision.ravel(), constant), dtype=np.float64
    )
    floor = exp_floor(X_block.dtype)
    kernels = compiled_kernels()
    if kernels is None:
        # A kernel prepared where the C kernels run may be used where they do not
        # (a Dask worker installed without a compiler): the same sums in numpy.
        return _numpy_rows(
            X_block, weights, origin, means_c, fused, constant, mode, floor, resp, rows_out, labels
        )
    return kernels.fused_rows(
        X_block, weights, parameters, n_components, diagonal, fused.scatter_kind == "diag", mode, floor, resp,
        rows_out, labels,
    )  # fmt: skip


def _numpy_rows(X, weights, origin, means, fused, constant, mode, floor, resp, rows_out=None, labels=None):
    """What ``fused_rows`` computes, in numpy (float64).

    As quietly as the C: non-finite parameters give infinities and NaNs
    (``inf * 0`` in an impossible row), which the callers' checks report.
    """
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _numpy_rows_quiet(
            X, weights, origin, means, fused, constant, mode, floor, resp, rows_out, labels
        )


def _numpy_rows_quiet(X, weights, origin, means, fused, constant, mode, floor, resp, rows_out, labels):
    n_components, n_features = means.shape
    precision, diagonal_scatter = fused.precision, fused.scatter_kind == "diag"
    diagonals = precision if precision.ndim == 2 else np.diagonal(precision, axis1=1, axis2=2)
    constant = np.asarray(constant, np.float64) + np.log(diagonals).sum(axis=1) - 0.5 * n_features * _LOG_2PI
    diff = (np.asarray(X, np.float64) - np.asarray(origin, np.float64))[:, None, :] - means  # (n, K, d)
    if mode != GIVEN:
        if precision.ndim == 2:
            white = diff * precision
        else:
            white = np.einsum("nki,kij->nkj", diff, precision)
        log_prob = constant - 0.5 * np.einsum("nkj,nkj->nk", white, white)
        unwritten = np.zeros(
            1 + n_components * (1 + n_features + n_features * (1 if diagonal_scatter else n_features))
        )
        if mode == LOG_PROB:
            resp[...] = log_prob
            return unwritten
        if mode == LABELS:
            labels[...] = log_prob.argmax(axis=1)
            rows_out[...] = np.take_along_axis(log_prob, labels[:, None], axis=1)[:, 0]
            return unwritten
        peak = log_prob.max(axis=1)
        impossible = peak == -np.inf
        peak[~np.isfinite(peak)] = 0
        terms = np.exp(np.maximum(log_prob - peak[:, None], floor))
        norm = terms.sum(axis=1)
        row_weights = np.ones(len(X)) if weights is None else np.asarray(weights, np.float64)
        rows = np.where(impossible, -np.inf, peak + np.log(norm))
        log_likelihood = float(row_weights @ rows)
        if mode == ROW_LOG_LIKELIHOOD:
            rows_out[...] = rows
            unwritten[0] = log_likelihood
            return unwritten
        r = terms * (row_weights / norm)[:, None]
    else:
        log_likelihood, r = 0.0, np.asarray(resp, np.float64)
    x_sum = np.einsum("nk,nki->ki", r, diff)
    if diagonal_scatter:
        scatter = np.einsum("nk,nki,nki->ki", r, diff, diff)
    else:
        scatter = np.einsum("nk,nki,nkj->kij", r, diff, diff)
    return np.concatenate([[log_likelihood], r.sum(axis=0), x_sum.ravel(), scatter.ravel()])


def _split(fused: FusedKernel, out, n_components, n_features):
    """``(resp_sum, resp_x_sum, scatter)`` of the kernel's output, the scatter reduced as the strategy's."""
    resp_sum = out[1 : 1 + n_components]
    x_sum = out[1 + n_components : 1 + n_components * (1 + n_features)].reshape(n_components, n_features)
    scatter = out[1 + n_components * (1 + n_features) :]
    if fused.scatter_kind == "diag":
        return resp_sum, x_sum, scatter.reshape(n_components, n_features)
    scatter = scatter.reshape(n_components, n_features, n_features)
    if fused.scatter_kind == "tied":
        scatter = np.add.reduce(scatter, axis=0)
    return resp_sum, x_sum, scatter


def em_sums(fused: FusedKernel, means_c, X_block, origin, log_weights, sample_weight):
    """``(log_likelihood, (resp_sum, resp_x_sum, scatter))`` of one block's E-step."""
    weights = None if sample_weight is None else np.asarray(sample_weight, X_block.dtype)
    out = _run(fused, means_c, X_block, origin, log_weights, weights, EM)
    return float(out[0]), _split(fused, out, *means_c.shape)


def resp_sums(fused: FusedKernel, means_c, X_block, origin, wresp):
    """The centred sums of given weighted responsibilities ``wresp`` (n_rows, K)."""
    wresp = np.asarray(wresp, X_block.dtype)
    out = _run(fused, means_c, X_block, origin, None, None, GIVEN, wresp)
    return _split(fused, out, *means_c.shape)


def log_prob(fused: FusedKernel, means_c, X_block, origin, log_weights):
    """``log p(x | k) + log w_k`` of a block, (n_rows, n_components), of the rows' type (a new array)."""
    result = np.empty((len(X_block), means_c.shape[0]), dtype=X_block.dtype)
    _run(fused, means_c, X_block, origin, log_weights, None, LOG_PROB, result)
    return result


def labels(fused: FusedKernel, means_c, X_block, origin, log_weights):
    """``(labels, peak)`` of a block: each row's component of largest ``log p(x | k) + log w_k``
    (the first, as ``argmax``), int64, and that largest term, of the rows' type (new arrays)."""
    n_rows = len(X_block)
    labels, peak = np.empty(n_rows, dtype=np.int64), np.empty(n_rows, dtype=X_block.dtype)
    _run(fused, means_c, X_block, origin, log_weights, None, LABELS, rows_out=peak, labels=labels)
    return labels, peak


def row_log_likelihood(fused: FusedKernel, means_c, X_block, origin, log_weights):
    """Each row's ``log p(x)`` (the engine's log-sum-exp), of the rows' type (a new array)."""
    rows = np.empty(len(X_block), dtype=X_block.dtype)
    _run(fused, means_c, X_block, origin, log_weights, None, ROW_LOG_LIKELIHOOD, rows_out=rows)
    return rows

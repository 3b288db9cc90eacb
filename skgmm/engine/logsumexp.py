"""The one log-sum-exp of the engine: log-likelihoods and responsibilities of rows.

Every E-step (fit and predict, complete rows and rows with missing values)
normalises a block of weighted log-densities ``log p(x | k) + log w_k`` with
:func:`normalise`, whatever its layout: ``(n_rows, n_components)`` (``axis=1``)
or the fused kernels' component-major ``(n_components, n_rows)`` (``axis=0``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from skgmm._typing import FloatArray


@functools.lru_cache(maxsize=8)
def exp_floor(dtype) -> float:
    """Log-values below this are raised to it before ``exp`` in the E-step.

    Relative to a row's largest term (which is 0 after the shift), their
    exponentials are below 2e-299 in float64 (6e-30 in float32): too small
    for any sum to notice.  But numpy's vectorised ``exp`` leaves its fast
    path whenever a result would be subnormal or zero, and with separated
    clusters a few percent of the entries of a block are that small: the
    log-sum-exp then took 2-8x longer (measured on 2 cores, 16 x 3640
    blocks).  Raised to the floor, such a responsibility is about 1e-299
    instead of 0.  Outputs a user sees (``predict_proba``) are not clipped.
    Cached: every block asks for it.
    """
    return float(np.log(np.finfo(dtype).tiny)) + 20


def exp_above_floor(log_values, out=None):
    """``exp(max(log_values, exp_floor))``; ``out=log_values`` works in place."""
    clipped = np.maximum(log_values, exp_floor(log_values.dtype), out=out)
    return np.exp(clipped, out=clipped)


def normalise(log_prob: FloatArray, axis: int, *, responsibilities=False, sample_weight=None) -> FloatArray:
    """Normalise weighted log-densities over components, in place.

    Parameters
    ----------
    log_prob : ndarray
        ``log p(x | k) + log w_k`` of a block; components along ``axis``.
    axis : {0, 1}
        The axis of the components.
    responsibilities : bool, default=False
        False: ``log_prob`` becomes the log-responsibilities.  True: it becomes
        the responsibilities times ``sample_weight`` (the M-step's input), with
        one ``exp`` of the block.
    sample_weight : ndarray of shape (n_rows,) or None
        Row weights, used with ``responsibilities=True``.

    Returns
    -------
    log_norm : ndarray of shape (n_rows,)
        ``log p(x)`` of every row: ``-inf`` for a row that no component can
        produce (every term ``-inf``).  The responsibilities of such a row are
        not defined; callers that report them check :func:`impossible_rows`.
    """
    # ufunc reductions, not the ndarray methods: their Python wrappers cost
    # more than the work on small blocks
    peak = np.maximum.reduce(log_prob, axis=axis)
    impossible = None
    # One reduction tells whether any peak is infinite (rarely): a sum too
    # large for floating point only sends the block down the exact test.
    if not math.isfinite(np.add.reduce(peak)):
        infinite = ~np.isfinite(peak)
        impossible = peak == -np.inf
        peak[infinite] = 0
    # peak[None] or peak[:, None], cheaper than np.expand_dims on small blocks
    along = (None, slice(None)) if axis == 0 else (slice(None), None)
    log_prob -= peak[along]
    if responsibilities:
        resp = exp_above_floor(log_prob, out=log_prob)
        norm = np.add.reduce(resp, axis=axis)  # >= 1 (the peak's term), or K * exp_floor for impossible rows
        log_norm = np.log(norm)
        scale = np.reciprocal(norm, out=norm)  # one multiply of the block by w / norm
        if sample_weight is not None:
            scale *= sample_weight
        resp *= scale[along]
    else:
        log_norm = np.log(np.add.reduce(exp_above_floor(log_prob), axis=axis))
        log_prob -= log_norm[along]
    log_norm += peak
    if impossible is not None:
        log_norm[impossible] = -np.inf
    return log_norm


def weighted_sum(values: FloatArray, sample_weight) -> float:
    """``sum_i w_i values_i`` in float64 (all weights 1 when None)."""
    if sample_weight is None:
        return float(np.add.reduce(values, dtype=np.float64))
    return float(np.dot(np.asarray(sample_weight, np.float64), values.astype(np.float64)))


def impossible_rows(log_norm: FloatArray) -> np.ndarray:
    """Rows whose log-likelihood is ``-inf``: no component can produce them."""
    return np.flatnonzero(np.isneginf(log_norm))

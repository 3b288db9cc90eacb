"""Hard data: checks of the data's scale and recovery of empty components.

Two things scikit-learn's ``GaussianMixture`` does silently and we do not:

- ``reg_covar`` is an absolute variance.  On data whose variance is of the
  order of ``reg_covar`` or smaller (magnitudes of 1e-3 and below with the
  default 1e-6), the regularisation swamps the data and every point gets the
  same label.  :func:`check_feature_scale` warns when that happens (and raises
  when the data's squares overflow, or when a constant feature makes the
  likelihood unbounded with ``reg_covar=0``).  The fit itself is unchanged, so
  results on ordinary data stay those of scikit-learn, and scaling ``X`` by
  ``c`` and ``reg_covar`` by ``c**2`` scales the fitted model exactly.
- A component that receives no data keeps a weight of about 1e-16 forever.
  ``skgmm.engine.guard.EmptyComponentGuard`` re-seeds such a component on the worst-explained
  sample when the data has enough distinct points, and warns otherwise.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from skgmm._warnings import warn_user
from skgmm.covariance.kernels import kmeans_kernels

#: ``reg_covar`` larger than this fraction of a feature's variance dominates it.
REG_COVAR_DOMINANCE = 0.1

#: Values per block when computing the feature variances (8,192 rows of 16
#: features): a block and its two feature-major temporaries stay in cache,
#: which is faster than larger blocks (4.1 ms against 9.3 ms at 100k x 16)
#: and keeps the check's memory at 2 MiB, whatever the number of rows.
_VARIANCE_BLOCK_VALUES = 2**17


class DegenerateDataWarning(UserWarning):
    """The data or the fitted model is degenerate in a way the user should know.

    Raised for a ``reg_covar`` that dominates the variance of the data, and
    for mixture components that ended up with no data.
    """


class FeatureMoments(NamedTuple):
    """Per-feature weight total, mean, centred second moment, minimum and maximum (float64)."""

    total: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray


def block_moments(block, w=None) -> FeatureMoments:
    """Moments of a block of rows (NaN entries left out), in float64."""
    moments = _compiled_moments(block, w)
    return (
        moments
        if moments is not None
        else FeatureMoments(*_block_moments(np.asarray(block, dtype=np.float64), w))
    )


def _compiled_moments(X, w) -> FeatureMoments | None:
    """The moments of X in one compiled pass, or None: no C kernels, or NaN (missing values) or
    overflowing squares in X, which the numpy blocks report as such."""
    kernels = kmeans_kernels()
    if kernels is None or X.dtype not in (np.float64, np.float32) or X.ndim != 2 or not len(X):
        return None
    moments = FeatureMoments(*kernels.feature_moments(X, w))
    return moments if np.all(np.isfinite(moments.mean)) and np.all(np.isfinite(moments.m2)) else None


def merge_moments(a: FeatureMoments, b: FeatureMoments) -> FeatureMoments:
    """Moments of two sets of rows together (Chan-Golub-LeVeque update)."""
    n_features = a.total.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by the caller
        delta = b.mean - a.mean
        total = a.total + b.total
        share = np.divide(b.total, total, out=np.zeros(n_features), where=total > 0)
        mean = a.mean + delta * share
        m2 = a.m2 + b.m2 + delta * delta * a.total * share
    return FeatureMoments(total, mean, m2, np.fmin(a.low, b.low), np.fmax(a.high, b.high))


def feature_variances(X, sample_weight=None):
    """Weighted mean, variance and range of every feature, in float64, by blocks.

    NaN entries (missing values) are left out of their feature's sums.
    Blocks are merged with the Chan-Golub-LeVeque update, so no float64 copy
    of ``X`` is made and no large moments are subtracted.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    mean : ndarray of shape (n_features,)
        NaN for a feature with no observed value.
    variance : ndarray of shape (n_features,)
        NaN for a feature with no observed value, inf where it overflows.
    spread : ndarray of shape (n_features,)
        Largest absolute deviation of an observed value from the mean.
    """
    moments = _compiled_moments(X, sample_weight)  # (the moments of Dask's blocks, for one block)
    if moments is not None:
        return summarise_moments(moments)
    n_features = X.shape[1]
    zeros = np.zeros(n_features)
    moments = FeatureMoments(zeros, zeros, zeros, np.full(n_features, np.inf), np.full(n_features, -np.inf))
    block_rows = max(64, _VARIANCE_BLOCK_VALUES // max(n_features, 1))
    for start in range(0, len(X), block_rows):
        stop = start + block_rows
        w = None if sample_weight is None else np.asarray(sample_weight[start:stop], dtype=np.float64)
        moments = merge_moments(
            moments, FeatureMoments(*_block_moments(np.asarray(X[start:stop], np.float64), w))
        )
    return summarise_moments(moments)


def summarise_moments(moments: FeatureMoments):
    """``mean, variance, spread`` of :func:`feature_variances` from merged moments."""
    total, mean, m2 = moments.total, moments.mean, moments.m2
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # inf - inf in an overflowing feature gives NaN: report it as inf.
        variance = np.where(total > 0, np.where(np.isnan(m2), np.inf, m2 / total), np.nan)
        mean = np.where(total > 0, mean, np.nan)
        # a constant feature exactly (a weighted mean may round): the check of constant features needs it
        constant = (total > 0) & (moments.low == moments.high)
        variance[constant], mean[constant] = 0.0, moments.low[constant]
        spread = np.maximum(moments.high - mean, mean - moments.low)
    return mean, variance, spread


def _block_moments(block, w):
    """Weight total, mean, centred second moment, minimum and maximum per feature."""
    with np.errstate(over="ignore", invalid="ignore"):
        has_nan = np.isnan(block.sum())
    if has_nan:
        observed = ~np.isnan(block)
        ones = np.ones(len(block)) if w is None else w
        block_total = np.einsum("i,ij->j", ones, observed.astype(np.float64))
        filled = np.where(observed, block, 0.0)
        block_mean = np.divide(
            np.einsum("i,ij->j", ones, filled),
            block_total,
            out=np.zeros(block.shape[1]),
            where=block_total > 0,
        )
        centred = np.where(observed, block - block_mean, 0.0)
        block_m2 = np.einsum("i,ij,ij->j", ones, centred, centred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            return block_total, block_mean, block_m2, np.nanmin(block, axis=0), np.nanmax(block, axis=0)
    # Feature-major: reductions along contiguous rows are several times faster
    # than numpy's axis-0 reductions of a narrow C-ordered block.
    columns = np.ascontiguousarray(block.T)
    if w is None:
        block_total = np.full(block.shape[1], float(len(block)))
        block_mean = columns.mean(axis=1)
        centred = columns - block_mean[:, None]
        block_m2 = np.einsum("ji,ji->j", centred, centred)
    else:
        block_total = np.full(block.shape[1], w.sum())
        safe = max(block_total[0], np.finfo(np.float64).tiny)
        block_mean = np.einsum("ji,i->j", columns, w) / safe
        centred = columns - block_mean[:, None]
        centred *= centred
        # einsum, not BLAS: a threaded gemv is slow on a busy machine, and this is cheap.
        block_m2 = np.einsum("ji,i->j", centred, w)
    return block_total, block_mean, block_m2, columns.min(axis=1), columns.max(axis=1)


def check_feature_scale(variance, spread, n_samples, dtype, reg_covar):
    """Raise or warn when the data's scale makes the fit meaningless.

    ``variance`` and ``spread`` come from a source's ``feature_moments``
    (:func:`feature_variances` in memory; merged :func:`block_moments` on Dask).

    Raises
    ------
    ValueError
        If squared deviations of ``X`` overflow its dtype, or if ``reg_covar``
        is 0 and some feature is constant (every component would have zero
        variance along it: an unbounded likelihood).

    """
    dtype = np.dtype(dtype)
    dtype_max = np.finfo(dtype).max
    # Sums of squared deviations are formed in X's dtype by the engine and by k-means.
    observed = ~np.isnan(variance)
    with np.errstate(over="ignore", invalid="ignore"):
        too_large = observed & (~np.isfinite(variance) | (spread**2 * n_samples > dtype_max / 16))
    if np.any(too_large):
        raise ValueError(
            f"X has values too large for {dtype.name}: squared deviations of feature(s) "
            f"{np.flatnonzero(too_large).tolist()} overflow. Scale the data, for example "
            "with sklearn.preprocessing.StandardScaler, before fitting."
        )
    constant = np.flatnonzero(variance == 0)
    if reg_covar == 0 and constant.size:
        raise ValueError(
            f"Feature(s) {constant.tolist()} of X are constant, so every component has "
            "zero variance along them and with reg_covar=0 the likelihood is unbounded. "
            "Drop the constant features or set reg_covar > 0."
        )
    varying = variance > 0
    dominated = np.flatnonzero(varying & (reg_covar > REG_COVAR_DOMINANCE * variance))
    if dominated.size:
        smallest = float(variance[dominated].min())
        warn_user(
            f"reg_covar={reg_covar:g} is larger than {REG_COVAR_DOMINANCE:g} times the "
            f"variance of feature(s) {dominated.tolist()} (smallest variance {smallest:.3g}): "
            "the regularisation, not the data, decides the covariances, and the "
            "components may not be told apart. Scale the data (for example with "
            "sklearn.preprocessing.StandardScaler) or set reg_covar to about 1e-6 "
            "times the data's variance.",
            DegenerateDataWarning,
        )

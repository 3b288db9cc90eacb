"""Hard data: checks of the data's scale and recovery of empty components.

Two things scikit-learn's ``GaussianMixture`` does silently and we do not:

- ``reg_covar`` is an absolute variance.  On data whose variance is of the
  order of ``reg_covar`` or smaller (magnitudes of 1e-3 and below with the
  default 1e-6), the regularisation swamps the data and every point gets the
  same label.  :func:`check_data_scale` warns when that happens (and raises
  when the data's squares overflow, or when a constant feature makes the
  likelihood unbounded with ``reg_covar=0``).  The fit itself is unchanged, so
  results on ordinary data stay those of scikit-learn, and scaling ``X`` by
  ``c`` and ``reg_covar`` by ``c**2`` scales the fitted model exactly.
- A component that receives no data keeps a weight of about 1e-16 forever.
  :class:`EmptyComponentGuard` re-seeds such a component on the worst-explained
  sample when the data has enough distinct points, and warns otherwise.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from skgmm._em import MixtureParams

#: ``reg_covar`` larger than this fraction of a feature's variance dominates it.
REG_COVAR_DOMINANCE = 0.1

#: Rows per block when computing the feature variances.
_VARIANCE_BLOCK_ROWS = 65536


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
    return FeatureMoments(*_block_moments(np.asarray(block, dtype=np.float64), w))


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
    n_features = X.shape[1]
    zeros = np.zeros(n_features)
    moments = FeatureMoments(zeros, zeros, zeros, np.full(n_features, np.inf), np.full(n_features, -np.inf))
    for start in range(0, len(X), _VARIANCE_BLOCK_ROWS):
        stop = start + _VARIANCE_BLOCK_ROWS
        w = None if sample_weight is None else np.asarray(sample_weight[start:stop], dtype=np.float64)
        moments = merge_moments(moments, block_moments(X[start:stop], w))
    return summarise_moments(moments)


def summarise_moments(moments: FeatureMoments):
    """``mean, variance, spread`` of :func:`feature_variances` from merged moments."""
    total, mean, m2 = moments.total, moments.mean, moments.m2
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # inf - inf in an overflowing feature gives NaN: report it as inf.
        variance = np.where(total > 0, np.where(np.isnan(m2), np.inf, m2 / total), np.nan)
        mean = np.where(total > 0, mean, np.nan)
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
    if w is None:
        block_total = np.full(block.shape[1], float(len(block)))
        block_mean = block.mean(axis=0)
        centred = block - block_mean
        block_m2 = np.einsum("ij,ij->j", centred, centred)
    else:
        block_total = np.full(block.shape[1], w.sum())
        safe = max(block_total[0], np.finfo(np.float64).tiny)
        block_mean = np.einsum("i,ij->j", w, block) / safe
        centred = block - block_mean
        centred *= centred
        # einsum, not BLAS: a threaded gemv is slow on a busy machine, and this is cheap.
        block_m2 = np.einsum("i,ij->j", w, centred)
    return block_total, block_mean, block_m2, block.min(axis=0), block.max(axis=0)


def check_data_scale(X, sample_weight, reg_covar):
    """Raise or warn when the data's scale makes the fit meaningless.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated training data.
    sample_weight : ndarray of shape (n_samples,) or None
        Validated weights.
    reg_covar : float
        The estimator's regularisation.

    Raises
    ------
    ValueError
        If squared deviations of ``X`` overflow its dtype, or if ``reg_covar``
        is 0 and some feature is constant (every component would have zero
        variance along it: an unbounded likelihood).

    Returns
    -------
    variance : ndarray of shape (n_features,)
        The weighted variance of every feature (NaN where nothing is observed).

    Warns
    -----
    DegenerateDataWarning
        If ``reg_covar`` exceeds ``REG_COVAR_DOMINANCE`` times the variance of
        a non-constant feature: the regularisation, not the data, then decides
        the covariances.
    """
    _, variance, spread = feature_variances(X, sample_weight)
    check_feature_scale(variance, spread, len(X), X.dtype, reg_covar)
    return variance


def check_feature_scale(variance, spread, n_samples, dtype, reg_covar):
    """The checks of :func:`check_data_scale`, from the features' variance and spread.

    Drivers that see the data in pieces (Dask) merge :func:`block_moments`
    and call this with the result of :func:`summarise_moments`.
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
        warnings.warn(
            f"reg_covar={reg_covar:g} is larger than {REG_COVAR_DOMINANCE:g} times the "
            f"variance of feature(s) {dominated.tolist()} (smallest variance {smallest:.3g}): "
            "the regularisation, not the data, decides the covariances, and the "
            "components may not be told apart. Scale the data (for example with "
            "sklearn.preprocessing.StandardScaler) or set reg_covar to about 1e-6 "
            "times the data's variance.",
            DegenerateDataWarning,
            stacklevel=4,
        )


def empty_components(weights, weight_total, dtype):
    """Indices of components whose responsibility mass is at rounding level.

    An empty component keeps the ``10 * eps`` mass the M-step adds, so its
    weight times the total row weight is tiny; 1000 eps leaves a margin.
    """
    mass = np.asarray(weights, np.float64) * weight_total
    return np.flatnonzero(mass < 1e3 * np.finfo(dtype).eps)


def _n_distinct_rows(X, sample_weight):
    rows = X if sample_weight is None else X[sample_weight > 0]
    return len(np.unique(rows, axis=0))


class EmptyComponentGuard:
    """Re-seeds components that lost all their data during EM.

    A component is re-seeded on the sample with the lowest log-likelihood
    under the current mixture, with the weighted mean covariance of the
    other components and weight ``1 / n_components``; each component is
    re-seeded at most once per EM run.  When the data has fewer distinct
    (positively weighted) rows than components, no re-seeding can help and
    the component is left as scikit-learn leaves it, with a warning at the
    end of the fit.

    Parameters
    ----------
    score_rows : callable
        ``score_rows(params)`` returns the log-likelihood of every row of ``X``
        under the mixture ``params`` (the estimator's E-step).
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    model : CovarianceModel
    reg_covar : float, default=0.0
        The estimator's regularisation.
    data_variance : ndarray of shape (n_features,), default=None
        Variance of every feature of ``X``; with it, components that collapsed
        onto one point (covariance ``reg_covar`` only) are reported too.
    """

    def __init__(self, score_rows, X, sample_weight, model, reg_covar=0.0, data_variance=None):
        self.score_rows = score_rows
        self.reg_covar = reg_covar
        self.data_variance = data_variance
        self.X = X
        self.dtype = X.dtype
        self.sample_weight = sample_weight
        self.model = model
        self.weight_total = float(len(X) if sample_weight is None else sample_weight.sum(dtype=np.float64))
        self._n_distinct = None
        self.reseeded: set[int] = set()

    def start_run(self):
        """Forget the re-seeds of the previous initialisation."""
        self.reseeded = set()

    @property
    def n_distinct(self):
        """Distinct rows of positive weight (None where a driver cannot tell cheaply)."""
        if self._n_distinct is None:
            self._n_distinct = _n_distinct_rows(self.X, self.sample_weight)
        return self._n_distinct

    def worst_rows(self, params: MixtureParams):
        """Rows of positive weight and finite log-likelihood under ``params``, worst first.

        Ties keep row order.  Yields each row as a tuple of floats.
        """
        log_prob = np.asarray(self.score_rows(params), np.float64)
        # Rows that cannot carry a component (zero weight, no observed value) go last.
        log_prob = np.where(np.isnan(log_prob), np.inf, log_prob)
        if self.sample_weight is not None:
            log_prob = np.where(self.sample_weight > 0, log_prob, np.inf)
        for index in np.argsort(log_prob, kind="stable"):
            row = tuple(np.asarray(self.X[index], np.float64))
            if np.isfinite(log_prob[index]) and np.all(np.isfinite(row)):
                yield row

    def recover(self, params: MixtureParams) -> tuple[MixtureParams, list[int]]:
        """Re-seed the empty components of ``params`` that may be re-seeded.

        Returns
        -------
        params : MixtureParams
            Unchanged when nothing was re-seeded.
        reseeded : list of int
            The components re-seeded now.
        """
        dtype = self.dtype
        empty = [
            k for k in empty_components(params.weights, self.weight_total, dtype) if k not in self.reseeded
        ]
        n_components = len(params.weights)
        if not empty or (self.n_distinct is not None and self.n_distinct < n_components):
            return params, []

        weights = np.asarray(params.weights, np.float64).copy()
        means = np.asarray(params.means, np.float64).copy()
        covariances = np.asarray(params.covariances, np.float64).copy()
        kept = np.setdiff1d(np.arange(n_components), empty)
        kept_weights = weights[kept] / weights[kept].sum()
        taken = [np.asarray(row) for row in means[kept]]
        # A row "at" a mean: equal up to the rounding of a mean of duplicated rows.
        scale = np.ones(means.shape[1]) if self.data_variance is None else np.sqrt(self.data_variance)
        tolerance = np.sqrt(np.finfo(dtype).eps) * np.nan_to_num(scale, nan=0.0)
        candidates = self.worst_rows(params)
        done = []
        for k in empty:
            # The worst-explained rows, skipping any already at a component's mean.
            for row in candidates:
                if not any(np.all(np.abs(np.subtract(row, mean)) <= tolerance) for mean in taken):
                    break
            else:
                break
            taken.append(np.asarray(row))
            means[k] = row
            if self.model.name != "tied":
                covariances[k] = np.tensordot(kept_weights, covariances[kept], axes=1)
            weights[k] = 1.0 / n_components
            self.reseeded.add(int(k))
            done.append(int(k))
        if not done:
            return params, []
        weights /= weights.sum()
        covariances = covariances.astype(dtype)
        params = MixtureParams(
            weights=weights.astype(dtype),
            means=means.astype(dtype),
            covariances=covariances,
            precisions_cholesky=np.asarray(self.model.compute_precisions_cholesky(covariances), dtype),
        )
        return params, done

    def collapsed_components(self, params: MixtureParams, empty=()):
        """Non-empty components whose covariance is ``reg_covar`` alone.

        Such a component sits on one point (an outlier, or a group of
        duplicated samples): the data contributes no variance to it.
        """
        if self.data_variance is None or self.model.name == "tied":
            return np.array([], dtype=int)
        covariances = np.asarray(params.covariances, np.float64)
        n_components, n_features = np.shape(params.means)
        if self.model.name == "full":
            variances = np.diagonal(covariances, axis1=1, axis2=2)
        else:
            variances = np.broadcast_to(covariances.reshape(n_components, -1), (n_components, n_features))
        # Identical points leave a scatter of rounding size only: at most about
        # eps * |mean - origin|^2, the engine's sums being centred on the mixture
        # mean, plus the rounding of reg_covar.
        eps = 100 * np.finfo(self.dtype).eps
        weights = np.asarray(params.weights, np.float64)
        means = np.asarray(params.means, np.float64)
        origin = weights @ means / weights.sum()
        tolerance = eps * (self.reg_covar + (means - origin) ** 2)
        collapsed = np.all(variances - self.reg_covar <= tolerance, axis=1)
        return np.setdiff1d(np.flatnonzero(collapsed), empty)

    def warn_if_empty(self, params: MixtureParams) -> None:
        """Warn about components of the final model that hold no data or one point."""
        empty = empty_components(params.weights, self.weight_total, self.dtype)
        collapsed = self.collapsed_components(params, empty)
        if collapsed.size:
            warnings.warn(
                f"Components {collapsed.tolist()} of the fitted mixture collapsed onto a "
                "single point (an outlier or a group of duplicated samples): their "
                f"covariance is reg_covar={self.reg_covar:g} alone. Their weights and "
                "log-likelihoods depend on reg_covar; remove outliers or duplicates, or "
                "decrease n_components, if this is not wanted.",
                DegenerateDataWarning,
                stacklevel=4,
            )
        if empty.size:
            distinct = (
                "" if self.n_distinct is None else f"; the data has {self.n_distinct} distinct samples for "
                f"{len(params.weights)} components"
            )
            warnings.warn(
                f"Components {empty.tolist()} of the fitted mixture received no data "
                f"(weight ~0){distinct}. Decrease n_components or check the "
                "data for duplicated points.",
                DegenerateDataWarning,
                stacklevel=4,
            )

    @staticmethod
    def warn_reseeded(components) -> None:
        """Tell the user that EM re-seeded components."""
        warnings.warn(
            f"Components {list(components)} lost all their data during EM and were "
            "re-seeded on the worst-explained samples; lower_bounds_ may decrease at "
            "that iteration. A smaller n_components or another initialisation may fit "
            "the data better.",
            DegenerateDataWarning,
            stacklevel=4,
        )

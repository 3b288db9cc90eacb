"""Where blocks come from: one source per kind of data, behind one protocol.

:func:`open_source` validates ``(X, sample_weight)`` once and returns the
source for it: :class:`~skgmm.sources.memory.InMemorySource`,
:class:`~skgmm.sources.missing.MissingValuesSource` (NaN entries), or
:class:`~skgmm.sources.dask.DaskSource`.  A ``partial_fit`` batch is an
in-memory source with one thread.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import validate_data

from skgmm._validation import FLOAT_DTYPES, check_sample_weight
from skgmm.sources.base import DataSource
from skgmm.sources.dask import DaskSource, is_dask_collection
from skgmm.sources.memory import InMemorySource
from skgmm.sources.missing import MissingValuesSource, has_missing


def open_source(
    estimator,
    X,
    sample_weight=None,
    *,
    model,
    n_components,
    reset,
    fitting=True,
    min_samples=1,
    n_required=1,
    promote_to=None,
    dtype=None,
    n_threads=None,
) -> DataSource:
    """Validate ``X`` and ``sample_weight`` and wrap them in the right source.

    Parameters
    ----------
    estimator : BaseEstimator
        Records (``reset=True``) or checks ``n_features_in_`` and feature names.
    X : array-like or Dask collection of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,) or None
    model : CovarianceModel
        Groups the rows with missing values.
    n_components : int
        Sizes the blocks.
    reset : bool
        Record the features of ``X`` (a new fit) rather than check them.
    fitting : bool, default=True
        The data is fitted (a Dask collection is then persisted, and missing
        values must leave every feature and ``n_required`` rows observed), not
        only scored or predicted.
    min_samples : int, default=1
    n_required : int, default=1
        Rows of positive weight (and of observed values) the data must have.
    promote_to, dtype : numpy dtype or None
        Compute in ``result_type(X.dtype, promote_to)`` (a fitted model's
        dtype, for predictions), or in ``dtype`` exactly (``partial_fit``).
    n_threads : int or None
        Threads for block work (None: as scikit-learn would use).
    """
    if is_dask_collection(X):  # before validate_data, which would load X
        return DaskSource(
            estimator, X, sample_weight, n_components, fit=fitting, reset=reset, dtype=promote_to
        )
    X = validate_data(
        estimator,
        X,
        dtype=FLOAT_DTYPES,
        reset=reset,
        ensure_min_samples=min_samples,
        ensure_all_finite="allow-nan",
    )
    if promote_to is not None:
        X = X.astype(np.result_type(X.dtype, promote_to), copy=False)
    if dtype is not None:
        X = X.astype(dtype, copy=False)
    sample_weight = check_sample_weight(sample_weight, X, n_required)
    return array_source(X, sample_weight, model, n_components, n_required if fitting else 0, n_threads)


def array_source(X, sample_weight, model, n_components, n_required=0, n_threads=None) -> DataSource:
    """The source of an already validated in-memory ``X`` (NaN: missing values) and weights.

    What :func:`open_source` returns after its checks; callers that fit many
    mixtures on one data set (:class:`~skgmm.GaussianMixtureIC`) validate once
    and call this per mixture.  ``n_required`` rows must have observed values
    (0 when only predicting).
    """
    if has_missing(X):
        return MissingValuesSource(X, sample_weight, n_components, model, n_threads, n_required=n_required)
    return InMemorySource(X, sample_weight, n_components, n_threads)


__all__ = ["DaskSource", "DataSource", "InMemorySource", "MissingValuesSource", "array_source", "open_source"]

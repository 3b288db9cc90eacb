"""Parameter constraints, input checks and the error messages users see.

scikit-learn's validation helpers that are private (``_fit_context``,
``_param_validation``, ``_check_sample_weight``) are imported here only.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context  # noqa: F401  (re-exported for the estimator)
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

from skgmm._init import INITIALISERS
from skgmm.covariance import COVARIANCE_MODELS, CovarianceModel

PARAMETER_CONSTRAINTS: dict = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "covariance_type": [StrOptions(set(COVARIANCE_MODELS))],
    "tol": [Interval(Real, 0.0, None, closed="left")],
    "convergence": [StrOptions({"mean", "relative"})],
    "reg_covar": [Interval(Real, 0.0, None, closed="left")],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "n_init": [Interval(Integral, 1, None, closed="left")],
    "init_params": [StrOptions(set(INITIALISERS))],
    "weights_init": ["array-like", None],
    "means_init": ["array-like", None],
    "precisions_init": ["array-like", None],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
    "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    "learning_decay": [Interval(Real, 0, 1, closed="both")],
    "learning_offset": [Interval(Real, 0, None, closed="left")],
}

FLOAT_DTYPES = [np.float64, np.float32]


def _checked_copy(array, input_name, allow_nd=False):
    """``check_array(array, dtype=FLOAT_DTYPES, ensure_2d=False, copy=True)``, fast for float arrays.

    A finite float64/float32 ndarray passes every check of ``check_array``:
    it is copied without them (``check_array`` costs tens of microseconds a
    call, a noticeable part of a fit on small data).  Anything else goes
    through ``check_array``, with its conversions and messages.
    """
    if (
        type(array) is np.ndarray
        and array.dtype in (np.float64, np.float32)
        and array.size
        and 1 <= array.ndim <= (3 if allow_nd else 2)
        and np.isfinite(array).all()
    ):
        return array.copy()
    return check_array(
        array, dtype=FLOAT_DTYPES, ensure_2d=False, allow_nd=allow_nd, copy=True, input_name=input_name
    )


def check_shape(param, shape, name):
    """Raise ValueError if ``param`` does not have ``shape``."""
    if param.shape != shape:
        raise ValueError(f"The parameter '{name}' should have the shape of {shape}, but got {param.shape}")


def check_weights_init(weights, n_components):
    """Validated copy of user-given mixture weights."""
    weights = _checked_copy(weights, "weights_init")
    check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got "
            f"min value {weights.min():.5f}, max value {weights.max():.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not abs(1.0 - weights.sum()) <= atol:  # np.allclose(., 0, atol), without its overhead
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = {weights.sum():.5f}"
        )
    return weights


def check_means_init(means, n_components, n_features):
    """Validated copy of user-given means."""
    means = _checked_copy(means, "means_init")
    check_shape(means, (n_components, n_features), "means")
    return means


def check_precisions_init(precisions, model: CovarianceModel, n_components, n_features):
    """Validated copy of user-given precisions (shape and positive definiteness)."""
    precisions = _checked_copy(
        precisions, "precisions_init", allow_nd=len(model.covariance_shape(n_components, n_features)) == 3
    )
    check_shape(precisions, model.covariance_shape(n_components, n_features), f"{model.name} precision")
    model.check_precisions(precisions)
    return precisions


def check_sample_weight(sample_weight, X, n_components):
    """Validated float weights (or None), with at least ``n_components`` positive."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, copy=True)
    if np.any(sample_weight < 0):
        raise ValueError(
            f"Negative values in data passed to `sample_weight` (minimum {sample_weight.min():g}): "
            "weights count how many times each row is seen, so they must be >= 0. Use 0 to "
            "ignore a row."
        )
    with np.errstate(over="ignore"):
        weight_sum = sample_weight.sum(dtype=np.float64)
    if not np.isfinite(weight_sum):
        raise ValueError(
            "The sum of sample_weight overflows float64. Only relative weights matter: "
            "divide sample_weight by a constant, such as its maximum."
        )
    n_positive = int(np.count_nonzero(sample_weight))
    if n_positive < n_components:
        raise ValueError(
            f"sample_weight has {n_positive} positive entries but n_components = "
            f"{n_components}: each component needs data. Give positive weight to "
            "more samples or decrease n_components."
        )
    return sample_weight


def check_fitted_matches(estimator, model, n_features, action):
    """Raise ValueError if ``estimator``'s fitted model cannot be continued with its parameters.

    ``action`` ('fit' with ``warm_start``, or 'partial_fit') names the caller.
    """
    fitted_components, fitted_features = np.shape(estimator.means_)
    fix = (
        "Set warm_start=False (or refit with fit) to start afresh." if action == "fit" else "Refit with fit."
    )
    if fitted_features != n_features:
        raise ValueError(
            f"The fitted model has {fitted_features} features but X has {n_features}: {action} "
            f"cannot continue from it. {fix}"
        )
    if fitted_components != estimator.n_components:
        raise ValueError(
            f"n_components is {estimator.n_components} but the fitted model has {fitted_components} "
            f"components: {action} cannot continue from it. {fix}"
        )
    if np.shape(estimator.covariances_) != model.covariance_shape(estimator.n_components, n_features):
        raise ValueError(
            f"covariance_type is {estimator.covariance_type!r} but the fitted covariances have shape "
            f"{np.shape(estimator.covariances_)}: {action} cannot continue from them. {fix}"
        )


def check_initial_parameters(estimator, model, n_features):
    """Validated copies of ``estimator``'s ``*_init`` arrays (never written back)."""
    K = estimator.n_components
    weights, means, precisions = estimator.weights_init, estimator.means_init, estimator.precisions_init
    return {
        "weights": None if weights is None else check_weights_init(weights, K),
        "means": None if means is None else check_means_init(means, K, n_features),
        "precisions": None if precisions is None else check_precisions_init(precisions, model, K, n_features),
    }

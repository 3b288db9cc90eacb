"""A row of weight w counts as w copies of it (exactly, from explicit starts)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skgmm import GaussianMixtureEM

from .conftest import explicit_init, mixture_10d

RTOL = 1e-10


def _fit(X, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixtureEM(**params).fit(X, sample_weight=sample_weight)


def _assert_same(a, b, rtol=RTOL):
    assert_allclose(a.weights_, b.weights_, rtol=rtol)
    assert_allclose(a.means_, b.means_, rtol=rtol, atol=1e-12)
    assert_allclose(a.covariances_, b.covariances_, rtol=rtol, atol=1e-14)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)
    assert a.n_iter_ == b.n_iter_


@pytest.fixture
def data():
    X, _ = mixture_10d(n_samples=300, seed=3)
    weights = np.random.RandomState(0).randint(0, 4, size=len(X))
    return X, weights


def test_integer_weights_equal_repeated_rows(data, covariance_type):
    X, weights = data
    params = dict(
        n_components=4,
        covariance_type=covariance_type,
        max_iter=20,
        tol=0,
        **explicit_init(X, 4, covariance_type),
    )
    weighted = _fit(X, weights, **params)
    repeated = _fit(np.repeat(X, weights, axis=0), **params)
    _assert_same(weighted, repeated)


def test_zero_weight_equals_dropping_rows(data, covariance_type):
    X, weights = data
    keep = weights > 0
    params = dict(
        n_components=4,
        covariance_type=covariance_type,
        max_iter=20,
        tol=0,
        **explicit_init(X, 4, covariance_type),
    )
    weighted = _fit(X, keep.astype(float), **params)
    dropped = _fit(X[keep], **params)
    _assert_same(weighted, dropped)


def test_scaling_weights_changes_nothing(data, covariance_type):
    X, weights = data
    params = dict(n_components=4, covariance_type=covariance_type, random_state=0)
    a = _fit(X, weights + 0.5, **params)
    b = _fit(X, 1000.0 * (weights + 0.5), **params)
    _assert_same(a, b, rtol=1e-9)


def test_unit_weights_equal_no_weights(data, covariance_type):
    X, _ = data
    for init_params in ["kmeans", "k-means++", "random", "random_from_data"]:
        params = dict(
            n_components=4, covariance_type=covariance_type, init_params=init_params, random_state=0
        )
        _assert_same(_fit(X, np.ones(len(X)), **params), _fit(X, **params), rtol=1e-9)


def test_weighted_initialisation_never_seeds_zero_weight_rows():
    X, _ = mixture_10d(n_samples=200, seed=1)
    weights = np.zeros(len(X))
    weights[:50] = 1.0
    X_far = X.copy()
    X_far[50:] += 1e3  # zero-weight rows far away: a seed there would show
    for init_params in ["kmeans", "k-means++", "random_from_data"]:
        gm = _fit(X_far, weights, n_components=3, init_params=init_params, random_state=0)
        assert np.abs(gm.means_).max() < 100


def test_lower_bound_is_weighted_mean_log_likelihood(data):
    X, weights = data
    gm = _fit(X, weights, n_components=4, random_state=0, tol=0, max_iter=5)
    # lower_bound_ is the weighted mean log-likelihood of the parameters before
    # the last M-step, as in scikit-learn; one more iteration from the fitted
    # model gives its own log-likelihood as the first lower bound.
    gm2 = _fit(
        X,
        weights,
        n_components=4,
        max_iter=1,
        weights_init=gm.weights_,
        means_init=gm.means_,
        precisions_init=gm.precisions_,
    )
    assert_allclose(gm2.lower_bounds_[0], np.average(gm.score_samples(X), weights=weights), rtol=1e-10)
    assert_allclose(gm.score(X, sample_weight=weights), gm2.lower_bounds_[0], rtol=1e-10)


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(300), "Negative values in data passed to"),
        (np.zeros(300), "at least one non-zero"),
        (np.r_[np.ones(2), np.zeros(298)], "decrease n_components"),
        (np.ones(10), "sample_weight.shape"),
    ],
)
def test_invalid_weights_raise(data, weights, match):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        GaussianMixtureEM(n_components=4).fit(X, sample_weight=weights)


def test_weights_array_not_modified(data):
    X, weights = data
    weights = weights.astype(float)
    weights.setflags(write=False)
    before = weights.copy()
    _fit(X, weights, n_components=4, random_state=0)
    assert_array_equal(weights, before)

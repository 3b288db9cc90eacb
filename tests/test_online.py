"""partial_fit: stepwise (online) EM over running sufficient statistics."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skgmm import GaussianMixtureEM
from skgmm._online import step_size
from tests.conftest import COVARIANCE_TYPES, explicit_init


def stream(n_samples, seed, n_components=4, n_features=4):
    centers = np.random.RandomState(123).normal(scale=3.0, size=(n_components, n_features))
    rng = np.random.RandomState(seed)
    labels = rng.randint(n_components, size=n_samples)
    return centers[labels] + rng.normal(size=(n_samples, n_features))


def test_step_size_follows_lda_convention():
    assert step_size(0, 0.7, 10.0) == 1.0
    assert step_size(5, 0.7, 10.0) == pytest.approx(15.0**-0.7)


def test_one_pass_is_close_to_batch_fit():
    X, X_test = stream(20_000, 0), stream(5_000, 1)
    online = GaussianMixtureEM(4, random_state=0)
    for start in range(0, len(X), 1_000):
        online.partial_fit(X[start : start + 1_000])
    batch = GaussianMixtureEM(4, random_state=0).fit(X)
    assert online.n_steps_ == 20 and online.n_samples_seen_ == 20_000
    assert abs(online.score(X_test) - batch.score(X_test)) < 0.01 * abs(batch.score(X_test))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_first_call_is_one_em_step_from_init_params(covariance_type):
    X = stream(500, 2)
    online = GaussianMixtureEM(4, covariance_type=covariance_type, random_state=0).partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        batch = GaussianMixtureEM(4, covariance_type=covariance_type, random_state=0, max_iter=1).fit(X)
    np.testing.assert_allclose(online.means_, batch.means_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(online.covariances_, batch.covariances_, rtol=1e-12, atol=1e-12)
    assert online.lower_bound_ == pytest.approx(batch.lower_bound_, rel=1e-12)


def test_unit_step_is_batch_em():
    # learning_decay=0 gives eta=1: each call is one EM iteration on its batch.
    X = stream(400, 3)
    online = GaussianMixtureEM(4, random_state=0, learning_decay=0.0)
    for _ in range(3):
        online.partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        batch = GaussianMixtureEM(4, random_state=0, max_iter=3).fit(X)
    np.testing.assert_allclose(online.means_, batch.means_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(online.covariances_, batch.covariances_, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_harmonic_steps_average_batches_exactly(covariance_type):
    # With one component the statistics do not depend on the parameters, and
    # eta_t = 1 / (t + 1) makes the running statistics the plain average of
    # equal-sized batches, each centred on different means: the result is the
    # fit of all rows together (exact recentring of the statistics).
    X = stream(3_000, 4) + 50.0
    online = GaussianMixtureEM(1, covariance_type=covariance_type, learning_decay=1.0, learning_offset=1.0)
    for start in range(0, 3_000, 1_000):
        online.partial_fit(X[start : start + 1_000])
    batch = GaussianMixtureEM(1, covariance_type=covariance_type).fit(X)
    np.testing.assert_allclose(online.means_, batch.means_, rtol=1e-12)
    np.testing.assert_allclose(online.covariances_, batch.covariances_, rtol=1e-9)


def test_weights_equal_repetition():
    X = stream(600, 5)
    weights = np.random.RandomState(0).randint(0, 3, size=len(X))
    a = GaussianMixtureEM(1, learning_decay=1.0, learning_offset=1.0)
    b = GaussianMixtureEM(1, learning_decay=1.0, learning_offset=1.0)
    for start in range(0, 600, 300):
        rows = slice(start, start + 300)
        a.partial_fit(X[rows], sample_weight=weights[rows])
        b.partial_fit(np.repeat(X[rows], weights[rows], axis=0))
    # Batches are averaged with equal weight, so compare per-batch repetition.
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-10)


def test_n_features_checked_across_batches():
    online = GaussianMixtureEM(2, random_state=0).partial_fit(stream(100, 6))
    with pytest.raises(ValueError, match="features"):
        online.partial_fit(stream(100, 7, n_features=3))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixtureEM(5).partial_fit(stream(4, 8))


def test_fit_and_partial_fit_hand_over_to_each_other():
    X = stream(2_000, 9)
    gm = GaussianMixtureEM(4, random_state=0)
    for start in range(0, 2_000, 500):
        gm.partial_fit(X[start : start + 500])
    means = gm.means_.copy()
    # warm_start: exact batch EM continues from where partial_fit stopped.
    gm.set_params(warm_start=True, tol=1e-6).fit(X)
    assert gm.converged_
    assert np.abs(gm.means_ - means).max() < 0.2
    # After fit, running statistics restart from the fitted parameters.
    gm.partial_fit(X[:500])
    assert gm.n_steps_ == 1 and gm.n_samples_seen_ == 500


def test_partial_fit_with_missing_values_and_dtypes():
    X = stream(3_000, 10)
    X[np.random.RandomState(0).uniform(size=X.shape) < 0.2] = np.nan
    gm = GaussianMixtureEM(4, random_state=0)
    for start in range(0, 3_000, 1_000):
        gm.partial_fit(X[start : start + 1_000])
    assert np.isfinite(gm.means_).all()
    gm.partial_fit(stream(500, 11).astype(np.float32))
    assert gm.means_.dtype == np.float64


def test_invalid_learning_parameters():
    with pytest.raises(InvalidParameterError, match="learning_decay"):
        GaussianMixtureEM(learning_decay=1.5).partial_fit(stream(50, 12))
    with pytest.raises(InvalidParameterError, match="learning_offset"):
        GaussianMixtureEM(learning_offset=-1.0).fit(stream(50, 12))


def test_explicit_initial_parameters_are_used():
    X = stream(400, 13)
    init = explicit_init(X, 4, "full")
    gm = GaussianMixtureEM(4, learning_decay=0.0, **init).partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        batch = GaussianMixtureEM(4, max_iter=1, **init).fit(X)
    np.testing.assert_allclose(gm.means_, batch.means_, rtol=1e-12)

"""partial_fit: stepwise (online) EM over running sufficient statistics."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skgmm import GaussianMixtureEM
from skgmm._online import step_size
from tests.conftest import COVARIANCE_TYPES, explicit_init, reference_m_step, reference_missing_e_step


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


def _with_missing(X, fraction, seed):
    X = X.copy()
    X[np.random.RandomState(seed).uniform(size=X.shape) < fraction] = np.nan
    return X[~np.isnan(X).all(axis=1)]  # rows with nothing observed carry nothing


def _start_near_the_stream(covariance_type, n_components=4, n_features=4):
    centers = np.random.RandomState(123).normal(scale=3.0, size=(n_components, n_features))
    precisions = {
        "full": np.tile(0.7 * np.eye(n_features), (n_components, 1, 1)),
        "tied": 0.7 * np.eye(n_features),
        "diag": np.full((n_components, n_features), 0.7),
        "spherical": np.full(n_components, 0.7),
    }[covariance_type]
    return dict(
        weights_init=np.full(n_components, 1 / n_components),
        means_init=centers + np.random.RandomState(5).normal(scale=0.5, size=centers.shape),
        precisions_init=precisions,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_partial_fit_with_missing_values_is_stepwise_em(covariance_type):
    # Stepwise EM written out (Cappe & Moulines 2009, as partial_fit's docstring
    # says), over a row-by-row Ghahramani-Jordan E-step: the running statistics
    # after step t are sum_j c_j s_j, with s_j batch j's statistics per unit of
    # row weight under the parameters before step j, and c_j = eta_j prod_{l>j}
    # (1 - eta_l), eta_0 = 1, eta_t = (t + learning_offset) ** -learning_decay.
    # The M-step of such a combination is a weighted M-step over all rows seen,
    # each row of batch j weighted by c_j w_i / sum(w in batch j).
    n_steps, n_batch = 4, 200
    X = _with_missing(stream(n_steps * n_batch, 10), 0.2, seed=0)
    batches = np.array_split(X, n_steps)
    batch_weights = [np.random.RandomState(t).uniform(0.5, 2.0, len(b)) for t, b in enumerate(batches)]
    init = _start_near_the_stream(covariance_type)
    gm = GaussianMixtureEM(4, covariance_type=covariance_type, **init)
    for batch, weight in zip(batches, batch_weights):
        gm.partial_fit(batch, sample_weight=weight)

    weights, means, precisions = init["weights_init"], init["means_init"], init["precisions_init"]
    covariances = np.linalg.inv(precisions) if covariance_type in ("full", "tied") else 1 / precisions
    coefficients, e_steps, lower_bounds = [], [], []
    for t, (batch, weight) in enumerate(zip(batches, batch_weights)):
        eta = 1.0 if t == 0 else (t + gm.learning_offset) ** -gm.learning_decay
        resp, x_hat, cond_cov, log_likelihood = reference_missing_e_step(
            batch, weights, means, covariances, covariance_type
        )
        lower_bounds.append(np.average(log_likelihood, weights=weight))
        coefficients = [c * (1 - eta) for c in coefficients] + [eta * weight / weight.sum()]
        e_steps.append((resp, x_hat, cond_cov))
        weights, means, covariances = reference_m_step(
            np.concatenate(coefficients),
            *(np.concatenate(parts) for parts in zip(*e_steps)),
            covariance_type,
            gm.reg_covar,
        )
    # The c_j are non-negative and sum to 1, so blending adds no rounding beyond
    # the batches' own: each batch statistic is a sum of n_batch terms of one sign
    # (at most n_batch * eps relative), and the parameters of step t carry the
    # earlier steps' errors through EM's contraction, at most adding them up:
    # n_steps * n_batch * eps (measured: 10 eps).  The M-step's margin on nk is
    # 10 eps of a row's weight, negligible here.  Step sizes off by one step move
    # the means by 5e-3.
    eps = np.finfo(np.float64).eps
    rtol = n_steps * n_batch * eps
    assert gm.n_steps_ == n_steps and gm.n_samples_seen_ == len(X)
    np.testing.assert_allclose(gm.weights_, weights, rtol=0, atol=rtol)
    np.testing.assert_allclose(gm.means_, means, rtol=0, atol=rtol * np.abs(means).max())
    np.testing.assert_allclose(gm.covariances_, covariances, rtol=0, atol=rtol * np.abs(covariances).max())
    np.testing.assert_allclose(gm.lower_bounds_, lower_bounds, rtol=rtol)


def test_unit_steps_with_missing_values_are_batch_em():
    # eta = 1 (learning_decay=0): each call is one exact missing-data EM iteration.
    X = _with_missing(stream(600, 11), 0.25, seed=1)
    init = _start_near_the_stream("full")
    online = GaussianMixtureEM(4, learning_decay=0.0, **init)
    for _ in range(3):
        online.partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        batch = GaussianMixtureEM(4, max_iter=3, tol=0, **init).fit(X)
    # The same sums; partial_fit divides them by the total weight, one rounding
    # a step, and the M-step's margin on nk (10 eps of a row's weight) scales with
    # them.  The M-step turns inputs one rounding apart into parameters a few
    # roundings apart (covariances of condition number below 2), and EM from
    # this start contracts, so the 3 steps add at most: 3 x 10 eps (measured 2).
    eps = np.finfo(np.float64).eps
    rtol = 3 * 10 * eps
    np.testing.assert_allclose(online.weights_, batch.weights_, rtol=rtol)
    np.testing.assert_allclose(online.means_, batch.means_, rtol=0, atol=rtol * np.abs(batch.means_).max())
    np.testing.assert_allclose(
        online.covariances_, batch.covariances_, rtol=0, atol=rtol * np.abs(batch.covariances_).max()
    )
    np.testing.assert_allclose(online.lower_bounds_, batch.lower_bounds_, rtol=rtol)


def test_partial_fit_keeps_the_fitted_dtype():
    gm = GaussianMixtureEM(4, random_state=0).partial_fit(stream(500, 10))
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

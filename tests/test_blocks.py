"""Blocked passes equal one-block passes; threads do not change results."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skgmm.covariance import COVARIANCE_MODELS
from skgmm.engine.blocks import em_pass, estimate, resp_stats
from skgmm.engine.mstep import m_step, prepare_pass
from skgmm.engine.threads import BlockRunner, block_slices, choose_block_size

from .conftest import mixture_10d


@pytest.fixture
def problem(covariance_type):
    X, labels = mixture_10d(n_samples=211, seed=4)
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=len(X))
    model = COVARIANCE_MODELS[covariance_type]
    with BlockRunner(len(X), len(X), n_threads=1) as runner:
        stats = resp_stats(runner, X, weights, labels % 4, model, 4)
    params = m_step(stats, model, 1e-6, X.dtype)
    return X, weights, model, params


def _pass(X, weights, model, params, block_size, n_threads):
    with BlockRunner(len(X), block_size, n_threads=n_threads) as runner:
        stats = em_pass(runner, X, weights, prepare_pass(model, params, X.dtype))
        norm, log_resp = estimate(runner, X, prepare_pass(model, params, X.dtype))
    return stats, norm, log_resp


@pytest.mark.parametrize("block_size", [1, 7, 64, 211])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_block_size_and_threads_do_not_change_the_pass(problem, block_size, n_threads):
    X, weights, model, params = problem
    reference = _pass(X, weights, model, params, len(X), 1)
    stats, norm, log_resp = _pass(X, weights, model, params, block_size, n_threads)
    assert_allclose(stats.resp_sum, reference[0].resp_sum, rtol=1e-12)
    assert_allclose(stats.resp_x_sum, reference[0].resp_x_sum, rtol=1e-12, atol=1e-10)
    assert_allclose(stats.scatter, reference[0].scatter, rtol=1e-12, atol=1e-10)
    assert_allclose(stats.log_likelihood, reference[0].log_likelihood, rtol=1e-12)
    assert_allclose(norm, reference[1], rtol=1e-12)
    assert_allclose(log_resp, reference[2], rtol=1e-12, atol=1e-12)
    new, ref_new = m_step(stats, model, 1e-6, X.dtype), m_step(reference[0], model, 1e-6, X.dtype)
    # Parameters differ from statistics by a Cholesky factorisation, which may
    # amplify the 1e-12 differences by the covariances' condition number.
    for a, b in zip(new[:4], ref_new[:4]):  # the arrays (not m_step_state)
        assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_labels_match_log_resp(problem):
    X, _, model, params = problem
    pk = prepare_pass(model, params, X.dtype)
    with BlockRunner(len(X), 13, n_threads=2) as runner:
        _, labels = estimate(runner, X, pk, want="labels")
        _, log_resp = estimate(runner, X, pk, want="log_resp")
    assert_array_equal(labels, log_resp.argmax(axis=1))


def test_block_slices_cover_rows_once():
    slices = block_slices(10, 3)
    covered = np.concatenate([np.arange(10)[s] for s in slices])
    assert_array_equal(covered, np.arange(10))
    assert choose_block_size(5, 3, 2) == 5
    assert choose_block_size(10**7, 16, 16) < 10**6


def test_block_buffers_are_a_small_share_of_mid_sized_data():
    """The largest per-block temporary is at most an eighth of X's values (above a floor)."""
    from skgmm.engine.threads import MIN_BUDGET_ELEMENTS

    n_samples, n_components, n_features = 100_000, 8, 16
    rows = choose_block_size(n_samples, n_components, n_features)
    largest = rows * n_components * (n_features + 2)
    assert largest <= max(MIN_BUDGET_ELEMENTS, n_samples * n_features // 8) * 1.01
    # large data keep the cache-sized budget
    assert choose_block_size(10**6, 16, 16) * 16 * 18 > 2**19

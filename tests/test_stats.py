"""Sufficient statistics: merging, recentring and scaling."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skgmm.covariance import COVARIANCE_MODELS
from skgmm.engine.blocks import resp_stats
from skgmm.engine.threads import BlockRunner


def _stats(X, resp, covariance_type):
    with BlockRunner(len(X), len(X), n_threads=1) as runner:
        return resp_stats(runner, X, None, resp, COVARIANCE_MODELS[covariance_type], resp.shape[1])


@pytest.fixture
def rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 3)) * [1.0, 10.0, 0.1] + 5.0
    resp = rng.dirichlet(np.ones(4), size=90)
    return X, resp


def _naive_scatter(X, resp, shift, kind):
    full = np.einsum("nk,nkd,nke->kde", resp, X[:, None] - shift, X[:, None] - shift)
    return {"full": full, "tied": full.sum(0), "diag": np.diagonal(full, axis1=1, axis2=2)}[kind]


def test_stats_match_naive_sums(rows, covariance_type):
    X, resp = rows
    stats = _stats(X, resp, covariance_type)
    means = (resp.T @ X) / resp.sum(0)[:, None]
    assert_allclose(stats.shift, means, rtol=1e-12)
    assert_allclose(stats.resp_sum, resp.sum(0), rtol=1e-12)
    assert_allclose(stats.resp_x_sum, 0, atol=1e-10)
    assert_allclose(stats.scatter, _naive_scatter(X, resp, means, stats.scatter_kind), rtol=1e-10)


def test_merge_is_associative_and_equals_one_pass(rows, covariance_type):
    X, resp = rows
    parts = [_stats(X[s], resp[s], covariance_type) for s in (slice(0, 30), slice(30, 60), slice(60, 90))]
    whole = _stats(X, resp, covariance_type)
    from skgmm.engine.stats import merge_stats

    left = merge_stats(merge_stats(parts[0], parts[1]), parts[2])
    right = merge_stats(parts[0], merge_stats(parts[1], parts[2]))
    for merged in (left, right):
        merged = merged.recentred(whole.shift)
        assert_allclose(merged.resp_sum, whole.resp_sum, rtol=1e-12)
        assert_allclose(merged.resp_x_sum, whole.resp_x_sum, atol=1e-9)
        assert_allclose(merged.scatter, whole.scatter, rtol=1e-10)
        assert merged.weight_sum == whole.weight_sum


def test_recentre_round_trip(rows, covariance_type):
    X, resp = rows
    stats = _stats(X, resp, covariance_type)
    moved = stats.recentred(stats.shift + 2.0).recentred(stats.shift)
    assert_allclose(moved.scatter, stats.scatter, rtol=1e-11)
    assert_allclose(moved.resp_x_sum, stats.resp_x_sum, atol=1e-9)


def test_merge_refuses_mixed_kinds(rows):
    from skgmm.engine.stats import merge_stats

    X, resp = rows
    with pytest.raises(ValueError, match="Cannot merge"):
        merge_stats(_stats(X, resp, "full"), _stats(X, resp, "diag"))


def test_scaled(rows):
    X, resp = rows
    stats = _stats(X, resp, "full")
    double = stats.scaled(2.0)
    assert_allclose(double.scatter, 2 * stats.scatter)
    assert double.weight_sum == 2 * stats.weight_sum

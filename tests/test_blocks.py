"""Blocked passes equal one-block passes; threads do not change results."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skgmm.covariance import COVARIANCE_MODELS
from skgmm.engine import blocks
from skgmm.engine.blocks import em_pass, estimate, labelled_stats, resp_stats
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
        peak, labels = estimate(runner, X, pk, want="labels")
        norm, log_resp = estimate(runner, X, pk, want="log_resp")
    assert_array_equal(labels, log_resp.argmax(axis=1))
    # with labels, each row's largest term: finite exactly where the log-likelihood is
    assert_array_equal(peak, (log_resp + norm[:, None]).max(axis=1))


def _labelled_truth(X, weights, labels, n_labelled, scatter_kind):
    """Statistics of hard labels 0 .. n_labelled - 1, centred on each label's mean, from the definition."""
    resp_sum, means, scatter = [], [], []
    for k in range(n_labelled):
        rows, w = X[labels == k].astype(np.float64), weights[labels == k]
        resp_sum.append(w.sum())
        means.append(w @ rows / w.sum())
        diff = rows - means[-1]
        scatter.append((diff * w[:, None]).T @ diff)
    scatter = np.array(scatter)
    if scatter_kind == "diag":
        scatter = np.diagonal(scatter, axis1=1, axis2=2)
    elif scatter_kind == "tied":
        scatter = scatter.sum(axis=0)
    return np.array(resp_sum), np.array(means), scatter


@pytest.mark.parametrize("scatter_kind", ["full", "tied", "diag"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("compiled_moments", [True, False], ids=["compiled", "numpy"])
def test_labelled_stats_are_the_labels_centred_sums(
    scatter_kind, dtype, weighted, compiled_moments, monkeypatch
):
    # chunks of 1024 rows: labels of 1,000-1,700 rows span two, centred on their first one's mean
    monkeypatch.setattr(blocks, "LABELLED_CHUNK_VALUES", 1024)
    if not compiled_moments:  # 'diag': the numpy sums, not the compiled per-label moments
        monkeypatch.setattr(blocks, "kmeans_kernels", lambda: None)
    elif scatter_kind == "diag" and blocks.kmeans_kernels() is None:
        pytest.skip("the compiled per-label moments need the C kernels, not built in this install")
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(6000, 3)) * [1.0, 10.0, 0.1] + 1e4).astype(dtype)  # far from the origin
    labels = rng.randint(-1, 4, size=len(X))  # -1: rows of no component (left out)
    weights = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    stats = labelled_stats(X, weights, labels, 5, scatter_kind)  # component 4: no rows
    resp_sum, means, scatter = _labelled_truth(
        X, np.ones(len(X)) if weights is None else weights, labels, 4, scatter_kind
    )
    centred = stats.recentred(np.vstack([means, stats.shift[4:]]))
    assert_allclose(centred.resp_sum, np.append(resp_sum, 0), rtol=1e-13)
    # about the reference means, each within rounding of |x| ~ 1e4: n_k eps |x| per label, a few times
    eps = np.finfo(np.float64).eps
    assert_allclose(centred.resp_x_sum, 0, atol=10 * len(X) / 4 * eps * np.abs(X).max())
    ours = centred.scatter if scatter_kind == "tied" else centred.scatter[:4]
    # float32 rows are summed in float64 too: a few hundred float64 roundings of the largest entry
    tolerance = 1e3 * eps
    assert_allclose(ours, scatter, rtol=tolerance, atol=tolerance * np.abs(scatter).max())
    if scatter_kind != "tied":
        assert_array_equal(centred.scatter[4], 0)
    assert stats.n_rows == len(X) and stats.scatter_kind == scatter_kind
    assert stats.weight_sum == pytest.approx(len(X) if weights is None else weights.sum(), rel=1e-14)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "VEV"])
def test_labels_and_their_one_hot_responsibilities_give_the_same_statistics(covariance_type):
    # labels run the labelled sums where the kernel is not the fused one (more than 8 features), the
    # one-hot responsibilities the strategy's own sums; with every row labelled they are the same
    X, labels = mixture_10d(n_samples=3000, seed=2)
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=len(X))
    model = COVARIANCE_MODELS[covariance_type]
    one_hot = np.eye(4)[labels % 4]
    with BlockRunner(len(X), 700, n_threads=2) as runner:
        a = resp_stats(runner, X, weights, labels % 4, model, 4)
        b = resp_stats(runner, X, weights, one_hot, model, 4).recentred(a.shift)
    assert_allclose(a.resp_sum, b.resp_sum, rtol=1e-13)
    assert_allclose(a.resp_x_sum, b.resp_x_sum, atol=1e-10 * np.abs(b.scatter).max() ** 0.5)
    assert_allclose(a.scatter, b.scatter, rtol=1e-12, atol=1e-12 * np.abs(b.scatter).max())


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

"""skgmm._kmeans_certified: scikit-learn's k-means++ seeds from direct distances, each decision checked."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

from skgmm import _kmeans
from skgmm import _kmeans_certified as certified

kernels = pytest.importorskip("skgmm._kmeans_kernels", reason="the C kernels were not built")


def _seed(X, weights, n_clusters, seed, n_threads=1, offset=None):
    state = np.random.RandomState(seed)
    n_local_trials = 2 + int(np.log(n_clusters))
    indices = certified.seed(
        X, weights, n_clusters, state, offset, n_local_trials, kernels, _kmeans._Threads(n_threads)
    )
    return indices, state


def _sklearn_seeds(X, weights, n_clusters, seed):
    state = np.random.RandomState(seed)
    _, indices = sklearn_kmeans_plusplus(X, n_clusters, sample_weight=weights, random_state=state)
    return indices, state


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_seeds_and_draws_as_sklearn(weighted, n_threads, monkeypatch):
    """Ordinary data: every decision is certain, and the seeds and the random state are sklearn's."""
    monkeypatch.setattr(certified, "BLOCK_ROWS", 64)  # many blocks and searches
    rng = np.random.RandomState(0)
    for n_samples, n_features, n_clusters in [(3000, 5, 8), (1000, 1, 3), (517, 17, 20), (4000, 64, 4)]:
        X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.1, 10, size=n_features) + 3
        weights = rng.uniform(0, 2, size=n_samples) if weighted else None
        if weighted:
            weights[rng.uniform(size=n_samples) < 0.2] = 0.0
        indices, state = _seed(X, weights, n_clusters, n_samples, n_threads)
        expected, expected_state = _sklearn_seeds(X, weights, n_clusters, n_samples)
        assert indices is not None, (n_samples, n_features)
        assert_array_equal(indices, expected)
        assert_array_equal(state.get_state()[1], expected_state.get_state()[1])
        assert state.get_state()[2:] == expected_state.get_state()[2:]


def test_gives_up_on_ties_and_the_exact_seeding_takes_over(monkeypatch):
    """Repeated rows make candidates tie (and sklearn's rounding decide): no answer, then the exact one."""
    X = np.repeat(np.random.RandomState(1).randint(0, 3, size=(6, 2)).astype(np.float64), 50, axis=0)
    indices, _ = _seed(X, None, 5, 0)
    assert indices is None
    monkeypatch.setattr(_kmeans, "SMALL_ROWS", 0)
    calls = []
    seed = certified.seed
    monkeypatch.setattr(certified, "seed", lambda *args: calls.append(seed(*args)) or calls[-1])
    expected, expected_state = _sklearn_seeds(X, None, 5, 0)
    state = np.random.RandomState(0)
    assert_array_equal(_kmeans.kmeans_plusplus(X, None, 5, state), expected)
    assert calls == [None]
    assert_array_equal(state.get_state()[1], expected_state.get_state()[1])


def test_a_draw_on_a_boundary_is_not_certain():
    """The margin: a draw at a running sum itself, or below its bound, is too close to call."""
    X = np.random.RandomState(2).normal(size=(200, 3))
    seeding = certified._Seeding(X, None, None, kernels, _kmeans._Threads(1))
    block_sums = seeding.first_pass(X[:1])
    cumulative = np.cumsum(seeding.closest)
    for value in [cumulative[50], cumulative[50] * (1 + 1e-15), cumulative[50] * (1 - 1e-15)]:
        with pytest.raises(certified._Uncertain):
            seeding.draw(np.array([value]), block_sums[:, 0], None)
    middle = (cumulative[49] + cumulative[50]) / 2
    assert_array_equal(seeding.draw(np.array([middle]), block_sums[:, 0], None), [50])
    with pytest.raises(certified._Uncertain):
        seeding.best(np.array([3.0, 2.0, 2.0 * (1 + 1e-14)]))
    assert seeding.best(np.array([3.0, 2.0, 2.5])) == 1


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(1000, 16), (999, 13), (37, 3), (2049, 24), (50, 1)])
def test_pass_and_search_kernels(shape, order):
    """seed_pass's distances, minima and block sums, and seed_search's positions, against numpy."""
    rng = np.random.RandomState(3)
    n_samples, _ = shape
    X = np.asarray(rng.normal(size=shape), order=order)
    offset, weight = X.mean(axis=0), rng.uniform(size=n_samples)
    centered = X - offset
    closest = np.empty(n_samples)
    first_sums = np.empty((-(-n_samples // 64), 1))
    norm_sum = kernels.seed_pass(X, offset, weight, closest, None, centered[[3]], True, 64, first_sums)
    first = ((centered - centered[3]) ** 2).sum(axis=1)
    assert_allclose(closest, first, rtol=1e-13, atol=1e-13)
    assert_allclose(norm_sum, (weight * (centered**2).sum(axis=1)).sum(), rtol=1e-12)
    assert_allclose(
        first_sums[:, 0], np.add.reduceat(weight * first, np.arange(0, n_samples, 64)), rtol=1e-12
    )

    update, centers = centered[10], centered[[5, 6, 7, 8, 9]]
    sums = np.empty((-(-n_samples // 64), 5))
    kernels.seed_pass(X, offset, weight, closest, update, centers, False, 64, sums)
    updated = np.minimum(first, ((centered - update) ** 2).sum(axis=1))
    assert_allclose(closest, updated, rtol=1e-13, atol=1e-13)
    smallest = np.minimum(updated[:, None], ((centered[:, None] - centers) ** 2).sum(axis=2))
    expected = np.add.reduceat(weight[:, None] * smallest, np.arange(0, n_samples, 64), axis=0)
    assert_allclose(sums, expected, rtol=1e-12)

    running = np.cumsum(weight * np.minimum(updated, ((centered - centers[2]) ** 2).sum(axis=1)))
    targets = np.array([running[-1] * 0.3, 0.0, running[-1] * 2, running[0] / 2])
    index, below, above = kernels.seed_search(X, offset, weight, closest, centers[2], targets)
    assert_array_equal(index[:2], np.searchsorted(running, targets[:2]))
    assert index[2] == -1 and index[3] == 0
    assert_allclose(above[[0, 3]], running[index[[0, 3]]], rtol=1e-13)
    assert below[3] == 0.0


def test_wrong_arguments_are_errors():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="multiple of SEED_TILE"):
        kernels.seed_pass(
            X, np.zeros(2), None, np.empty(10), None, np.zeros((1, 2)), True, 12, np.empty((1, 1))
        )
    with pytest.raises(ValueError, match="no update with first"):
        kernels.seed_pass(
            X, np.zeros(2), None, np.empty(10), np.zeros(2), np.zeros((1, 2)), True, 8, np.empty((2, 1))
        )

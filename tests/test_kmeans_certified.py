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


def _gemm_step(X, offset, weight, centers):
    """Labels and sums of one block as the matrix-product step forms them (assign_and_sum)."""
    block = X - offset
    products = block @ centers.T
    labels = np.full(len(X), -1, dtype=np.int32)
    sums, weight_sums = np.zeros_like(centers), np.zeros(len(centers))
    no_weight = np.empty(0)
    norms = np.einsum("ij,ij->i", centers, centers)
    kernels.assign_and_sum(
        block, no_weight if weight is None else weight, products, norms, labels, sums, weight_sums,
        weight is not None, True,
    )  # fmt: skip
    return labels, sums, weight_sums


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_features, n_clusters", [(1, 2), (5, 3), (16, 8), (17, 9), (64, 64)])
def test_lloyd_step_labels_and_sums_as_the_products(order, weighted, n_features, n_clusters):
    """Certain rows: the labels of the matrix products, and the same sums bit for bit."""
    rng = np.random.RandomState(n_features)
    X = np.asarray(rng.normal(size=(1003, n_features)) * 3 + 10, order=order)
    offset = X.mean(axis=0)
    weight = rng.uniform(0, 2, size=len(X)) if weighted else None
    centers = X[rng.choice(len(X), n_clusters, replace=False)] - offset
    expected_labels, expected_sums, expected_weights = _gemm_step(X, offset, weight, centers)
    labels = np.zeros(len(X), dtype=np.int32)
    sums, weight_sums, changed = np.zeros_like(centers), np.zeros(n_clusters), np.zeros(1, np.int32)
    bound = float(np.einsum("ij,ij->i", centers, centers).max())
    uncertain = kernels.lloyd_step(
        X, offset, weight, centers, bound, labels, sums, weight_sums, True, changed, {}
    )
    assert uncertain == 0
    assert_array_equal(labels, expected_labels)
    assert_array_equal(sums, expected_sums)
    assert_array_equal(weight_sums, expected_weights)
    assert changed[0] == 1
    # the same labels again: nothing changed; without update the sums stay
    changed[0] = 0
    assert (
        kernels.lloyd_step(X, offset, weight, centers, bound, labels, sums, weight_sums, False, changed, {})
        == 0
    )
    assert changed[0] == 0
    assert_array_equal(sums, expected_sums)


def test_lloyd_step_leaves_rows_too_close_to_call():
    """A row midway between two centres (or a NaN) is not certain: nothing but the scratch is written."""
    X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [5.0, 5.0]])
    offset = np.zeros(2)
    centers = np.array([[0.0, 0.0], [2.0, 0.0]])  # row 1 is as far from both
    labels = np.full(4, 7, dtype=np.int32)
    sums, weight_sums, changed = np.zeros((2, 2)), np.zeros(2), np.zeros(1, np.int32)
    assert (
        kernels.lloyd_step(X, offset, None, centers, 4.0, labels, sums, weight_sums, True, changed, {}) == 1
    )
    assert_array_equal(labels, 7)
    assert_array_equal(sums, 0) and changed[0] == 0
    X[1] = [np.nan, 0.0]
    assert (
        kernels.lloyd_step(X, offset, None, centers, 4.0, labels, sums, weight_sums, True, changed, {}) == 1
    )
    # more centres than the kernel takes: every row sent back
    many = np.zeros((kernels.LLOYD_MAX_CENTERS + 1, 2))
    sums, weight_sums = np.zeros_like(many), np.zeros(len(many))
    assert (
        kernels.lloyd_step(X[:1], offset, None, many, 1.0, labels[:1], sums, weight_sums, True, changed, {})
        > 0
    )


def test_kmeans_with_ties_falls_back_to_the_products(monkeypatch):
    """Integer data with rows midway between centres: those blocks take the matrix products, and the
    fit is still KMeans' (labels, centres, iterations)."""
    from sklearn.cluster import KMeans

    rng = np.random.RandomState(3)
    X = rng.randint(0, 4, size=(20_000, 2)).astype(np.float64)
    calls = []
    step = kernels.lloyd_step
    monkeypatch.setattr(kernels, "lloyd_step", lambda *args: calls.append(step(*args)) or calls[-1])
    monkeypatch.setattr(_kmeans, "BLOCK_ROWS", 512)
    result = _kmeans.kmeans(X, None, 6, np.random.RandomState(0))
    expected = KMeans(6, n_init=1, random_state=0).fit(X)
    assert any(calls) and not all(calls)  # some blocks certain, some sent back
    assert_array_equal(result.labels, expected.labels_)
    assert_array_equal(result.centers, expected.cluster_centers_)
    assert result.n_iter == expected.n_iter_

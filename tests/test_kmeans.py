"""skgmm._kmeans against scikit-learn's KMeans: the same labels, draws and centres, without a copy of X."""

import re
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus
from sklearn.cluster._kmeans import _tolerance as sklearn_tolerance
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skgmm import _kmeans
from skgmm._init import init_kmeans, init_kmeans_plusplus

from .conftest import mixture_10d


def _data_sets():
    rng = np.random.RandomState(0)
    lattice = rng.randint(0, 4, size=(40, 3)).astype(np.float64)
    return {
        "blobs": make_blobs(n_samples=2000, n_features=5, centers=6, random_state=0)[0],
        "overlapping": rng.normal(size=(3000, 4)),
        # exact ties everywhere: repeated rows of a small integer lattice
        "duplicates": np.repeat(lattice, 25, axis=0),
        "one feature": rng.normal(size=(2500, 1)),
        "far from the origin": rng.normal(scale=1e-3, size=(2000, 3)) + 1e4,
        "mixture_10d": mixture_10d(n_samples=1500)[0],
    }


DATA_SETS = _data_sets()


def _weights(kind, n_samples, dtype, seed=0):
    if kind == "none":
        return None
    rng = np.random.RandomState(seed)
    weights = rng.uniform(0.1, 3.0, size=n_samples)
    if kind == "with zeros":
        weights[rng.uniform(size=n_samples) < 0.3] = 0.0
    return weights.astype(dtype)


def _fit_both(X, weights, n_clusters, seed, **kwargs):
    """(sklearn's KMeans, ours, sklearn's random state, ours), each from RandomState(seed)."""
    sklearn_state, our_state = np.random.RandomState(seed), np.random.RandomState(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = KMeans(n_clusters, n_init=1, random_state=sklearn_state, **kwargs).fit(
            X, sample_weight=weights
        )
        ours = _kmeans.kmeans(X, weights, n_clusters, our_state, **kwargs)
    return reference, ours, sklearn_state, our_state


def _assert_same_state(state, expected):
    got, want = state.get_state(), expected.get_state()
    assert_array_equal(got[1], want[1])
    assert got[2:] == want[2:]


def _assert_same_as_sklearn(X, weights, n_clusters, seed, **kwargs):
    reference, ours, sklearn_state, our_state = _fit_both(X, weights, n_clusters, seed, **kwargs)
    assert_array_equal(ours.labels, reference.labels_)
    assert ours.n_iter == reference.n_iter_
    _assert_same_state(our_state, sklearn_state)
    rtol = 1e-5 if X.dtype == np.float32 else 1e-12
    scale = np.abs(X).max()
    assert_allclose(ours.centers, reference.cluster_centers_, rtol=rtol, atol=rtol * scale)
    return ours


@pytest.fixture(params=["certified", "compiled", "numpy", "small"])
def path(request, monkeypatch):
    """Run with the compiled loops (even under SKGMM_COMPILED=0; skipped where they were not built), or numpy's,
    the blocked exact seeding at every size; or ("small") the exact seeding of small float64 data on one array
    where it applies; or ("certified") the checked seeding of float64 data from direct distances."""
    if request.param == "certified":
        kernels = pytest.importorskip("skgmm._kmeans_kernels", reason="the C kernels were not built")
        monkeypatch.setattr(_kmeans, "_kernels", lambda: kernels)
        monkeypatch.setattr(_kmeans, "SMALL_ROWS", 0)
        return request.param
    monkeypatch.setattr(_kmeans, "CERTIFIED", False)
    if request.param == "small":
        return request.param
    monkeypatch.setattr(_kmeans, "SMALL_ROWS", 0)
    if request.param == "numpy":
        kernels = None
    else:
        kernels = pytest.importorskip("skgmm._kmeans_kernels", reason="the C kernels were not built")
    monkeypatch.setattr(_kmeans, "_kernels", lambda: kernels)
    return request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(DATA_SETS))
def test_labels_and_draws_as_sklearn(name, dtype, path):
    X = DATA_SETS[name].astype(dtype)
    for weights_kind in ["none", "positive", "with zeros"]:
        weights = _weights(weights_kind, len(X), dtype)
        for n_clusters, seed in [(1, 0), (3, 1), (8, 2)]:
            _assert_same_as_sklearn(X, weights, n_clusters, seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_data_as_sklearn(dtype, path):
    """More rows than one block and than one OpenMP chunk per thread; many Lloyd steps."""
    X = np.random.RandomState(3).normal(size=(60_000, 6)).astype(dtype)
    ours = _assert_same_as_sklearn(X, None, 5, 0)
    assert ours.n_iter > 10
    _assert_same_as_sklearn(X, _weights("with zeros", len(X), dtype), 5, 1)


@pytest.mark.parametrize("level", [1, 0], ids=["avx2", "baseline"])
def test_every_copy_of_the_compiled_loops_as_sklearn(level, monkeypatch):
    """The AVX2 and baseline copies of the C loops round as the best one (and as sklearn)."""
    import ctypes

    kernels = pytest.importorskip("skgmm._kmeans_kernels", reason="the C kernels were not built")
    cap = kernels._library.skgmm_kmeans_cap_simd_level
    cap.argtypes, cap.restype = [ctypes.c_int], ctypes.c_int
    if cap(2) < level:
        pytest.skip("this CPU does not run that copy")
    monkeypatch.setattr(_kmeans, "_kernels", lambda: kernels)
    X = np.random.RandomState(4).normal(size=(20_000, 5))
    try:
        assert cap(level) == level
        for dtype in (np.float64, np.float32):
            _assert_same_as_sklearn(X.astype(dtype), _weights("positive", len(X), dtype), 4, 2)
    finally:
        cap(2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_data_and_one_cluster_per_row(dtype, path):
    rng = np.random.RandomState(4)
    for n_samples in [1, 2, 5, 50, 257, 513]:
        X = rng.normal(size=(n_samples, 3)).astype(dtype)
        for n_clusters in sorted({1, max(1, n_samples // 2), n_samples}):
            _assert_same_as_sklearn(X, None, n_clusters, n_samples)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_clusters_relocated_as_sklearn(dtype, path, monkeypatch):
    """Initial centres far from the data leave clusters empty: sklearn's relocation fills them."""
    relocated = []
    relocate = _kmeans._Lloyd.relocate_empty_clusters

    def spy(self, centers_old, center_sums, weight_in_clusters, labels):
        before = center_sums.copy()
        relocate(self, centers_old, center_sums, weight_in_clusters, labels)
        relocated.append(not np.array_equal(before, center_sums))

    monkeypatch.setattr(_kmeans._Lloyd, "relocate_empty_clusters", spy)
    rng = np.random.RandomState(5)
    X = rng.normal(size=(3000, 3)).astype(dtype)
    for seed, weights_kind in enumerate(["none", "positive", "with zeros"]):
        init = np.concatenate([X[:3], rng.normal(size=(3, 3)) * 3 + 30]).astype(dtype)
        relocated.clear()
        ours = _assert_same_as_sklearn(X, _weights(weights_kind, len(X), dtype, seed), 6, seed, init=init)
        assert any(relocated)
        assert len(np.unique(ours.labels)) == 6


def test_more_clusters_than_distinct_rows_warns_as_sklearn(path):
    X = np.repeat(np.arange(3.0)[:, np.newaxis], 10, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(3\) found smaller"):
        ours = _kmeans.kmeans(X, None, 5, np.random.RandomState(0))
    assert len(np.unique(ours.labels)) == 3
    _assert_same_as_sklearn(X, None, 5, 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_other_layouts_as_sklearn(dtype, path):
    """KMeans copies X to C order; F-ordered and strided X give the same labels here."""
    X = np.random.RandomState(6).normal(size=(4000, 10)).astype(dtype)
    _assert_same_as_sklearn(np.asfortranarray(X), None, 4, 0)
    _assert_same_as_sklearn(X[:, ::2], _weights("positive", len(X), dtype), 4, 1)


def test_blocks_and_threads_do_not_change_the_result(monkeypatch):
    """Running totals carried across blocks of any size; shares on any number of threads."""
    X = np.random.RandomState(7).normal(size=(40_000, 5))
    weights = _weights("with zeros", len(X), X.dtype)
    monkeypatch.setattr(_kmeans, "THREADED_MIN_ENTRIES", 0)
    expected = _kmeans.kmeans(X, weights, 6, np.random.RandomState(0), n_threads=1)
    got = _kmeans.kmeans(X, weights, 6, np.random.RandomState(0), n_threads=2)
    assert_array_equal(got.labels, expected.labels)
    assert_array_equal(got.centers, expected.centers)
    monkeypatch.setattr(_kmeans, "BLOCK_ROWS", 300)  # not a multiple of sklearn's 256-row chunks
    _assert_same_as_sklearn(X, weights, 6, 0)


def test_sklearn_on_one_openmp_thread(monkeypatch):
    """The summation order follows sklearn's thread count: one thread sums all rows in order."""
    X = np.random.RandomState(8).normal(size=(20_000, 4)).astype(np.float32)
    monkeypatch.setattr(_kmeans, "_sklearn_threads", lambda: 1)
    with threadpool_limits(limits=1, user_api="openmp"):
        _assert_same_as_sklearn(X, None, 5, 0)


def test_thread_shares_follow_the_static_schedule():
    # 10 chunks of 256 rows on 3 threads: 4, 3 and 3 chunks
    assert _kmeans._thread_shares(2560, 3) == [(0, 1024), (1024, 1792), (1792, 2560)]
    # a short last chunk; no more threads than chunks; fewer rows than a chunk
    assert _kmeans._thread_shares(600, 2) == [(0, 512), (512, 600)]
    assert _kmeans._thread_shares(300, 4) == [(0, 256), (256, 300)]
    assert _kmeans._thread_shares(100, 2) == [(0, 100)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tolerance_and_mean_as_sklearn(dtype, monkeypatch):
    monkeypatch.setattr(_kmeans, "BLOCK_ROWS", 1000)
    X = (np.random.RandomState(9).normal(size=(5500, 7)) * 3 + 100).astype(dtype)
    for layout in [X, np.asfortranarray(X)]:
        mean = _kmeans._column_mean(layout)
        assert_array_equal(mean, X.mean(axis=0))
        assert _kmeans._tolerance(layout, mean, 1e-4) == sklearn_tolerance(X, 1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_plusplus_as_sklearn(dtype, path):
    rng = np.random.RandomState(10)
    for X in [DATA_SETS["blobs"], DATA_SETS["duplicates"], rng.normal(size=(9000, 2))]:
        X = X.astype(dtype)
        for weights_kind, n_clusters in [("none", 1), ("positive", 4), ("with zeros", 9)]:
            weights = _weights(weights_kind, len(X), dtype)
            sklearn_state, our_state = np.random.RandomState(n_clusters), np.random.RandomState(n_clusters)
            _, expected = sklearn_kmeans_plusplus(
                X, n_clusters, sample_weight=weights, random_state=sklearn_state
            )
            assert_array_equal(_kmeans.kmeans_plusplus(X, weights, n_clusters, our_state), expected)
            _assert_same_state(our_state, sklearn_state)


def test_initialisers_use_it_and_keep_their_signature():
    X = DATA_SETS["blobs"]
    weights = _weights("positive", len(X), X.dtype)
    labels = init_kmeans(X, weights, 4, np.random.RandomState(0))
    reference = KMeans(4, n_init=1, random_state=np.random.RandomState(0)).fit(X, sample_weight=weights)
    assert labels.dtype == np.intp
    assert_array_equal(labels, reference.labels_)
    labels = init_kmeans_plusplus(X, weights, 4, np.random.RandomState(0))
    _, indices = sklearn_kmeans_plusplus(X, 4, sample_weight=weights, random_state=np.random.RandomState(0))
    assert_array_equal(labels[indices], np.arange(4))
    assert (labels >= 0).sum() == 4


def test_several_starts_draw_as_sklearn():
    """n_init > 1 calls the initialiser again on the same RandomState: its state must match too."""
    X = DATA_SETS["overlapping"]
    sklearn_state, our_state = np.random.RandomState(11), np.random.RandomState(11)
    for _ in range(3):
        reference = KMeans(5, n_init=1, random_state=sklearn_state).fit(X)
        assert_array_equal(init_kmeans(X, None, 5, our_state), reference.labels_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_x_neither_copied_nor_written(dtype, path):
    X = np.random.RandomState(12).normal(size=(200_000, 16)).astype(dtype)
    X.flags.writeable = False
    expected = X.copy()
    _kmeans.kmeans(X[:3000], None, 8, np.random.RandomState(0))  # warm up (BLAS)
    tracemalloc.start()
    try:
        _kmeans.kmeans(X, None, 8, np.random.RandomState(0), max_iter=5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_array_equal(X, expected)
    # per-row vectors only (labels, the seeding's closest and candidate distances, unit weights)
    assert peak < 0.6 * X.nbytes, peak / X.nbytes


def test_more_clusters_than_rows_is_an_error():
    X = np.zeros((3, 2))
    for fn in (_kmeans.kmeans, _kmeans.kmeans_plusplus):
        with pytest.raises(ValueError, match=re.escape("n_samples=3 should be >= n_clusters=4")):
            fn(X, None, 4, np.random.RandomState(0))


def test_cumulative_search_and_its_neighbours(monkeypatch):
    monkeypatch.setattr(_kmeans, "SEARCH_BLOCK", 7)
    rng = np.random.RandomState(13)
    closest = rng.uniform(size=50)
    weight = rng.uniform(size=50)
    weight[10:20] = 0.0  # flat stretches of the cumulative sum
    cumulative = np.cumsum(weight * closest)
    values = np.concatenate(
        [[0.0, cumulative[-1] * 2], rng.uniform(0, cumulative[-1], size=20), cumulative[[3, 15]]]
    )
    positions, below, above = _kmeans._search_cumulative(weight, closest, values)
    assert_array_equal(positions, np.searchsorted(cumulative, values))
    padded = np.concatenate([[-np.inf], cumulative, [np.inf]])
    assert_array_equal(below, padded[positions])
    assert_array_equal(above, padded[positions + 1])
    assert np.all((below < values) & (values <= above))
    # the same from running sums known at block ends (the seeding kernel's), then the rows past them
    block_ends = np.array([5, 12, 30])
    found = _kmeans._search_cumulative(weight, closest, values, block_ends, cumulative[block_ends - 1])
    for got, expected in zip(found, [positions, below, above]):
        assert_array_equal(got, expected)


def test_first_potential_on_the_callers_blas_threads_when_a_draw_is_close(monkeypatch):
    """The first potential is summed on one BLAS thread unless a draw could move: then as sklearn does."""
    monkeypatch.setattr(_kmeans, "CERTIFIED", False)  # the exact seeding's rule
    X = np.random.RandomState(14).normal(size=(30_000, 4))
    draws_stand = _kmeans._draws_stand
    # 0.5 * 2.0 = 1.0 is the upper cumulative sum itself: another rounding of 2.0 could pass it
    assert not draws_stand(np.array([0.5]), np.array([2.0]), np.array([0.9]), np.array([1.0]), 10)
    assert draws_stand(np.array([0.5]), np.array([2.0]), np.array([0.5]), np.array([1.5]), 10)
    checks = []

    def never(*args):
        checks.append(args)
        return False

    monkeypatch.setattr(_kmeans, "_draws_stand", never)
    _assert_same_as_sklearn(X, None, 5, 0)
    assert len(checks) == 1


@pytest.mark.parametrize("blas_threads", [1, None])
def test_small_data_seeding_at_its_largest_on_any_blas_threads(blas_threads, monkeypatch):
    """SMALL_ROWS rows, seeded on one array under BLAS limits sklearn does not have: the same seeds."""
    monkeypatch.setattr(_kmeans, "CERTIFIED", False)
    X = np.random.RandomState(15).normal(size=(_kmeans.SMALL_ROWS, 3))
    weights = _weights("positive", len(X), X.dtype)
    _, expected = sklearn_kmeans_plusplus(X, 6, sample_weight=weights, random_state=np.random.RandomState(1))
    reference = KMeans(6, n_init=1, random_state=np.random.RandomState(2)).fit(X)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        assert_array_equal(_kmeans.kmeans_plusplus(X, weights, 6, np.random.RandomState(1)), expected)
        ours = _kmeans.kmeans(X, None, 6, np.random.RandomState(2))
    assert_array_equal(ours.labels, reference.labels_)

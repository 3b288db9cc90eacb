"""Fitting and predicting on Dask collections (issue #8).

A ``distributed.LocalCluster`` (two single-threaded worker processes on the
loopback interface) is started once for the whole test run.  Each test that
uses it gets a client that is made current only inside the test, so no
client leaks out as the process-wide default scheduler.
"""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from skgmm import GaussianMixtureEM
from skgmm.sources import dask as _dask
from tests.conftest import COVARIANCE_TYPES, explicit_init, mixture_10d

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

FITTED = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]
ATOL = 1e-10


@pytest.fixture(scope="session")
def dask_cluster():
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    # In-process nannies write OMP_NUM_THREADS / MALLOC_TRIM_THRESHOLD_ into
    # os.environ, where later subprocesses of the test run would inherit them.
    saved_env = dict(os.environ)
    try:
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster:
            yield cluster
    finally:
        os.environ.clear()
        os.environ.update(saved_env)


@pytest.fixture
def client(dask_cluster):
    from distributed import Client

    with Client(dask_cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        with dask.config.set(scheduler=client.get), client.as_current():
            yield client


def assert_same_model(fitted, reference, atol=ATOL, lower_bounds_atol=None):
    """Same fitted model: to ``atol`` on a scale where the largest entry is 1.

    ``lower_bounds_atol`` (default ``atol``) bounds the difference of the bound
    at every iteration, which can be larger along the way than at the end.
    """
    for name in FITTED:
        expected = getattr(reference, name)
        scale = max(1.0, float(np.abs(expected).max()))  # precisions of tight components are large
        np.testing.assert_allclose(getattr(fitted, name), expected, rtol=0, atol=atol * scale, err_msg=name)
    assert fitted.n_iter_ == reference.n_iter_
    assert fitted.converged_ == reference.converged_
    lower_bounds_atol = atol if lower_bounds_atol is None else lower_bounds_atol
    np.testing.assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=0, atol=lower_bounds_atol)


@pytest.fixture(scope="module")
def data():
    X, labels = mixture_10d(n_samples=1200, seed=2)
    return X, labels


def _fit_pair(X, X_dask, covariance_type, sample_weight=None, dask_weight=None, **params):
    init = explicit_init(np.asarray(X), 4, covariance_type, seed=0)
    params = {
        "n_components": 4,
        "covariance_type": covariance_type,
        "tol": 1e-9,
        "max_iter": 25,
        **init,
        **params,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = GaussianMixtureEM(**params).fit(X, sample_weight=sample_weight)
        fitted = GaussianMixtureEM(**params).fit(X_dask, sample_weight=dask_weight)
    return fitted, reference


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_on_cluster_equals_numpy_fit(client, data, covariance_type):
    X, _ = data
    # Chunks of unequal size, and columns split in two (rechunked internally).
    X_dask = da.from_array(X, chunks=((500, 300, 400), (6, 4)))
    fitted, reference = _fit_pair(X, X_dask, covariance_type)
    assert_same_model(fitted, reference)
    assert fitted.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_fit_without_cluster_equals_numpy_fit(data, scheduler):
    X, _ = data
    X_dask = da.from_array(X.astype(np.float32), chunks=(256, -1))
    with dask.config.set(scheduler=scheduler):
        # tol=0: a float32 lower bound changes by rounding noise near 1e-9, so
        # where each fit stops would depend on summation order, not the model.
        fitted, reference = _fit_pair(X.astype(np.float32), X_dask, "full", tol=0, max_iter=15)
        assert fitted.means_.dtype == np.float32
        assert_same_model(fitted, reference, atol=2e-4)
        labels = fitted.predict(X_dask)
        assert isinstance(labels, da.Array)
        np.testing.assert_array_equal(labels.compute(), reference.predict(X.astype(np.float32)))


def test_sample_weight_dask_array(client, data):
    X, _ = data
    weight = np.random.RandomState(0).randint(0, 4, len(X)).astype(float)
    X_dask = da.from_array(X, chunks=(300, -1))
    # Weights chunked differently from X are rechunked like its rows.
    fitted, reference = _fit_pair(
        X, X_dask, "diag", sample_weight=weight, dask_weight=da.from_array(weight, chunks=250)
    )
    assert_same_model(fitted, reference)
    assert fitted.score(X_dask, sample_weight=weight) == pytest.approx(
        reference.score(X, sample_weight=weight)
    )


def test_lazy_predictions_equal_numpy(client, data):
    X, _ = data
    X_dask = da.from_array(X, chunks=(350, -1))
    fitted, reference = _fit_pair(X, X_dask, "full")
    for method in ["predict", "predict_proba", "score_samples"]:
        lazy = getattr(fitted, method)(X_dask)
        assert isinstance(lazy, da.Array), method
        assert lazy.chunks[0] == X_dask.chunks[0], method
        expected = getattr(reference, method)(X)
        assert lazy.dtype == expected.dtype, method
        np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=ATOL, err_msg=method)
    assert isinstance(fitted.labels_, da.Array)
    np.testing.assert_array_equal(fitted.labels_.compute(), reference.labels_)
    for method in ["score", "bic", "aic"]:
        value = getattr(fitted, method)(X_dask)
        assert isinstance(value, float), method
        assert value == pytest.approx(getattr(reference, method)(X), rel=1e-12), method


def test_dask_dataframe_keeps_feature_names(client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, _ = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    fitted, reference = _fit_pair(frame, dd.from_pandas(frame, npartitions=3), "spherical")
    np.testing.assert_array_equal(fitted.feature_names_in_, frame.columns)
    assert_same_model(fitted, reference)
    labels = fitted.predict(dd.from_pandas(frame, npartitions=2))
    np.testing.assert_array_equal(labels.compute(), reference.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(dd.from_pandas(frame.rename(columns={"f0": "other"}), npartitions=2))


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_kmeans_initialisations_on_dask(client, init_params):
    X, labels = make_blobs(1500, n_features=3, centers=4, cluster_std=0.8, random_state=0)
    X_dask = da.from_array(X, chunks=(400, -1))
    model = GaussianMixtureEM(4, init_params=init_params, random_state=0, max_iter=200)
    predicted = model.fit_predict(X_dask)
    assert isinstance(predicted, da.Array)
    assert adjusted_rand_score(labels, predicted.compute()) > 0.95
    assert model.converged_


def test_random_initialisation_on_dask_matches_numpy_in_distribution(client):
    # Random responsibilities give every component nearly the data's mean and
    # covariance, whether drawn on a sample (dask) or on all rows (numpy).
    X, _ = make_blobs(1500, n_features=3, centers=4, cluster_std=0.8, random_state=0)
    params = dict(n_components=3, init_params="random", max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = GaussianMixtureEM(**params).fit(da.from_array(X, chunks=(400, -1)))
        reference = GaussianMixtureEM(**params).fit(X)
    spread = X.std(axis=0)
    np.testing.assert_allclose(fitted.means_, reference.means_, atol=0.1 * spread.max())
    np.testing.assert_allclose(fitted.covariances_, reference.covariances_, atol=0.1 * spread.max() ** 2)
    np.testing.assert_allclose(fitted.weights_, 1 / 3, atol=0.05)


def test_random_from_data_draws_rows_by_weight(client):
    X, _ = mixture_10d(n_samples=900, seed=2)
    weight = np.zeros(len(X))
    weight[::3] = 1.0  # only every third row may be drawn
    X_dask = da.from_array(X, chunks=(200, -1))
    for seed in range(3):
        model = GaussianMixtureEM(5, init_params="random_from_data", max_iter=0, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_dask, sample_weight=da.from_array(weight, chunks=200))
        # With max_iter=0 the means are the drawn rows: distinct rows of weight 1.
        distances = np.linalg.norm(X[None] - model.means_[:, None], axis=2)
        rows = distances.argmin(axis=1)
        np.testing.assert_allclose(distances.min(axis=1), 0, atol=1e-10)
        assert np.all(weight[rows] == 1)
        assert len(set(rows)) == 5


def test_client_memory_stays_far_below_data_size(client, monkeypatch):
    psutil = pytest.importorskip("psutil")
    # The initialisation sample is the one thing of many rows that reaches the
    # client (100,000 rows by default); keep it small next to X here.
    monkeypatch.setattr(_dask, "INIT_SAMPLE_SIZE", 10_000)
    process = psutil.Process()
    n_samples, n_features = 2_000_000, 8
    chunk_rows = 250_000

    def make_X(seed):
        # Generated on the workers; never exists on the client.
        rng = da.random.default_rng(seed)
        noise = rng.standard_normal((n_samples, n_features), chunks=(chunk_rows, n_features))
        centre = rng.integers(0, 3, size=(n_samples, 1), chunks=(chunk_rows, 1)) * 4.0
        return noise + centre

    def fit(X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return GaussianMixtureEM(3, init_params="k-means++", max_iter=4, random_state=0).fit(X)

    fit(make_X(1)[:50_000])  # warm up imports and caches on the client
    peak = [process.memory_info().rss]
    baseline = peak[0]
    done = threading.Event()

    def sample_rss():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    try:
        X = make_X(0)
        model = fit(X)
    finally:
        done.set()
        sampler.join()
    growth = peak[0] - baseline
    assert X.nbytes == 128_000_000
    assert growth < X.nbytes / 4, f"client RSS grew by {growth / 2**20:.1f} MiB"
    assert np.sort(model.means_.mean(axis=1)) == pytest.approx([0, 4, 8], abs=0.05)


def test_worker_killed_mid_fit_gives_same_model(client, monkeypatch, tmp_path):
    log = str(tmp_path / "loads.txt")  # one line per chunk load, from any process

    def load_chunk(block_id=None):
        # Runs on the workers: records which chunk was loaded by which process.
        with open(log, "a") as file:
            file.write(f"{block_id[0]} {os.getpid()}\n")
        rng = np.random.default_rng(block_id[0])
        return rng.standard_normal((5_000, 4)) + rng.integers(0, 2, (5_000, 1)) * 5

    def loads():
        with open(log) as file:
            return [line.split() for line in file]

    X = da.map_blocks(load_chunk, chunks=((5_000,) * 12, (4,)), dtype=np.float64)
    params = dict(n_components=2, tol=0, max_iter=6, init_params="random_from_data", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = GaussianMixtureEM(**params).fit(X)

        original = _dask._DaskPass.__call__
        calls, killed = [], {}

        def pass_killing_a_worker(self, *args):
            calls.append(1)
            if len(calls) == 3:  # between iterations 2 and 3: lose the chunks of one worker
                held = {
                    worker: {key[1] for key in keys if isinstance(key, tuple) and key[0] == X.name}
                    for worker, keys in client.has_what().items()
                }
                worker = max(held, key=lambda w: len(held[w]))
                others = set().union(*(chunks for w, chunks in held.items() if w != worker))
                killed.update(address=worker, pid=client.run(os.getpid)[worker])
                killed["only_there"] = held[worker] - others
                killed["loads_before"] = len(loads())
                os.kill(killed["pid"], signal.SIGKILL)
            return original(self, *args)

        monkeypatch.setattr(_dask._DaskPass, "__call__", pass_killing_a_worker)
        fitted = GaussianMixtureEM(**params).fit(X)
    assert len(calls) == 6
    # The worker died: the scheduler removed it unexpectedly, and it is not back
    # under its process id.
    removals = [event for _, event in client.get_events("all") if event.get("action") == "remove-worker"]
    assert any(event.get("worker") == killed["address"] and not event.get("expected") for event in removals)
    assert killed["pid"] not in client.run(os.getpid).values()
    # Its chunks (held nowhere else) were computed again, by the other worker, once.
    assert killed["only_there"], "the killed worker held none of X"
    reloaded = loads()[killed["loads_before"] :]
    assert sorted(int(chunk) for chunk, _ in reloaded) == sorted(killed["only_there"])
    assert all(int(pid) != killed["pid"] for _, pid in reloaded)
    assert_same_model(fitted, reference)


def test_grid_search_with_joblib_dask_backend(client):
    joblib = pytest.importorskip("joblib")
    from sklearn.model_selection import GridSearchCV

    X, _ = mixture_10d(n_samples=400, seed=4)
    grid = {"n_components": [1, 2, 4], "covariance_type": ["full", "diag"]}
    search = GridSearchCV(GaussianMixtureEM(random_state=0), grid, cv=2)
    with joblib.parallel_backend("dask"):
        distributed_search = GridSearchCV(GaussianMixtureEM(random_state=0), grid, cv=2, n_jobs=-1).fit(X)
    search.fit(X)
    assert distributed_search.best_params_ == search.best_params_
    np.testing.assert_allclose(
        distributed_search.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"], rtol=1e-12
    )


def test_invalid_input_raises_on_dask(client, data):
    X, _ = data
    X_nan = X.copy()
    X_nan[700, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity.*NumPy input only"):
        GaussianMixtureEM(2).fit(da.from_array(X_nan, chunks=(300, -1)))
    weight = np.ones(len(X))
    weight[5] = -1
    with pytest.raises(ValueError, match="Negative values"):
        GaussianMixtureEM(2).fit(da.from_array(X, chunks=(300, -1)), sample_weight=weight)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixtureEM(5).fit(da.from_array(X[:4], chunks=(2, -1)))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        GaussianMixtureEM(2).fit(da.from_array(X, chunks=(300, -1)), sample_weight=np.ones(3))


def test_missing_dask_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"pip install 'skgmm\[dask\]'"):
        _dask._import_dask()


def test_dask_check_is_duck_typed():
    assert _dask.is_dask_collection(da.zeros((3, 2)))
    assert not _dask.is_dask_collection(np.zeros((3, 2)))
    assert not _dask.is_dask_collection(da.Array)


def test_one_compute_per_iteration_and_no_final_pass(data, monkeypatch):
    X, _ = data
    X_dask = da.from_array(X, chunks=(300, -1))
    computes = []
    original = dask.compute

    def counting_compute(*args, **kwargs):
        computes.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", counting_compute)
    init = explicit_init(X, 3, "full")
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixtureEM(3, tol=0, max_iter=5, **init).fit(X_dask)
    # The scan pass, then one compute per iteration; labels_ stays lazy.
    assert model.n_iter_ == 5
    assert len(computes) == 1 + 5


def test_warm_start_on_dask_continues_like_numpy(data):
    X, _ = data
    X_dask = da.from_array(X, chunks=(400, -1))
    params = dict(n_components=3, warm_start=True, max_iter=2, tol=0, **explicit_init(X, 3, "diag"))
    params["covariance_type"] = "diag"
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = GaussianMixtureEM(**params).fit(X_dask).fit(X_dask)
        reference = GaussianMixtureEM(**params).fit(X).fit(X)
    assert_same_model(fitted, reference)


def test_scan_draws_a_uniform_sample_of_distinct_rows(monkeypatch):
    n_rows, n_chunks, sample_size = 20_000, 20, 2_000
    monkeypatch.setattr(_dask, "INIT_SAMPLE_SIZE", sample_size)
    X = np.arange(2.0 * n_rows).reshape(n_rows, 2)  # row i is (2i, 2i + 1)
    X_chunks = _dask._chunk_delayed(da.from_array(X, chunks=(n_rows // n_chunks, 2)))
    counts = np.zeros(n_chunks)
    with dask.config.set(scheduler="synchronous"):
        for seed in range(5):
            scan = _dask._scan(dask, X_chunks, None, "kmeans", 1, 3, np.random.RandomState(seed), n_rows)
            ((_, rows, weights),) = scan.samples
            index = (rows[:, 0] / 2).astype(int)
            assert len(np.unique(index)) == sample_size
            np.testing.assert_array_equal(rows[:, 1], rows[:, 0] + 1)
            np.testing.assert_array_equal(weights, 1.0)
            counts += np.bincount(index // (n_rows // n_chunks), minlength=n_chunks)
    assert scan.n_rows == n_rows and scan.weight_sum == n_rows
    # 100 rows per chunk and draw on average: 500 over five draws (sd about 21).
    assert np.all(np.abs(counts - 500) < 100)


def _scale_cases():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 3))
    constant = X.copy()
    constant[:, 1] = 2.5
    tiny = X.copy()
    tiny[:, 2] *= 1e-4
    huge = X * 1e160
    return [
        (
            constant,
            dict(reg_covar=0.0),
            pytest.raises(ValueError, match=r"Feature\(s\) \[1\] of X are constant"),
        ),
        (
            tiny,
            dict(),
            pytest.warns(UserWarning, match=r"reg_covar=1e-06 is larger than .* feature\(s\) \[2\]"),
        ),
        (huge, dict(), pytest.raises(ValueError, match="too large for float64")),
    ]


@pytest.mark.parametrize("index", range(3))
def test_data_scale_checks_as_for_numpy(index):
    """The data-scale checks of skgmm._degenerate run on Dask input too, from merged chunk moments."""
    X, params, numpy_expectation = _scale_cases()[index]
    with numpy_expectation:
        GaussianMixtureEM(2, random_state=0, max_iter=5, **params).fit(X)
    _, _, dask_expectation = _scale_cases()[index]
    with dask.config.set(scheduler="synchronous"), dask_expectation:
        GaussianMixtureEM(2, random_state=0, max_iter=5, **params).fit(da.from_array(X, chunks=(170, -1)))


# -- empty components ---------------------------------------------------------------
_FAR_START_PRECISIONS = {
    "full": np.tile(np.eye(2), (3, 1, 1)),
    "tied": np.eye(2),
    "diag": np.ones((3, 2)),
    "spherical": np.ones(3),
}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_empty_component_is_reseeded_as_for_numpy(covariance_type):
    """A start with one mean far from all data: re-seeded on the same row as on NumPy input."""
    from skgmm import DegenerateDataWarning

    X, _ = make_blobs(n_samples=300, n_features=2, centers=[[0, 0], [10, 0], [0, 10]], random_state=0)
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        weights_init=[1 / 3] * 3,  # every *_init given: the same start on both paths
        means_init=[[0, 0], [5, 5], [1e3, 1e3]],
        precisions_init=_FAR_START_PRECISIONS[covariance_type],
    )
    message = r"Components \[2\] lost all their data during EM and were re-seeded"
    with pytest.warns(DegenerateDataWarning, match=message):
        reference = GaussianMixtureEM(**params).fit(X)
    with dask.config.set(scheduler="synchronous"), pytest.warns(DegenerateDataWarning, match=message):
        fitted = GaussianMixtureEM(**params).fit(da.from_array(X, chunks=(70, -1)))
    # The first pass is centred on the start's mixture mean, o = (335, 335), 460-476
    # from every row.  Its expanded quadratic forms |y|^2 - 2 y.m + |m|^2
    # ('tied', 'diag', 'spherical') and the move of its sums from o onto the means
    # cancel terms of size |x - o|^2 / sigma^2 (sigma^2 = 1, the start's variance), so
    # both fits leave iteration 1 with parameters that differ, by summation order
    # (one block against 70-row chunks, and the BLAS kernel's), by about
    # eps * max|x - o|^2 = 5e-11 relative; measured 6e-11.  For 'tied' EM then
    # spends iterations 2-11 leaving a saddle (one component shares two blobs),
    # where the bound's sensitivity to a relative change of the iteration-1
    # parameters peaks at 8.4 (finite differences from perturbed starts: a property
    # of the data and the start).  Bound on the bound's difference: sensitivity 10
    # x 4 roundings of that size = 40 eps max|x - o|^2 = 2.0e-9 (measured 1.2e-10 with
    # OpenBLAS's SkylakeX kernels, 3.3e-11 with Haswell's).  Later passes are centred
    # near the data and EM contracts at the end, so the parameters agree to ATOL;
    # a re-seed on another row would move the bound by O(1).
    start_origin = np.asarray(params["weights_init"]) @ np.asarray(params["means_init"], dtype=float)
    far = float(((X - start_origin) ** 2).sum(axis=1).max())
    assert_same_model(fitted, reference, lower_bounds_atol=40 * np.finfo(np.float64).eps * far)
    assert np.all(fitted.weights_ > 0.3)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_far_start_does_not_depend_on_the_blocks(covariance_type):
    """docs/guarantees.rst: results do not depend on the block size (relative 1e-9)."""
    X, _ = make_blobs(n_samples=300, n_features=2, centers=[[0, 0], [10, 0], [0, 10]], random_state=0)
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        weights_init=[1 / 3] * 3,
        means_init=[[0, 0], [5, 5], [1e6, 1e6]],  # the far component is re-seeded
        precisions_init=_FAR_START_PRECISIONS[covariance_type],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the re-seed's DegenerateDataWarning
        reference = GaussianMixtureEM(**params).fit(X)
        with dask.config.set(scheduler="synchronous"):
            fitted = GaussianMixtureEM(**params).fit(da.from_array(X, chunks=(70, -1)))
    # Sums taken about a point inside the data (within 15 of every row, sigma = 1)
    # would differ between blockings by about eps * 15**2 = 5e-14 per pass, and by
    # the path's sensitivity (below 10, see the re-seed test above) times that
    # along the fit: far below the documented 1e-9.
    assert fitted.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=1e-9)


def test_too_few_distinct_rows_on_dask_warn_without_crashing():
    from skgmm import DegenerateDataWarning

    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], 10, axis=0)
    init = dict(
        weights_init=[0.25] * 4,
        means_init=[[0, 0], [1, 1], [2, 2], [50, 50]],
        precisions_init=np.tile(np.eye(2), (4, 1, 1)),
    )
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = GaussianMixtureEM(4, **init).fit(da.from_array(X, chunks=(7, -1)))
    messages = [str(w.message) for w in caught if issubclass(w.category, DegenerateDataWarning)]
    assert any("received no data" in m and "3 distinct samples for 4 components" in m for m in messages), (
        messages
    )
    assert not any("re-seeded" in m for m in messages), messages
    assert fitted.weights_[3] < 1e-12


def test_empty_component_is_reseeded_on_a_cluster(client):
    from skgmm import DegenerateDataWarning

    X, _ = make_blobs(n_samples=300, n_features=2, centers=[[0, 0], [10, 0], [0, 10]], random_state=0)
    params = dict(
        n_components=3,
        weights_init=[1 / 3] * 3,
        means_init=[[0, 0], [5, 5], [1e3, 1e3]],
        precisions_init=_FAR_START_PRECISIONS["full"],
    )
    with pytest.warns(DegenerateDataWarning, match="re-seeded"):
        reference = GaussianMixtureEM(**params).fit(X)
    with pytest.warns(DegenerateDataWarning, match="re-seeded"):
        fitted = GaussianMixtureEM(**params).fit(da.from_array(X, chunks=(70, -1)))
    assert_same_model(fitted, reference)

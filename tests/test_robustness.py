"""Defects of the reliability review (#13), each pinned by the test that would have caught it.

Weights of any scale, float32 far from the origin, rows no component can
produce, Dask predictions on NaN and inf, partial_fit through joblib,
warm_start after set_params, score's sample_weight, concurrent predictions and
the BLAS limit, and warnings that name the user's line.
"""

import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

from skgmm import DegenerateDataWarning, GaussianMixtureEM

from .conftest import COVARIANCE_TYPES


def _quiet_fit(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


# -- weights of any scale -------------------------------------------------------
def _data_with_a_small_cluster(dtype, n_large=20_000, n_small=10):
    rng = np.random.RandomState(0)
    big = rng.normal(size=(n_large, 2))
    small = rng.normal(scale=0.1, size=(n_small, 2)) + [30.0, 30.0]
    return np.vstack([big, small]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", ["1/n", 1e-9, 1e6])
def test_scaling_the_weights_does_not_change_the_model(dtype, scale):
    """Only relative weights matter: 1/n, 1e-9 and 1e6 give the unit-weight model."""
    X = _data_with_a_small_cluster(dtype)
    n = len(X)
    factor = 1.0 / n if scale == "1/n" else scale
    start = dict(
        weights_init=[0.5, 0.5], means_init=[[0.0, 0.0], [30.0, 30.0]], tol=0, max_iter=10, random_state=0
    )
    unit = _quiet_fit(GaussianMixtureEM(2, **start), X)
    scaled = _quiet_fit(GaussianMixtureEM(2, **start), X, sample_weight=np.full(n, factor, dtype))
    # The small cluster (10 of 20,010 rows) keeps its own component.
    assert unit.weights_[1] == pytest.approx(10 / n, rel=1e-3)
    # Scaled weights change only the rounding of the sums: eps of the dtype,
    # times the number of rows summed (float64 accumulation: eps64 * n).
    rtol = 1e3 * np.finfo(dtype).eps
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(scaled, name), getattr(unit, name), rtol=rtol, atol=rtol, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_component_test_does_not_depend_on_weight_scale(dtype):
    """A real cluster of 10 rows among 100k is not taken for an empty component."""
    X = _data_with_a_small_cluster(dtype, n_large=100_000)
    weights = np.full(len(X), 1.0 / len(X), dtype)
    gm = GaussianMixtureEM(
        2, weights_init=[0.5, 0.5], means_init=[[0.0, 0.0], [30.0, 30.0]], max_iter=20, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)  # no re-seeding, no "received no data"
        _quiet_fit(gm, X, sample_weight=weights)
    assert_allclose(gm.means_[1], X[-10:].astype(np.float64).mean(axis=0), rtol=1e-4)


# -- float32 far from a component's origin ------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_accurate_for_clusters_far_apart(covariance_type):
    """Two clusters 1e4 standard deviations apart: float32 scores within float32 rounding of float64."""
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) + 1e4])
    means = [[0.0] * 3, [1e4] * 3]
    params = dict(
        weights_init=[0.5, 0.5], means_init=means, tol=0, max_iter=5, covariance_type=covariance_type
    )
    X32 = X.astype(np.float32)
    # The reference fits the same (float32-rounded) rows in float64.
    fit64 = _quiet_fit(GaussianMixtureEM(2, **params), X32.astype(np.float64))
    fit32 = _quiet_fit(GaussianMixtureEM(2, **params), X32)
    assert fit32.means_.dtype == np.float32
    # float32 arithmetic on a row 1e4 from the mixture mean loses eps32 * 5e3 =
    # 6e-4 standard deviations, which moves its log-density (and the unit
    # variances) by about that much: 1e-2 and 1e-3 leave a margin.  The
    # expanded square formed in float32 was off by about a nat.
    assert_allclose(fit32.score_samples(X32), fit64.score_samples(X32), atol=1e-2)
    assert_allclose(fit32.covariances_, fit64.covariances_, atol=1e-3)


# -- rows no component can produce ----------------------------------------------
@pytest.mark.parametrize("dtype, far", [(np.float64, 1e200), (np.float32, 1e20)])
def test_rows_no_component_can_produce_raise_in_predictions(dtype, far):
    X = np.random.RandomState(0).normal(size=(200, 2)).astype(dtype)
    gm = GaussianMixtureEM(2, random_state=0).fit(X)
    bad = np.array([[far, 0.0], [0.0, 0.0]], dtype)
    assert np.isneginf(gm.score_samples(bad)[0])
    for method in ("predict_proba", "predict"):
        with pytest.raises(ValueError, match=r"Rows \[0\] are so far from every component"):
            getattr(gm, method)(bad)
    assert_allclose(gm.predict_proba(bad[1:]).sum(axis=1), 1.0, rtol=1e-6)


# -- Dask predictions behave as NumPy ------------------------------------------
def test_dask_predictions_on_nan_and_inf_rows_as_numpy():
    da = pytest.importorskip("dask.array")
    import dask

    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 6])
    gm = GaussianMixtureEM(2, random_state=0).fit(X)
    X_nan = X.copy()
    X_nan[::7, 1] = np.nan
    X_nan[3] = np.nan
    lazy = da.from_array(X_nan, chunks=(64, -1))
    with dask.config.set(scheduler="synchronous"):
        assert_allclose(gm.score_samples(lazy).compute(), gm.score_samples(X_nan), rtol=1e-12)
        assert_allclose(gm.predict_proba(lazy).compute(), gm.predict_proba(X_nan), rtol=1e-12, atol=1e-300)
        assert_array_equal(gm.predict(lazy).compute(), gm.predict(X_nan))
        X_inf = X.copy()
        X_inf[5, 0] = np.inf
        with pytest.raises(ValueError, match="infinity"):
            gm.predict(X_inf)
        with pytest.raises(ValueError, match="infinity"):
            gm.predict(da.from_array(X_inf, chunks=(64, -1))).compute()


# -- partial_fit state through joblib / pickle ------------------------------------
def test_partial_fit_continues_after_joblib_dump_and_load(tmp_path):
    joblib = pytest.importorskip("joblib")
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 5])
    rng.shuffle(X)
    gm = GaussianMixtureEM(2, random_state=0)
    for batch in np.array_split(X[:500], 10):
        gm.partial_fit(batch)
    joblib.dump(gm, tmp_path / "model.joblib")  # numpy arrays are stored apart: identity is lost
    copy = joblib.load(tmp_path / "model.joblib")
    gm.partial_fit(X[500:600])
    copy.partial_fit(X[500:600])
    assert copy.n_steps_ == gm.n_steps_ == 11
    assert_array_equal(copy.means_, gm.means_)
    assert_array_equal(copy.covariances_, gm.covariances_)


def test_fit_restarts_the_running_statistics():
    X = np.random.RandomState(0).normal(size=(300, 2))
    gm = GaussianMixtureEM(2, random_state=0)
    gm.partial_fit(X[:100]).partial_fit(X[100:200])
    gm.fit(X)
    gm.partial_fit(X[:50])
    assert gm.n_steps_ == 1


# -- warm_start and partial_fit after set_params --------------------------------
@pytest.mark.parametrize(
    "change, match",
    [
        (dict(n_components=3), "n_components is 3 but the fitted model has 2"),
        (dict(covariance_type="diag"), "covariance_type is 'diag'"),
    ],
)
def test_warm_start_after_set_params_names_the_parameter(change, match):
    X = np.random.RandomState(0).normal(size=(300, 2))
    gm = GaussianMixtureEM(2, warm_start=True, random_state=0).fit(X)
    gm.set_params(**change)
    with pytest.raises(ValueError, match=match):
        gm.fit(X)
    with pytest.raises(ValueError, match=match):
        gm.partial_fit(X)


def test_warm_start_with_other_features_names_them():
    X = np.random.RandomState(0).normal(size=(300, 3))
    gm = GaussianMixtureEM(2, warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="The fitted model has 3 features but X has 2"):
        gm.fit(X[:, :2])


# -- score's sample_weight is validated as fit's ---------------------------------
@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(50), "Negative values"),
        (np.r_[np.nan, np.ones(49)], "NaN"),
        (np.ones(7), "sample_weight.shape"),
        (np.zeros(50), "non-zero"),
    ],
)
def test_score_validates_sample_weight(weights, match):
    X = np.random.RandomState(0).normal(size=(50, 2))
    gm = GaussianMixtureEM(1).fit(X)
    with pytest.raises(ValueError, match=match):
        gm.score(X, sample_weight=weights)


def test_score_with_weights_is_the_weighted_mean():
    X = np.random.RandomState(0).normal(size=(50, 2))
    gm = GaussianMixtureEM(1).fit(X)
    weights = np.random.RandomState(1).uniform(0, 2, 50)
    assert gm.score(X, sample_weight=weights) == pytest.approx(
        np.average(gm.score_samples(X), weights=weights)
    )


# -- concurrent calls and the BLAS limit -----------------------------------------
def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_concurrent_predictions_on_many_blocks_restore_the_blas_limit():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60_000, 8))  # several blocks per call: worker threads and the BLAS limit
    gm = GaussianMixtureEM(4, max_iter=2, random_state=0)
    _quiet_fit(gm, X[:2000])
    before = _blas_threads()
    expected = gm.predict_proba(X)
    results, errors = [None] * 8, []
    barrier = threading.Barrier(8)

    def run(i):
        try:
            barrier.wait()
            results[i] = gm.predict_proba(X)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        assert_array_equal(result, expected)
    assert _blas_threads() == before


# -- warnings point at the user's line ---------------------------------------------
def test_warnings_name_the_callers_line():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], 10, axis=0)
    with pytest.warns(DegenerateDataWarning) as record:
        GaussianMixtureEM(3, random_state=0).fit(X)
    assert {w.filename for w in record} == {__file__}
    with pytest.warns(ConvergenceWarning) as record:
        GaussianMixtureEM(2, max_iter=1, random_state=0).fit(np.random.RandomState(0).normal(size=(100, 2)))
    assert {w.filename for w in record} == {__file__}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unaligned_data_fits_as_aligned_data(dtype):
    """An array read from a buffer at an odd offset (not aligned to its type) is fitted, not refused."""
    X = np.random.RandomState(0).normal(size=(3000, 3)).astype(dtype)
    buffer = np.zeros(X.nbytes + 1, np.uint8)
    buffer[1:] = np.frombuffer(X.tobytes(), np.uint8)
    unaligned = np.frombuffer(buffer.data[1:], dtype=dtype).reshape(X.shape)
    assert not unaligned.flags.aligned
    a = GaussianMixtureEM(3, random_state=0).fit(unaligned)
    b = GaussianMixtureEM(3, random_state=0).fit(X)
    assert a.lower_bound_ == b.lower_bound_
    assert_array_equal(a.predict(unaligned), b.predict(X))

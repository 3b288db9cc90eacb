"""The fused row kernel (skgmm/covariance/kernels/fused.py): C against its numpy twin, and when it runs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp

from skgmm.covariance import get_covariance_model
from skgmm.covariance.kernels import fused
from skgmm.engine.blocks import _statistics
from skgmm.engine.logsumexp import exp_floor
from skgmm.engine.mstep import estimate_parameters, prepare_pass

from .test_compiled_kernels import compiled, simd_level  # noqa: F401 (fixtures used by name)
from .test_covariance import _data, _random_params

kernels = pytest.importorskip(
    "skgmm.covariance.kernels._compiled",
    reason="the C kernels were not built (no compiler)",
    exc_type=ImportError,
)


def _inputs(n_rows, n_features, n_components, diagonal, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.normal(scale=2.0, size=(n_rows, n_features)).astype(dtype)
    origin = X.astype(np.float64).mean(axis=0)
    means = rng.normal(scale=2.0, size=(n_components, n_features))
    if diagonal:
        precision = rng.uniform(0.3, 2.0, size=(n_components, n_features))
    else:
        precision = np.triu(rng.normal(size=(n_components, n_features, n_features)) * 0.3)
        precision[:, np.arange(n_features), np.arange(n_features)] = rng.uniform(
            0.5, 2.0, (n_components, n_features)
        )
    constant = rng.normal(size=n_components)
    weights = rng.uniform(0.2, 2.0, n_rows).astype(dtype)
    return X, weights, origin, means, precision, constant


def _both(X, weights, origin, means, precision, constant, diagonal_scatter, mode, resp=None):
    """The C kernel's output and the numpy twin's, for the same inputs."""
    kind = "diag" if diagonal_scatter else "full"
    spec = fused.FusedKernel(precision, kind)
    floor = exp_floor(X.dtype)
    parameters = np.concatenate((origin, means.ravel(), precision.ravel(), constant))
    c_resp = None if resp is None else resp.copy()
    got = kernels.fused_rows(
        X, weights, parameters, len(constant), precision.ndim == 2, diagonal_scatter, mode, floor, c_resp
    )
    np_resp = None if resp is None else resp.copy()
    expected = fused._numpy_rows(X, weights, origin, means, spec, constant, mode, floor, np_resp)
    return got, expected, c_resp, np_resp


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-12)])
@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("diagonal_scatter", [False, True])
@pytest.mark.parametrize(
    "n_rows, n_features, n_components",
    # wide data (more than 8 features): the register tiles, with rows and columns past their multiples
    [(1, 1, 1), (150, 4, 9), (613, 3, 5), (300, 8, 2), (613, 13, 5), (37, 9, 3), (1000, 16, 4), (7, 20, 2)],
)
@pytest.mark.usefixtures("simd_level")
def test_em_mode_matches_numpy(dtype, rtol, diagonal, diagonal_scatter, n_rows, n_features, n_components):
    """E-step and sums in float64 whatever the rows' type, on every copy of the kernel.

    Both compute in float64 from the same inputs, so they agree to the
    rounding of float64 sums over a few hundred rows (float32 rows are
    converted exactly).
    """
    inputs = _inputs(n_rows, n_features, n_components, diagonal, dtype=dtype)
    got, expected, _, _ = _both(*inputs, diagonal_scatter, fused.EM)
    assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [5, 14])
@pytest.mark.usefixtures("simd_level")
def test_given_and_log_prob_modes_match_numpy(dtype, n_features):
    X, weights, origin, means, precision, constant = _inputs(300, n_features, 4, False, dtype=dtype)
    resp = np.random.RandomState(1).dirichlet(np.ones(4), size=300).astype(dtype)
    got, expected, _, _ = _both(X, None, origin, means, precision, constant, False, fused.GIVEN, resp)
    assert_allclose(got[1:], expected[1:], rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    out = np.empty((300, 4), dtype=dtype)
    _, _, c_out, np_out = _both(X, None, origin, means, precision, constant, False, fused.LOG_PROB, out)
    assert c_out.dtype == dtype
    assert_allclose(c_out, np_out, rtol=1e-12 if dtype == np.float64 else 1e-6)


def test_log_sum_exp_is_the_engines():
    """Terms far below a row's peak are floored, not lost; the log-likelihood is scipy's logsumexp."""
    X, _, origin, means, precision, constant = _inputs(50, 2, 3, True)
    constant = np.array([0.0, -800.0, -5.0])  # component 1: below the floor everywhere
    parameters = np.concatenate((origin, means.ravel(), precision.ravel(), constant))
    out = kernels.fused_rows(X, None, parameters, 3, True, True, fused.EM, exp_floor(X.dtype))
    log_prob = np.empty((50, 3))
    kernels.fused_rows(X, None, parameters, 3, True, True, fused.LOG_PROB, exp_floor(X.dtype), log_prob)
    assert_allclose(out[0], logsumexp(log_prob, axis=1).sum(), rtol=1e-13)
    resp_sum = out[1:4]
    assert resp_sum[1] > 0 and resp_sum[1] < 1e-250  # floored to exp(floor) a row, as the engine does
    assert_allclose(resp_sum.sum(), 50, rtol=1e-13)


def test_impossible_rows_and_nan():
    """A row no component can produce: log-likelihood -inf (responsibilities 1/K); NaN propagates."""
    X, _, origin, means, precision, constant = _inputs(4, 2, 2, True)
    constant = np.array([-np.inf, -np.inf])
    parameters = np.concatenate((origin, means.ravel(), precision.ravel(), constant))
    out = kernels.fused_rows(X, None, parameters, 2, True, True, fused.EM, exp_floor(X.dtype))
    assert out[0] == -np.inf
    assert_allclose(out[1:3], [2.0, 2.0])
    X = X.copy()
    X[1, 0] = np.nan
    parameters[-2:] = 0.0
    out = kernels.fused_rows(X, None, parameters, 2, True, True, fused.EM, exp_floor(X.dtype))
    assert np.isnan(out[0]) and np.isnan(out[1:]).all()


def test_wrapper_checks_its_arrays():
    X, weights, origin, means, precision, constant = _inputs(10, 3, 2, False)
    parameters = np.concatenate((origin, means.ravel(), precision.ravel(), constant))
    floor = exp_floor(X.dtype)
    with pytest.raises(TypeError, match="parameters"):
        kernels.fused_rows(X, None, parameters[:-1], 2, False, False, fused.EM, floor)
    with pytest.raises(TypeError, match="weights"):
        kernels.fused_rows(X, weights[:5], parameters, 2, False, False, fused.EM, floor)
    with pytest.raises(TypeError, match="resp"):
        kernels.fused_rows(X, None, parameters, 2, False, False, fused.GIVEN, floor, np.ones((10, 3)))
    with pytest.raises(ValueError, match="writeable"):
        out = np.empty((10, 2))
        out.flags.writeable = False
        kernels.fused_rows(X, None, parameters, 2, False, False, fused.LOG_PROB, floor, out)
    with pytest.raises(TypeError, match="X must be"):
        kernels.fused_rows(X.astype(np.int64), None, parameters, 2, False, False, fused.EM, floor)


@pytest.mark.parametrize(
    "covariance_type, n_features, runs_fused",
    [("full", 8, True), ("full", 9, True), ("tied", 3, True), ("tied", 12, False), ("diag", 40, True),
     ("spherical", 12, True), ("EEV", 4, True), ("VEI", 6, True), ("EEV", 12, True)],
)  # fmt: skip
@pytest.mark.usefixtures("compiled")
def test_strategies_choose_the_fused_kernel(covariance_type, n_features, runs_fused):
    """Few features (any number for diagonal precisions, and for float64 rows with a scatter per
    component) run the fused kernel, with the C kernels only; float32 rows of many features keep the
    whitening products."""
    model, params = _random_params(covariance_type, n_features)
    assert (prepare_pass(model, params, np.float64).kernel.fused is not None) == runs_fused
    narrow_or_diagonal = n_features <= fused.FUSED_MAX_FEATURES or covariance_type in ("diag", "spherical")
    assert (prepare_pass(model, params, np.float32).kernel.fused is not None) == narrow_or_diagonal


@pytest.mark.usefixtures("compiled")
def test_precision_factors_match_numpy():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(6, 5, 5))
    covariances = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(5)
    factors, failed = kernels.precision_factors(covariances)
    expected = np.linalg.inv(np.linalg.cholesky(covariances)).transpose(0, 2, 1)
    assert failed is None
    assert_allclose(factors, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    assert_allclose(factors @ factors.transpose(0, 2, 1), np.linalg.inv(covariances), rtol=1e-10)
    covariances[3] = np.diag([1.0, 1.0, -1e-3, 1.0, 1.0])
    assert kernels.precision_factors(covariances)[1] == 3
    covariances[2, 0, 0] = np.nan
    assert kernels.precision_factors(covariances)[1] == 2


@pytest.mark.usefixtures("compiled")
def test_strategy_statistics_match_without_the_fused_kernel(covariance_type, monkeypatch):
    """The statistics of one pass are the same from the fused kernel and from the strategies' own kernels."""
    X = _data(n_samples=400, n_features=4, seed=3)
    weights = np.random.RandomState(0).uniform(0.2, 2.0, len(X))
    model, params = _random_params(covariance_type, 4, seed=5)

    def statistics():
        pk = prepare_pass(model, params, X.dtype)
        ll, raw = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, weights, {})
        return pk.kernel.fused is not None, ll, model.statistics(pk.kernel, raw)

    ran_fused, ll, stats = statistics()
    # the strategies imported fused_kernel by name: patch where they look it up
    for module in ("full", "diagonal", "tied"):
        monkeypatch.setattr(f"skgmm.covariance.{module}.fused_kernel", lambda *args, **kwargs: None)
    ran_fused_after, ll_ref, stats_ref = statistics()
    assert ran_fused and not ran_fused_after
    assert_allclose(ll, ll_ref, rtol=1e-12)
    for got, expected in zip(stats, stats_ref):
        assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("covariance_type", ["full", "tied", "VEV"])
def test_m_step_covariances_match_numpy(covariance_type, monkeypatch):
    """The compiled centring of the scatter (and 'full'/'tied' covariances) is numpy's to rounding."""
    X = _data(n_samples=300, n_features=5, seed=8)
    model, params = _random_params(covariance_type, 5, seed=6)
    pk = prepare_pass(model, params, X.dtype)
    ll, raw = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, None, {})
    stats = _statistics(pk, raw, ll, float(len(X)), len(X))
    compiled_estimate = estimate_parameters(stats, get_covariance_model(covariance_type), 1e-6, X.dtype)
    monkeypatch.setattr(fused, "centred_scatter", lambda *args, **kwargs: None)
    for module in ("full", "tied"):
        monkeypatch.setattr(f"skgmm.covariance.{module}.centred_scatter", lambda *args, **kwargs: None)
    reference = estimate_parameters(stats, get_covariance_model(covariance_type), 1e-6, X.dtype)
    for got, expected in zip(compiled_estimate, reference):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-14 * np.abs(expected).max())
    covariances = compiled_estimate[2]
    assert np.array_equal(covariances, np.swapaxes(covariances, -1, -2))  # symmetric to the last bit

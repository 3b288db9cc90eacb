"""The compiled (C) 'full' kernels against numpy, and the engine with and without them."""

import ctypes
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skgmm.covariance import get_covariance_model
from skgmm.covariance import kernels as _compiled
from skgmm.covariance.kernels.full import rows_of_table as _rows_of
from skgmm.engine.mstep import prepare_pass

from .test_covariance import _data, _random_params

kernels = pytest.importorskip(
    "skgmm.covariance.kernels._compiled",
    reason="the C kernels were not built (no compiler)",
    exc_type=ImportError,
)
SWITCHES = ("SKGMM_COMPILED", "SKGMM_NUMBA")


@pytest.fixture
def compiled(monkeypatch):
    """The engine with its compiled kernels, even under SKGMM_COMPILED=0."""
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(_compiled._state, "kernels", raising=False)
    assert _compiled.compiled_kernels() is kernels


@pytest.fixture(params=[2, 1, 0], ids=["avx512", "avx2", "baseline"])
def simd_level(request):
    """Each copy of the kernels in turn (those this CPU runs; the others are skipped)."""
    cap = kernels._library.skgmm_full_cap_simd_level
    cap.argtypes, cap.restype = [ctypes.c_int], ctypes.c_int
    best = cap(2)
    if request.param > best:
        pytest.skip(f"this CPU does not run the {request.param} copy")
    try:
        assert cap(request.param) == request.param
        yield request.param
    finally:
        cap(2)


def _sum_bound(terms, eps):
    """Bound on the rounding error of ``terms.sum(axis=-1)`` in any order, fused or not.

    Each of the n additions and the products before them errs by at most eps
    times a partial sum of absolute values (Higham's gamma_n), plus the
    products' own rounding: (n + 2) eps sum |terms|.
    """
    return (terms.shape[-1] + 2) * eps * np.abs(terms).sum(axis=-1)


def _stacked(n_components, n_features, n_rows, bounds, dtype, seed=0):
    """Whitened rows in the stacked slice layout, and the same per component."""
    rng = np.random.RandomState(seed)
    per_component = rng.normal(size=(n_components, n_features, n_rows)).astype(dtype)
    whitened = np.zeros((n_components * n_features + 1, n_rows), dtype)
    rows_of = _rows_of(bounds, n_components, kernels.TILE)
    for k in range(n_components):
        whitened[rows_of[k, :n_features]] = per_component[k]
    return whitened, rows_of, per_component


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "n_features, bounds, n_rows",
    [(3, [0, 3], 97), (8, [0, 3, 8], 600), (13, [0, 4, 7, 10, 13], 97), (37, [0, 9, 18, 27, 37], 1031)],
)
def test_kernels_match_numpy(dtype, n_features, bounds, n_rows, simd_level):
    """Every copy (AVX-512, AVX2, baseline), blocks shorter and longer than a chunk of rows."""
    n_components = 3
    eps = np.finfo(dtype).eps
    whitened, rows_of, y = _stacked(n_components, n_features, n_rows, bounds, dtype)
    assert rows_of.shape[1] % kernels.TILE == 0
    y64 = y.astype(np.float64)

    maha = np.empty((n_components, n_rows), dtype)
    kernels.sum_squares(whitened, rows_of, maha)
    squares = (y64**2).transpose(0, 2, 1)
    assert np.all(np.abs(maha - squares.sum(axis=-1)) <= _sum_bound(squares, eps))

    resp = np.random.RandomState(1).uniform(0, 2, size=(n_components, n_rows)).astype(dtype)
    padded = rows_of.shape[1]
    scatter = np.full((n_components, padded, padded), np.nan, dtype)
    resp_y_sum = np.full((n_components, padded), np.nan, dtype)
    kernels.weighted_scatter(whitened, rows_of, resp, scatter, resp_y_sum)
    r64 = resp.astype(np.float64)
    terms = np.einsum("kb,kib,kjb->kijb", r64, y64, y64)
    got = scatter[:, :n_features, :n_features]
    assert np.all(np.abs(got - terms.sum(axis=-1)) <= _sum_bound(terms, eps))
    assert np.array_equal(got, got.transpose(0, 2, 1))
    terms = np.einsum("kb,kib->kib", r64, y64)
    assert np.all(np.abs(resp_y_sum[:, :n_features] - terms.sum(axis=-1)) <= _sum_bound(terms, eps))
    # the padding features read the zero row
    assert np.all(scatter[:, n_features:] == 0) and np.all(resp_y_sum[:, n_features:] == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bound_block_equals_the_checked_calls(dtype):
    whitened, rows_of, _ = _stacked(3, 5, 37, [0, 2, 5], dtype)
    resp = np.random.RandomState(2).uniform(size=(3, 37)).astype(dtype)
    n_padded = rows_of.shape[1]
    outputs = [
        np.empty((3, 37), dtype),
        np.empty((3, n_padded, n_padded), dtype),
        np.empty((3, n_padded), dtype),
    ]
    bound = kernels.bind_block(whitened, rows_of, *outputs)
    expected = np.empty((3, 37), dtype)
    kernels.sum_squares(whitened, rows_of, expected)
    kernels.run_bound(bound.sum_squares)
    assert np.array_equal(outputs[0], expected)
    scatter, resp_y_sum = np.empty_like(outputs[1]), np.empty_like(outputs[2])
    kernels.weighted_scatter(whitened, rows_of, resp, scatter, resp_y_sum)
    outputs[0][...] = resp
    kernels.run_bound(bound.weighted_scatter)
    assert np.array_equal(outputs[1], scatter) and np.array_equal(outputs[2], resp_y_sum)
    # the checks of the calls, once
    with pytest.raises(TypeError, match="scatter must be a"):
        kernels.bind_block(whitened, rows_of, outputs[0], outputs[1][:, :4], outputs[2])
    with pytest.raises(ValueError, match="C-ordered"):
        kernels.bind_block(np.asfortranarray(whitened), rows_of, *outputs)


def test_bad_calls_raise_before_reading():
    whitened, rows_of, _ = _stacked(2, 4, 16, [0, 4], np.float64)
    maha = np.empty((2, 16))
    with pytest.raises(TypeError, match=re.escape("out must be a float64 array of shape (2, 16)")):
        kernels.sum_squares(whitened, rows_of, maha.astype(np.float32))
    with pytest.raises(ValueError, match="writeable, C-ordered"):
        kernels.sum_squares(whitened, rows_of, np.empty((16, 2)).T)
    with pytest.raises(TypeError, match="rows_of must be a"):
        kernels.sum_squares(whitened, rows_of.astype(np.int32), maha)
    outside = rows_of.copy()
    outside[1, 2] = len(whitened)
    with pytest.raises(IndexError, match="outside whitened"):
        kernels.sum_squares(whitened, outside, maha)
    scatter, resp_y_sum = np.empty((2, 4, 4)), np.empty((2, 4))
    with pytest.raises(IndexError, match="outside whitened"):
        kernels.weighted_scatter(whitened, -outside, np.ones((2, 16)), scatter, resp_y_sum)
    with pytest.raises(ValueError, match="multiple of 4"):
        kernels.weighted_scatter(
            whitened, rows_of[:, :3], np.ones((2, 16)), np.empty((2, 3, 3)), np.empty((2, 3))
        )
    # inputs in another layout are copied, not refused
    kernels.sum_squares(np.asfortranarray(whitened), rows_of, maha)
    assert_allclose(maha, (whitened[rows_of] ** 2).sum(axis=1))


def test_kernels_propagate_nan():
    whitened, rows_of, _ = _stacked(2, 4, 16, [0, 4], np.float64)
    whitened[1, 5] = np.nan
    maha = np.empty((2, 16))
    kernels.sum_squares(whitened, rows_of, maha)
    assert np.isnan(maha[0, 5]) and np.isfinite(np.delete(maha[0], 5)).all()
    scatter, resp_y_sum = np.empty((2, 4, 4)), np.empty((2, 4))
    kernels.weighted_scatter(whitened, rows_of, np.ones((2, 16)), scatter, resp_y_sum)
    assert np.isnan(scatter[0, 1]).all() and np.isfinite(scatter[1]).all()


def _full_block_sums(X, weights, seed):
    model, params = _random_params("full", X.shape[1], seed=seed)
    pk = prepare_pass(model, params, X.dtype)
    ll, raw = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, weights, {})
    resp = np.random.RandomState(seed).dirichlet(np.ones(len(params.weights)), size=len(X)).astype(X.dtype)
    resp_raw = model.resp_sums(pk.kernel, X, pk.origin, resp, None, {})
    log_prob = model.weighted_log_prob_block(pk.kernel, X, pk.origin, pk.log_weights, {})
    finished = model.statistics(pk.kernel, raw)
    return ll, *finished, *model.statistics(pk.kernel, resp_raw)[1:], log_prob.copy()


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-11), (np.float32, 1e-4)])
@pytest.mark.parametrize("n_features", [2, 5, 16, 37])
def test_engine_same_with_and_without_compiled_kernels(dtype, rtol, n_features, compiled, monkeypatch):
    X = _data(n_samples=250, n_features=n_features, seed=4).astype(dtype)
    weights = np.random.RandomState(3).uniform(0.2, 2.0, len(X)).astype(dtype)
    with_kernels = _full_block_sums(X, weights, seed=n_features)
    monkeypatch.setitem(_compiled._state, "kernels", None)
    reference = _full_block_sums(X, weights, seed=n_features)
    names = ["ll", "resp_sum", "x_sum", "scatter", "init x_sum", "init scatter", "log_prob"]
    for name, got, expected in zip(names, with_kernels, reference):
        assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max(), err_msg=name)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_same_with_and_without_compiled_kernels(dtype, compiled, monkeypatch):
    from skgmm import GaussianMixtureEM

    from .conftest import mixture_10d

    X = mixture_10d(n_samples=3000, seed=1)[0].astype(dtype)
    params = dict(n_components=4, covariance_type="full", tol=0, max_iter=20, random_state=0)
    with_kernels = GaussianMixtureEM(**params).fit(X)
    monkeypatch.setitem(_compiled._state, "kernels", None)
    reference = GaussianMixtureEM(**params).fit(X)
    rtol = 1e-9 if dtype == np.float64 else 1e-3
    for name in ("weights_", "means_", "covariances_", "lower_bound_"):
        assert_allclose(
            getattr(with_kernels, name), getattr(reference, name), rtol=rtol, atol=rtol, err_msg=name
        )


@pytest.mark.parametrize("switch", SWITCHES)
def test_compiled_kernels_can_be_switched_off(switch, monkeypatch):
    """SKGMM_COMPILED=0, or SKGMM_NUMBA=0 as in the releases that used numba."""
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(switch, "0")
    monkeypatch.delitem(_compiled._state, "kernels", raising=False)
    assert _compiled.compiled_kernels() is None
    assert _compiled.kernels_description() == "numpy (SKGMM_COMPILED=0)"
    model, params = _random_params("full", 6)
    wide_model, wide = _random_params("full", 13)
    kernel = prepare_pass(model, params, np.float64).kernel
    assert kernel.fused is None and kernel.arrays["rows_of"] is None
    assert prepare_pass(wide_model, wide, np.float64).kernel.arrays["rows_of"] is None
    monkeypatch.delenv(switch)
    monkeypatch.delitem(_compiled._state, "kernels")
    assert _compiled.compiled_kernels() is kernels
    assert _compiled.kernels_description() == f"C ({kernels.SIMD})"
    full = get_covariance_model("full")
    assert full.prepare(params.means, params.precisions_cholesky, np.float64).fused is not None
    assert full.prepare(wide.means, wide.precisions_cholesky, np.float64).arrays["rows_of"] is not None


def test_unloadable_kernels_fall_back_to_numpy_with_a_warning(tmp_path, monkeypatch):
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "broken_kernels.py").write_text("raise OSError('wrong ELF class')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(RuntimeWarning, match="numpy code instead"):
        assert _compiled._load("broken_kernels") is None
    assert _compiled._load("no_such_module_for_skgmm") is None


def test_library_not_built_is_no_error(monkeypatch):
    """What an install without a C compiler sees: no library, the numpy code, no warning."""
    from skgmm import _ckernels

    monkeypatch.setattr(_ckernels.importlib.util, "find_spec", lambda name: None)
    assert _ckernels.load_library("_full") is None


@pytest.mark.parametrize(
    "covariance_type, n_features", [("full", 13), ("full", 4), ("diag", 13), ("tied", 3)]
)
def test_kernel_prepared_with_compiled_kernels_runs_without_them(
    covariance_type, n_features, compiled, monkeypatch
):
    """A pass kernel made where the C kernels run (a Dask client) also works where they do not.

    Wide 'full' data run the tiled kernels; the others the fused row kernel,
    whose numpy twin then computes the same sums.
    """
    X = _data(n_samples=120, n_features=n_features, seed=5)
    model, params = _random_params(covariance_type, n_features, seed=2)
    pk = prepare_pass(model, params, X.dtype)
    assert (pk.kernel.fused is None) == (covariance_type == "full" and n_features == 13)
    expected_ll, expected = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, None, {})
    monkeypatch.setitem(_compiled._state, "kernels", None)
    got_ll, got = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, None, {})
    assert_allclose(got_ll, expected_ll, rtol=1e-11)
    for a, b in zip(model.statistics(pk.kernel, got), model.statistics(pk.kernel, expected)):
        assert_allclose(a, b, rtol=1e-11, atol=1e-11)

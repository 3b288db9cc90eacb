"""The compiled (C) 'full' kernels against numpy, and the engine with and without them."""

import ctypes
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skgmm.covariance import get_covariance_model
from skgmm.covariance import kernels as _compiled
from skgmm.covariance.kernels.full import rows_of_table as _rows_of
from skgmm.engine.logsumexp import normalise
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
    # 13 features: the fused kernel for float64 rows, the whitening products and their row table for float32
    assert full.prepare(wide.means, wide.precisions_cholesky, np.float64).fused is not None
    assert full.prepare(wide.means, wide.precisions_cholesky, np.float32).arrays["rows_of"] is not None


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
    "covariance_type, n_features, dtype",
    [("full", 13, np.float32), ("full", 13, np.float64), ("full", 4, np.float64), ("diag", 13, np.float64),
     ("tied", 3, np.float64)],
)  # fmt: skip
def test_kernel_prepared_with_compiled_kernels_runs_without_them(
    covariance_type, n_features, dtype, compiled, monkeypatch
):
    """A pass kernel made where the C kernels run (a Dask client) also works where they do not.

    Wide float32 'full' data run the tiled kernels; the others the fused row
    kernel, whose numpy twin then computes the same sums.
    """
    X = _data(n_samples=120, n_features=n_features, seed=5).astype(dtype)
    model, params = _random_params(covariance_type, n_features, seed=2)
    pk = prepare_pass(model, params, X.dtype)
    assert (pk.kernel.fused is None) == (n_features == 13 and dtype == np.float32)
    expected_ll, expected = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, None, {})
    monkeypatch.setitem(_compiled._state, "kernels", None)
    got_ll, got = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, None, {})
    # float32: both sum float32 products (the tiles in their order, numpy in its own)
    rtol = 1e-11 if dtype == np.float64 else 1e-4
    assert_allclose(got_ll, expected_ll, rtol=rtol)
    for a, b in zip(model.statistics(pk.kernel, got), model.statistics(pk.kernel, expected)):
        assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


def _elementwise(name, x):
    """The fused kernel's own exp or log (skgmm_fused_exp, skgmm_fused_log) of float64 ``x``."""
    function = getattr(kernels._library, name)
    function.argtypes, function.restype = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_void_p], ctypes.c_int
    x = np.ascontiguousarray(x, np.float64)
    y = np.empty_like(x)
    function(x.ctypes.data, len(x), y.ctypes.data)
    return y


def _ulps(got, expected):
    """|got - expected| in units of the last place of expected (NaN where both are NaN or equal)."""
    with np.errstate(invalid="ignore"):
        return np.where(got == expected, 0.0, np.abs(got - expected) / np.spacing(np.abs(expected)))


#: Inputs of every range: where the results are subnormal, overflow or round to 0, the floors
#: of the E-step (float64 and float32), the edges of the range reductions, specials.
_EXP_SPECIAL = [
    -np.inf,
    np.inf,
    np.nan,
    0.0,
    -0.0,
    1e-300,
    -1e-300,
    709.78,
    709.7827128933840,
    709.7827128933841,
    709.79,
    710.0,
    800.0,
    1e300,
    -708.39,
    -708.4,
    -745.13,
    -745.14,
    -745.2,
    -746.0,
    -1e300,
    float(np.log(np.finfo(np.float64).tiny)) + 20,
    float(np.log(np.finfo(np.float32).tiny)) + 20,
    0.5 * np.log(2),
    -0.5 * np.log(2),
    1.0,
    -1.0,
]


def test_fused_exp_matches_numpy(simd_level):
    """The vectorised exp of the log-sum-exp is numpy's within 1 ulp, specials exactly (every copy)."""
    rng = np.random.RandomState(3)
    x = np.concatenate(
        [
            rng.uniform(-750, 712, 400_000),
            rng.uniform(-1, 1, 100_000),
            rng.uniform(-700, 0, 100_000),
            np.linspace(-746, 710, 200_001),
            np.arange(-1100, 1100) * np.log(2),  # k ln2 and the rounding ties of k
            (np.arange(-1100, 1100) + 0.5) * np.log(2),
            _EXP_SPECIAL,
        ]
    )
    got = _elementwise("skgmm_fused_exp", x)
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    tiny = np.finfo(np.float64).tiny
    normal = np.isfinite(expected) & (expected >= tiny)
    assert _ulps(got[normal], expected[normal]).max() <= 1
    # subnormal results: within one subnormal step (the last scaling rounds once more)
    subnormal = expected < tiny
    assert np.all(np.abs(got[subnormal] - expected[subnormal]) <= np.finfo(np.float64).smallest_subnormal)
    special = ~normal & ~subnormal
    assert_allclose(got[special], expected[special], rtol=0, atol=0)  # inf, NaN
    assert np.array_equal(
        _elementwise("skgmm_fused_exp", _EXP_SPECIAL[:4]), [0.0, np.inf, np.nan, 1.0], equal_nan=True
    )


def test_fused_log_matches_numpy(simd_level):
    """The vectorised log of the row log-likelihoods is numpy's within 1 ulp, specials exactly (every copy)."""
    rng = np.random.RandomState(4)
    x = np.concatenate(
        [
            rng.uniform(1, 64, 400_000),  # the log-sum-exp's norms: 1 to K
            rng.uniform(0, 2, 100_000),
            np.exp(rng.uniform(-745, 709, 200_000)),
            np.sqrt([0.5, 2.0]) * np.array([1, 1]) + np.array([[-1e-16], [0], [1e-16]]).ravel()[:2],
            np.nextafter(np.sqrt(2), [0, 4]),
            np.nextafter(1.0, [0, 2]),
            [1.0, 2.0, 0.5, np.finfo(np.float64).tiny, np.finfo(np.float64).smallest_subnormal, 1e-310],
            [np.finfo(np.float64).max, np.inf, 0.0, -0.0, -1.0, -np.inf, np.nan],
        ]
    )
    got = _elementwise("skgmm_fused_log", x)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.log(x)
    finite = np.isfinite(expected)
    assert _ulps(got[finite], expected[finite]).max() <= 1
    assert np.array_equal(got[~finite], expected[~finite], equal_nan=True)
    assert got[x == 1.0].max() == 0.0


#: (n_rows, n_features, n_components, diagonal precisions, diagonal scatter): every unrolled width,
#: the generic loops of wide data, diagonal precisions of any width in groups of 8, chunks and their
#: remainders, one component, many components (scratch allocated), the two cross combinations.
_FUSED_CASES = [
    (150, 4, 9, False, False),
    (1000, 1, 3, False, False),
    (333, 2, 3, False, False),
    (517, 3, 4, False, False),
    (101, 5, 2, False, False),
    (300, 6, 3, False, False),
    (77, 7, 5, False, False),
    (1203, 8, 5, False, False),
    (95, 9, 3, False, False),
    (64, 11, 2, False, False),
    (701, 16, 4, True, True),
    (230, 19, 3, True, True),
    (97, 8, 3, True, True),
    (45, 3, 1, True, True),
    (40, 3, 300, False, False),
    (120, 4, 3, True, False),
    (120, 4, 3, False, True),
    (40, 12, 2, True, False),
    (33, 10, 2, False, True),
]


def _fused_problem(n_rows, n_features, n_components, diagonal_precision, diagonal_scatter, seed=0):
    """Rows, weights and kernel parameters of two scales: terms near their row's peak and far below (the floor)."""
    from skgmm.covariance.kernels import fused

    rng = np.random.RandomState(seed)
    K, d = n_components, n_features
    X = rng.normal(scale=2.0, size=(n_rows, d)) + 5.0
    origin = (X.mean(axis=0) if len(X) else np.zeros(d)) + 0.1
    means = rng.normal(scale=2.0, size=(K, d))
    spread = np.where(np.arange(K) % 2, 1.0, 40.0)[:, None]  # half the components far from most rows
    if diagonal_precision:
        precision = rng.uniform(0.3, 2.0, size=(K, d)) * spread
    else:
        precision = np.triu(rng.normal(scale=0.3, size=(K, d, d)), k=1)
        # positive diagonals, as Cholesky factors have (the kernel takes their logs)
        precision += np.eye(d) * (spread[:, :, None] + rng.uniform(-0.3, 0.3, size=(K, 1, d)))
    constant = rng.normal(size=K)
    kind = "diag" if diagonal_scatter else "full"
    fk = fused.FusedKernel(precision=precision, scatter_kind=kind)
    weights = rng.uniform(0, 3, n_rows)
    return X, weights, origin, means, fk, constant


def _fused_both(X, weights, origin, means, fk, constant, mode, resp=None):
    """``fused_rows`` and the numpy twin of the same call."""
    from skgmm.covariance.kernels import fused

    diagonal = fk.precision.ndim == 2
    parameters = np.concatenate((origin, means.ravel(), fk.precision.ravel(), constant))
    floor = fused.exp_floor(X.dtype)
    got_resp = np.empty((len(X), len(constant)), X.dtype) if mode == fused.LOG_PROB else resp
    got = kernels.fused_rows(
        X, weights, parameters, len(constant), diagonal, fk.scatter_kind == "diag", mode, floor, got_resp
    )
    expected_resp = np.empty((len(X), len(constant))) if mode == fused.LOG_PROB else resp
    weights64 = None if weights is None else weights.astype(np.float64)
    expected = fused._numpy_rows(X, weights64, origin, means, fk, constant, mode, floor, expected_resp)
    return got, expected, got_resp, expected_resp


def _fused_row_outputs(X, origin, means, fk, constant, mode):
    """``(labels, rows)`` of the row modes (LABELS, ROW_LOG_LIKELIHOOD) from the C kernel and its numpy twin."""
    from skgmm.covariance.kernels import fused

    diagonal = fk.precision.ndim == 2
    parameters = np.concatenate((origin, means.ravel(), fk.precision.ravel(), constant))
    floor = fused.exp_floor(X.dtype)
    results = []
    for twin in (False, True):
        labels, rows = np.full(len(X), -7, dtype=np.int64), np.empty(len(X), dtype=X.dtype)
        if twin:
            fused._numpy_rows(X, None, origin, means, fk, constant, mode, floor, None, rows, labels)
        else:
            kernels.fused_rows(
                X, None, parameters, len(constant), diagonal, fk.scatter_kind == "diag", mode, floor,
                rows_out=rows, labels=labels,
            )  # fmt: skip
        results.append((labels, rows))
    return results


@pytest.mark.parametrize(
    "case", _FUSED_CASES, ids=lambda c: "n{}-d{}-K{}{}{}".format(*c[:3], "-dp" * c[3], "-ds" * c[4])
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_rows_match_numpy_twin(case, dtype, weighted, simd_level):
    """Every width and combination of the fused kernel, every mode and copy, against ``_numpy_rows``."""
    from skgmm.covariance.kernels import fused

    X, weights, origin, means, fk, constant = _fused_problem(*case)
    X = X.astype(dtype)
    weights = weights.astype(dtype) if weighted else None
    got, expected, _, _ = _fused_both(X, weights, origin, means, fk, constant, fused.EM)
    assert_allclose(got[0], expected[0], rtol=1e-12)
    scale = np.abs(expected[1:]).max()
    assert_allclose(got[1:], expected[1:], rtol=1e-11, atol=1e-13 * scale)
    # the far components get responsibilities of about exp(floor) from some rows: the floor ran
    _, _, got_resp, expected_resp = _fused_both(X, weights, origin, means, fk, constant, fused.LOG_PROB)
    expected_resp = expected_resp.astype(dtype)
    assert_allclose(got_resp, expected_resp, rtol=1e-13 if dtype == np.float64 else 2e-7)
    if len(constant) > 1:
        assert (expected_resp - expected_resp.max(axis=1, keepdims=True) < fused.exp_floor(dtype)).any()
    resp = np.random.RandomState(5).dirichlet(np.ones(len(constant)), size=len(X)).astype(dtype)
    got, expected, _, _ = _fused_both(X, None, origin, means, fk, constant, fused.GIVEN, resp)
    assert_allclose(got[1:], expected[1:], rtol=1e-11, atol=1e-13 * np.abs(expected[1:]).max())
    if weighted:
        return
    # the row modes: each row's label and largest term (argmax of the log-densities), its log-likelihood
    log_prob = got_resp
    # (against the kernel's own log-densities: the same arithmetic, so the same ties; the twin's round otherwise)
    (labels, peak), (_, twin_peak) = _fused_row_outputs(X, origin, means, fk, constant, fused.LABELS)
    assert np.array_equal(labels, log_prob.argmax(axis=1))
    assert np.array_equal(peak, log_prob.max(axis=1))
    assert_allclose(peak, twin_peak, rtol=1e-13 if dtype == np.float64 else 2e-7)
    (_, rows), (_, twin_rows) = _fused_row_outputs(X, origin, means, fk, constant, fused.ROW_LOG_LIKELIHOOD)
    assert rows.dtype == dtype
    assert_allclose(rows, twin_rows, rtol=1e-13 if dtype == np.float64 else 2e-7)
    # against the log-sum-exp of the stored log-densities: those of float32 rows are rounded to float32
    eps = np.finfo(dtype).eps
    expected_rows = normalise(log_prob.astype(np.float64), 1)
    tolerance = (
        4 * eps * np.abs(log_prob).max(axis=1) if dtype == np.float32 else 1e-12 * np.abs(expected_rows)
    )
    assert (np.abs(rows - expected_rows) <= tolerance).all()


@pytest.mark.parametrize(
    "case", [(150, 4, 5, False, False), (99, 16, 3, True, True), (40, 10, 2, False, False)]
)
def test_fused_rows_impossible_nan_and_infinite_rows(case, simd_level):
    """Rows no component can produce (log-likelihood -inf, responsibilities 1/K), NaN rows, an infinite
    log-density: as the engine's log-sum-exp (the numpy twin) has them."""
    from skgmm.covariance.kernels import fused

    X, weights, origin, means, fk, constant = _fused_problem(*case, seed=1)
    X[3] = 1e200  # every log-density -inf
    X[7, 1] = np.nan
    sums = [
        _fused_both(X[rows], w, origin, means, fk, constant, fused.EM)[:2]
        for rows, w in ((slice(None), weights), ([3], None), ([3, 7], None), ([0, 3, 5], None))
    ]
    for got, expected in sums:
        assert_allclose(got, expected, rtol=1e-11, atol=1e-12)
    assert np.isnan(sums[0][0]).all()
    # the row modes: -inf rows get label 0 and peak -inf; a NaN row NaN (numpy's argmax: the first NaN)
    (labels, peak), (_, twin_peak) = _fused_row_outputs(X, origin, means, fk, constant, fused.LABELS)
    assert_allclose(peak, twin_peak, rtol=1e-12)
    assert labels[3] == 0 and peak[3] == -np.inf and np.isnan(peak[7])
    (_, rows), (_, twin_rows) = _fused_row_outputs(X, origin, means, fk, constant, fused.ROW_LOG_LIKELIHOOD)
    assert_allclose(rows, twin_rows, rtol=1e-12)
    assert rows[3] == -np.inf and np.isnan(rows[7]) and np.isfinite(np.delete(rows, [3, 7])).all()
    one = sums[1][0]
    K = len(constant)
    assert one[0] == -np.inf and np.array_equal(one[1 : 1 + K], np.full(K, 1 / K))
    assert sums[3][0][0] == -np.inf
    # one component's log-density +inf: log-likelihood inf, its responsibilities NaN (as numpy)
    constant = constant.copy()
    constant[1] = np.inf
    got, expected, _, _ = _fused_both(X[8:28], None, origin, means, fk, constant, fused.EM)
    assert got[0] == np.inf
    assert_allclose(got, expected, rtol=1e-11, atol=1e-12)


def test_fused_rows_empty_block():
    from skgmm.covariance.kernels import fused

    X, weights, origin, means, fk, constant = _fused_problem(0, 3, 2, False, False)
    got, expected, _, _ = _fused_both(X, None, origin, means, fk, constant, fused.EM)
    assert np.array_equal(got, np.zeros_like(expected))

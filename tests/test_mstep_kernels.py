"""The C inner loops of the iterative mclust M-steps (``skgmm/_ckernels/mstep.c``) against their numpy reference.

Both paths take the same steps; they differ in the order of their sums and
in their factorisations (Jacobi's methods in C, LAPACK's syevd and gesdd in
numpy), so they agree to rounding, amplified by the problem's conditioning:

- on well-conditioned stacks, to about 1e-15 for VEI, VEV and VEE, and to a
  few 1e-12 for EVE and VVE, whose slowly converging MM loops (up to
  thousands of inner iterations here) accumulate rounding; ``WELL_RTOL``
  leaves a margin for other BLAS builds;
- on stacks of condition 1e8 to a few 1e-10 (``ILL_RTOL``): numpy's own
  result moves by as much when its input is perturbed by one rounding.

The inner iteration counts must be equal: both paths stop on the same
quantities, rounded alike to far less than the tolerance.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skgmm.covariance import _mstep_kernels, mclust_mstep, parsimonious
from skgmm.covariance import kernels as _compiled
from skgmm.covariance.mclust_mstep import estimate_mclust_covariances
from skgmm.covariance.parsimonious import ITERATIVE_MODELS

pytestmark = pytest.mark.skipif(
    _mstep_kernels.LIBRARY is None, reason="the C kernels were not built (no compiler)"
)

WELL_RTOL = 1e-10
ILL_RTOL = 1e-8
# (model, vve_orientation): VVE's two criteria run the same C loop differently.
VARIANTS = [(model, "mclust") for model in ITERATIVE_MODELS] + [("VVE", "likelihood")]
# Ill-conditioned EVE and VVE converge very slowly (10^5 inner iterations and more):
# capped, they still compare every step of the loop.
ILL_MAX_ITER = 300


@pytest.fixture
def compiled_kernels():
    """The compiled kernels' module, whose presence switches the C loops on (even under SKGMM_COMPILED=0)."""
    return pytest.importorskip("skgmm.covariance.kernels._compiled", reason="the C kernels were not built")


@pytest.fixture
def paths(monkeypatch, compiled_kernels):
    """Run a callable with the C loops, then without them (as under SKGMM_COMPILED=0)."""

    def run(function):
        monkeypatch.setitem(_compiled._state, "kernels", compiled_kernels)
        with_c = _outcome(function)
        monkeypatch.setitem(_compiled._state, "kernels", None)
        return with_c, _outcome(function)

    return run


def _outcome(function):
    try:
        return function()
    except Exception as exc:  # the paths must fail alike
        return f"{type(exc).__name__}: {exc}"


def _scatter_stack(rng, n_components, n_features, condition):
    """Weights and scatter matrices about one orientation, each tilted, with eigenvalues spanning ``condition``."""
    nk = rng.uniform(5.0, 50.0, n_components)
    common = rng.normal(size=(n_features, n_features))
    scatter = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        axes = np.linalg.qr(common + 0.3 * rng.normal(size=common.shape))[0]
        variances = np.exp(rng.uniform(0.0, np.log(condition), n_features)) * rng.uniform(0.5, 2.0)
        scatter[k] = nk[k] * (axes * variances) @ axes.T
    return nk, (scatter + scatter.transpose(0, 2, 1)) / 2


def _cases(n_cases=12):
    """(seed, K, d), every K in 1..9 and every d in 2..8 among them."""
    return [(seed, 1 + seed % 9, 2 + 4 * seed % 7) for seed in range(n_cases)]


def _assert_same(with_c, numpy, rtol):
    if isinstance(numpy, str) or isinstance(with_c, str):
        assert with_c == numpy
        return
    assert with_c.n_iter == numpy.n_iter
    scale = np.abs(numpy.covariances).max(axis=(1, 2), keepdims=True)
    assert_allclose(with_c.covariances / scale, numpy.covariances / scale, rtol=0, atol=rtol)
    assert_allclose(with_c.scale, numpy.scale, rtol=rtol)
    # An eigen-decomposition gets each eigenvalue to about d eps times the largest (Weyl), whatever
    # the algorithm (Jacobi here, LAPACK's syevd with the BLAS kernel of the day in numpy): the
    # smallest axes of an ill-conditioned shape are relative to the largest, not to themselves.
    n_features = numpy.shape.shape[1]
    largest = np.abs(numpy.shape).max(axis=1, keepdims=True)
    floor = 100 * n_features * np.finfo(np.float64).eps * largest
    assert np.all(np.abs(with_c.shape - numpy.shape) <= rtol * np.abs(numpy.shape) + floor)


@pytest.mark.parametrize("condition, rtol", [(10.0, WELL_RTOL), (1e8, ILL_RTOL)], ids=["well", "ill"])
@pytest.mark.parametrize("model, vve_orientation", VARIANTS)
def test_compiled_m_step_matches_numpy(model, vve_orientation, condition, rtol, paths):
    """From mclust's start and continuing from a previous M-step, on stacks of K = 1..9, d = 2..8."""
    max_iter = ILL_MAX_ITER if condition > 1e4 else np.iinfo(np.int32).max
    options = dict(reg_covar=0.0, max_iter=max_iter, vve_orientation=vve_orientation)
    for seed, n_components, n_features in _cases():
        rng = np.random.RandomState(seed)
        nk, scatter = _scatter_stack(rng, n_components, n_features, condition)
        first = paths(
            lambda nk=nk, scatter=scatter: estimate_mclust_covariances(model, nk, scatter, **options)
        )
        _assert_same(*first, rtol)
        # the next M-step, continuing from the previous one (as in mclust's me)
        next_nk = nk * rng.uniform(0.9, 1.1, n_components)
        next_scatter = scatter * (1.0 + 0.01 * rng.normal(size=scatter.shape))
        next_scatter = (next_scatter + next_scatter.transpose(0, 2, 1)) / 2
        reference = first[1]
        second = paths(
            lambda nk=next_nk, scatter=next_scatter, reference=reference: estimate_mclust_covariances(
                model, nk, scatter, previous=reference, **options
            )
        )
        _assert_same(*second, rtol)


@pytest.mark.parametrize("max_iter", [1, 2, 3])
@pytest.mark.parametrize("model, vve_orientation", VARIANTS)
def test_compiled_m_step_counts_iterations_as_numpy(model, vve_orientation, max_iter, paths):
    """The iteration limit stops both loops at the same step (EVE's first only evaluates its criterion)."""
    nk, scatter = _scatter_stack(np.random.RandomState(5), 4, 3, 100.0)
    with_c, numpy = paths(
        lambda: estimate_mclust_covariances(
            model, nk, scatter, reg_covar=0.0, max_iter=max_iter, vve_orientation=vve_orientation
        )
    )
    assert with_c.n_iter == numpy.n_iter == max_iter
    _assert_same(with_c, numpy, WELL_RTOL)


def _failing_stacks():
    nk, scatter = _scatter_stack(np.random.RandomState(0), 3, 4, 10.0)
    empty_nk, empty = nk.copy(), scatter.copy()
    empty_nk[1], empty[1] = 0.0, 0.0
    with_nan, with_inf, rank_one = scatter.copy(), scatter.copy(), scatter.copy()
    with_nan[0, 1, 1], with_inf[2, 0, 0] = np.nan, np.inf
    rank_one[0] = np.outer([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    factors = np.random.RandomState(1).normal(size=(3, 4, 2))
    return {
        "empty component": (empty_nk, empty),
        "nan": (nk, with_nan),
        "inf": (nk, with_inf),
        "rank one component": (nk, rank_one),
        "rank two stack": (nk, factors @ factors.transpose(0, 2, 1)),
    }


@pytest.mark.parametrize("case", list(_failing_stacks()))
@pytest.mark.parametrize("model", ITERATIVE_MODELS)
def test_compiled_m_step_fails_as_numpy(model, case, paths):
    """Components without volume, non-finite or singular scatter: the same error, or the same estimate."""
    nk, scatter = _failing_stacks()[case]
    with_c, numpy = paths(lambda: estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0))
    if isinstance(numpy, str):
        assert with_c == numpy
    else:
        _assert_same(with_c, numpy, WELL_RTOL)


def test_singular_bound_is_left_to_numpy(paths):
    """One component: the first MM update's matrix is singular and its polar factor gesdd's choice."""
    nk, scatter = _scatter_stack(np.random.RandomState(2), 1, 4, 10.0)
    assert _mstep_kernels.common_orientation(nk, scatter, None, 1e-8, 100, False) is None
    with_c, numpy = paths(lambda: estimate_mclust_covariances("EVE", nk, scatter, reg_covar=0.0))
    assert with_c.n_iter == numpy.n_iter
    assert_array_equal(with_c.covariances, numpy.covariances)


def test_common_orientation_is_the_references_up_to_axis_signs():
    """The polar factors are unique but for the sign of a null axis: the orientations agree up to column signs."""
    nk, scatter = _scatter_stack(np.random.RandomState(3), 5, 4, 10.0)
    reference = parsimonious._common_orientation.reference
    orientation, axis_scatter, n_iter = _mstep_kernels.common_orientation(
        nk, scatter, None, 1e-8, 1000, False
    )
    with np.errstate(all="ignore"):
        expected, expected_axis_scatter, expected_n_iter = reference(nk, scatter, None, 1e-8, 1000, False)
    assert n_iter == expected_n_iter
    assert_allclose(axis_scatter, expected_axis_scatter, rtol=WELL_RTOL)
    assert_allclose(np.abs(orientation), np.abs(expected), atol=WELL_RTOL)
    assert_allclose(orientation.T @ orientation, np.eye(4), atol=1e-14)


def test_switched_off_compiled_kernels_run_numpy(monkeypatch, compiled_kernels):
    def refuse(*args):
        raise AssertionError("the C loop ran")

    monkeypatch.setattr(_mstep_kernels, "_run", refuse)
    monkeypatch.setattr(_mstep_kernels, "_MCLUST", refuse)
    monkeypatch.setitem(_compiled._state, "kernels", None)
    nk, scatter = _scatter_stack(np.random.RandomState(4), 3, 3, 10.0)
    for model in parsimonious.MULTIVARIATE_MODELS:
        estimate_mclust_covariances(model, nk, scatter)
    monkeypatch.setitem(_compiled._state, "kernels", compiled_kernels)
    for model in ("VEE", "EII"):
        with pytest.raises(AssertionError, match="the C loop ran"):
            estimate_mclust_covariances(model, nk, scatter)


FIXTURES = Path(__file__).parent / "fixtures" / "mclust"
ITERATIVE_FIXTURES = sorted(
    path for path in FIXTURES.glob("*.json") if path.stem.split("_")[1] in ITERATIVE_MODELS
)


@pytest.mark.parametrize("path", ITERATIVE_FIXTURES, ids=[path.stem for path in ITERATIVE_FIXTURES])
def test_em_on_mclust_fixtures_same_with_and_without_c(path, paths):
    """mclust's EM from its stored start: the same path and inner counts either way (R's values: test_mclust_models)."""
    from .test_mclust_models import _em, _inner_control, _load_data

    fixture = json.loads(path.read_text())
    X, resp = _load_data(fixture["dataset"]), np.asarray(fixture["z"], dtype=float)
    options = dict(loglik_tol=fixture["control"]["tol"][0], **_inner_control(fixture))
    with_c, numpy = paths(lambda: _em(X, fixture["model"], resp, **options))
    assert with_c["inner"] == numpy["inner"]
    assert_allclose(with_c["path"], numpy["path"], rtol=1e-12)
    assert_allclose(with_c["estimate"].covariances, numpy["estimate"].covariances, rtol=1e-9, atol=1e-12)


# ------------------------------------------------ the whole M-step in one C call (every model)

ALL_VARIANTS = [(model, "mclust") for model in parsimonious.MULTIVARIATE_MODELS] + [("VVE", "likelihood")]


def _all_cases():
    """(seed, K, d): every K in 1..9 and every d in 1..8 among them."""
    return [(seed, 1 + seed % 9, 1 + seed % 8) for seed in range(18)]


def _models_for(model, n_features):
    return ("E" if model[0] == "E" else "V") if n_features == 1 else model


def _assert_orientations_agree(with_c, numpy, model, rtol):
    """The orientations, up to the signs of their columns (the eigenvectors' and null axes')."""
    if model in ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "E", "V"):
        assert_array_equal(with_c.orientation, numpy.orientation)  # the identities
        return
    assert_allclose(np.abs(with_c.orientation), np.abs(numpy.orientation), rtol=0, atol=rtol * 100)


@pytest.mark.parametrize("condition, rtol", [(10.0, WELL_RTOL), (1e8, ILL_RTOL)], ids=["well", "ill"])
@pytest.mark.parametrize("model, vve_orientation", ALL_VARIANTS)
def test_whole_m_step_matches_numpy(model, vve_orientation, condition, rtol, paths):
    """Every model, K = 1..9, d = 1..8, cold and then from each path's own previous M-step (as in EM)."""
    max_iter = ILL_MAX_ITER if condition > 1e4 else np.iinfo(np.int32).max
    options = dict(reg_covar=1e-6, max_iter=max_iter, vve_orientation=vve_orientation)
    for seed, n_components, n_features in _all_cases():
        name = _models_for(model, n_features)
        rng = np.random.RandomState(seed)
        nk, scatter = _scatter_stack(rng, n_components, n_features, condition)
        first = paths(
            lambda name=name, nk=nk, scatter=scatter: estimate_mclust_covariances(
                name, nk, scatter, **options
            )
        )
        _assert_same(*first, rtol)
        if condition < 1e4 and n_features > 1:
            _assert_orientations_agree(*first, name, rtol)
        # the next M-step, each path continuing from its own previous one (as in EM)
        next_nk = nk * rng.uniform(0.9, 1.1, n_components)
        next_scatter = scatter * (1.0 + 0.01 * rng.normal(size=scatter.shape))
        next_scatter = (next_scatter + next_scatter.transpose(0, 2, 1)) / 2
        previous = iter(first)
        second = paths(
            lambda name=name, nk=next_nk, scatter=next_scatter, previous=previous: (
                estimate_mclust_covariances(name, nk, scatter, previous=next(previous), **options)
            )
        )
        _assert_same(*second, rtol)


@pytest.mark.parametrize("model", parsimonious.MULTIVARIATE_MODELS + parsimonious.UNIVARIATE_MODELS)
def test_whole_m_step_runs_in_c(model, compiled_kernels):
    """The usual case is not left to numpy, and the caller's scatter is left as it was."""
    n_features = 1 if model in ("E", "V") else 4
    nk, scatter = _scatter_stack(np.random.RandomState(6), 5, n_features, 10.0)
    kept = scatter.copy()
    estimate = _mstep_kernels.mclust_m_step(model, nk, scatter, 1e-6, None, 1e-8, 1000, False)
    assert estimate is not None
    covariances, singular, factors = estimate[0], estimate[5], estimate[6]
    assert not singular
    assert_array_equal(scatter, kept)
    # with the precision factors of the covariances, as the strategies' own maps give them
    expected = np.linalg.inv(np.linalg.cholesky(covariances)).transpose(0, 2, 1)
    assert_allclose(factors, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    assert np.array_equal(factors, np.triu(factors))


@pytest.mark.parametrize("model", ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "E", "V"])
def test_whole_m_step_reads_diagonals(model, paths):
    """The diagonal models given the scatter's diagonals (K, d) alone: the same as from the matrices."""
    n_features = 1 if model in ("E", "V") else 5
    nk, scatter = _scatter_stack(np.random.RandomState(7), 4, n_features, 10.0)
    diagonals = np.diagonal(scatter, axis1=1, axis2=2).copy()
    start = mclust_mstep.mclust_m_step(model, nk, scatter.copy(), 1e-6)
    with_c, numpy = paths(lambda: mclust_mstep.mclust_m_step(model, nk, diagonals.copy(), 1e-6, start))
    _assert_same(with_c, numpy, WELL_RTOL)
    assert_allclose(
        with_c.covariances, mclust_mstep.mclust_m_step(model, nk, scatter.copy(), 1e-6, start).covariances
    )


def test_whole_m_step_takes_any_layout(paths):
    """Arrays C cannot read as they are (Fortran order, another float type) go to numpy, with the same result."""
    nk, scatter = _scatter_stack(np.random.RandomState(8), 3, 4, 10.0)
    fortran = np.asfortranarray(scatter)
    assert _mstep_kernels.mclust_m_step("EEV", nk, fortran, 0.0, None, 1e-8, 10, False) is None
    with_c, numpy = paths(lambda: estimate_mclust_covariances("EEV", nk, fortran))
    _assert_same(with_c, numpy, WELL_RTOL)
    with_c, numpy = paths(lambda: estimate_mclust_covariances("VVE", nk.astype(np.float32), scatter))
    _assert_same(with_c, numpy, WELL_RTOL)


def _singular_stacks():
    cases = _failing_stacks()
    nk, scatter = _scatter_stack(np.random.RandomState(9), 4, 3, 10.0)
    zero_weight = nk.copy()
    zero_weight[2] = 0.0
    cases["zero weight"] = (zero_weight, scatter)
    collinear = scatter.copy()
    collinear[3] = np.outer([1.0, 0.0, 0.0], [1.0, 0.0, 0.0]) * 5.0  # one axis: diagonal and full alike
    cases["one axis"] = (nk, collinear)
    negative = scatter.copy()
    negative[1] *= -1.0
    cases["negative"] = (nk, negative)
    return cases


@pytest.mark.parametrize("case", list(_singular_stacks()))
@pytest.mark.parametrize("model", parsimonious.MULTIVARIATE_MODELS)
def test_whole_m_step_fails_as_numpy(model, case, paths):
    """Singular, empty, negative or non-finite: the same error naming the same components, or the same estimate."""
    nk, scatter = _singular_stacks()[case]
    with_c, numpy = paths(lambda: estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0))
    if isinstance(numpy, str):
        assert with_c == numpy
    elif case == "rank one component" and model in ("EEV", "VEV"):
        _assert_same_but_null_space(with_c, numpy, component=0)
    else:
        _assert_same(with_c, numpy, WELL_RTOL)


def _assert_same_but_null_space(with_c, numpy, component):
    """A common shape laid along a W_k's null space (eigenvalue 0, d - 1 times), whose basis is any.

    Its axes there are LAPACK's choice in numpy and Jacobi's in C: the
    component's covariance has the same eigenvalues and the same axis along
    W_k's range; everything else is equal.
    """
    others = np.arange(len(numpy.scale)) != component
    assert with_c.n_iter == numpy.n_iter
    assert_allclose(with_c.scale, numpy.scale, rtol=WELL_RTOL)
    assert_allclose(with_c.shape, numpy.shape, rtol=WELL_RTOL)
    assert_allclose(with_c.covariances[others], numpy.covariances[others], rtol=WELL_RTOL)
    values_c, axes_c = np.linalg.eigh(with_c.covariances[component])
    values, axes = np.linalg.eigh(numpy.covariances[component])
    assert_allclose(values_c, values, rtol=WELL_RTOL)
    assert_allclose(np.abs(axes_c[:, -1]), np.abs(axes[:, -1]), atol=1e-12)


@pytest.mark.parametrize("model", ["E", "V"])
def test_whole_m_step_univariate_fails_as_numpy(model, paths):
    nk, scatter = np.array([3.0, 0.0, 4.0]), np.array([[[2.0]], [[0.0]], [[5.0]]])
    with_c, numpy = paths(lambda: estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0))
    assert with_c == numpy if isinstance(numpy, str) else _assert_same(with_c, numpy, WELL_RTOL) is None

"""Invariants that hold for any data: checked on data and parameters drawn by hypothesis.

The draws are derandomised, so CI runs the same examples every time. Data are
drawn as a seed plus a few shape parameters and generated with numpy, which
keeps every example a genuine (non-degenerate) mixture; degenerate data have
their own tests in tests/test_reliability.py.
"""

import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import joblib
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skgmm import DegenerateDataWarning, GaussianMixtureEM

from .conftest import COVARIANCE_TYPES, INIT_PARAMS


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Tiny matrices: a threaded BLAS only adds synchronisation (tens of ms per
    # call on a busy machine); results do not depend on it.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


SETTINGS = settings(
    derandomize=True,
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Problem:
    X: np.ndarray
    sample_weight: np.ndarray | None
    n_components: int
    covariance_type: str
    seed: int

    def init(self, dtype=np.float64):
        """Explicit starting parameters: data rows as means, the data's variance."""
        rng = np.random.RandomState(self.seed)
        K, d = self.n_components, self.X.shape[1]
        means = self.X[rng.choice(len(self.X), K, replace=False)] + 0.1 * rng.normal(size=(K, d))
        precision = 1.0 / self.X.var(axis=0).mean()
        precisions = {
            "full": np.tile(np.eye(d) * precision, (K, 1, 1)),
            "tied": np.eye(d) * precision,
            "diag": np.full((K, d), precision),
            "spherical": np.full(K, precision),
        }[self.covariance_type]
        return dict(
            weights_init=np.full(K, 1.0 / K, dtype=dtype),
            means_init=means.astype(dtype),
            precisions_init=precisions.astype(dtype),
        )


@st.composite
def problems(draw, weighted=None):
    seed = draw(st.integers(0, 2**16))
    n_components = draw(st.integers(1, 3))
    n_features = draw(st.integers(1, 3))
    n_per_component = draw(st.integers(10, 30))
    separation = draw(st.floats(1.0, 8.0))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    weighted = draw(st.booleans()) if weighted is None else weighted
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=separation, size=(n_components, n_features))
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    mixing += np.eye(n_features)
    X = np.vstack(
        [centers[k] + rng.normal(size=(n_per_component, n_features)) @ mixing[k] for k in range(n_components)]
    )
    X = X[rng.permutation(len(X))]
    sample_weight = rng.uniform(0.2, 3.0, size=len(X)) if weighted else None
    return Problem(X, sample_weight, n_components, covariance_type, seed)


def _fit(estimator, X, sample_weight=None):
    """Fit, ignoring non-convergence, rejecting the example if EM had to re-seed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, sample_weight=sample_weight)
    assume(not any(issubclass(w.category, DegenerateDataWarning) for w in caught))
    return estimator


def _params(gm):
    return [gm.weights_, gm.means_, gm.covariances_]


# -- EM --------------------------------------------------------------------------
@SETTINGS
@given(problem=problems())
def test_lower_bound_never_decreases(problem):
    # reg_covar=0: exact EM on the (weighted) likelihood, which EM never decreases.
    gm = GaussianMixtureEM(
        problem.n_components,
        covariance_type=problem.covariance_type,
        reg_covar=0.0,
        tol=0.0,
        max_iter=25,
        random_state=problem.seed,
    )
    try:
        _fit(gm, problem.X, problem.sample_weight)
    except ValueError:
        assume(False)  # a component collapsed: covered in test_reliability.py
    bounds = np.asarray(gm.lower_bounds_)
    assert len(bounds) == gm.n_iter_ == 25
    assert np.all(np.diff(bounds) >= -1e-10 * (1 + np.abs(bounds[1:])))
    assert bounds[-1] == gm.lower_bound_
    # lower_bound_ is the (weighted) mean log-likelihood under the parameters of
    # the last E-step, so one more iteration's bound is at least as large.
    assert gm.score(problem.X, sample_weight=problem.sample_weight) >= gm.lower_bound_ - 1e-10 * (
        1 + abs(gm.lower_bound_)
    )


@SETTINGS
@given(problem=problems())
def test_predictions_are_consistent(problem):
    X, sw = problem.X, problem.sample_weight
    make = lambda: GaussianMixtureEM(  # noqa: E731
        problem.n_components, covariance_type=problem.covariance_type, random_state=problem.seed
    )
    gm = _fit(make(), X, sw)
    proba = gm.predict_proba(X)
    assert np.all(proba >= 0)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_array_equal(gm.predict(X), proba.argmax(axis=1))
    assert_array_equal(gm.labels_, gm.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert_array_equal(make().fit_predict(X, sample_weight=sw), gm.predict(X))
    log_prob = gm.score_samples(X)
    assert_allclose(gm.score(X), log_prob.mean(), rtol=1e-12)
    if sw is not None:
        assert_allclose(gm.score(X, sample_weight=sw), np.average(log_prob, weights=sw), rtol=1e-12)
    # sample() draws from the fitted mixture, in the model's shape.
    samples, labels = gm.sample(7)
    assert samples.shape == (7, X.shape[1]) and labels.shape == (7,)


# -- equivariance ------------------------------------------------------------------
@SETTINGS
@given(problem=problems(), shuffle_seed=st.integers(0, 1000))
def test_row_order_does_not_matter(problem, shuffle_seed):
    order = np.random.RandomState(shuffle_seed).permutation(len(problem.X))
    kwargs = dict(covariance_type=problem.covariance_type, tol=0, max_iter=10, **problem.init())
    gm = _fit(GaussianMixtureEM(problem.n_components, **kwargs), problem.X, problem.sample_weight)
    sw = None if problem.sample_weight is None else problem.sample_weight[order]
    shuffled = _fit(GaussianMixtureEM(problem.n_components, **kwargs), problem.X[order], sw)
    for ours, theirs in zip(_params(gm), _params(shuffled)):
        assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)
    assert_allclose(gm.lower_bounds_, shuffled.lower_bounds_, rtol=1e-9)
    assert_array_equal(gm.labels_[order], shuffled.labels_)


def _affine_map(covariance_type, d, rng):
    """A random invertible map that keeps the covariance structure."""
    if covariance_type in ("full", "tied"):
        A = rng.normal(size=(d, d)) + 2 * np.eye(d)
    elif covariance_type == "diag":
        A = np.diag(rng.choice([-1, 1], size=d) * rng.uniform(0.3, 3.0, size=d))[rng.permutation(d)]
    else:
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        A = rng.uniform(0.3, 3.0) * Q
    return A, rng.normal(scale=5.0, size=d)


def _map_covariances(covariance_type, covariances, A):
    if covariance_type == "full":
        return A @ covariances @ A.T
    if covariance_type == "tied":
        return A @ covariances @ A.T
    if covariance_type == "diag":
        return np.abs(A).max(axis=1) ** 2 * covariances[:, np.argmax(np.abs(A), axis=1)]
    return covariances * np.abs(np.linalg.det(A)) ** (2 / A.shape[0])


@SETTINGS
@given(problem=problems(), map_seed=st.integers(0, 1000))
def test_affine_map_maps_the_model(problem, map_seed):
    X, sw, ct = problem.X, problem.sample_weight, problem.covariance_type
    d = X.shape[1]
    A, b = _affine_map(ct, d, np.random.RandomState(map_seed))
    init = problem.init()
    # Map the starting point too: means -> A m + b, precisions -> A^-T P A^-1.
    A_inv = np.linalg.inv(A)
    mapped_init = dict(weights_init=init["weights_init"], means_init=init["means_init"] @ A.T + b)
    P = init["precisions_init"]
    if ct in ("full", "tied"):
        mapped_init["precisions_init"] = A_inv.T @ P @ A_inv
    elif ct == "diag":
        mapped_init["precisions_init"] = 1 / _map_covariances(ct, 1 / P, A)
    else:
        mapped_init["precisions_init"] = 1 / _map_covariances(ct, 1 / P, A)

    kwargs = dict(covariance_type=ct, reg_covar=0.0, tol=0, max_iter=10)
    try:
        gm = _fit(GaussianMixtureEM(problem.n_components, **kwargs, **init), X, sw)
        mapped = _fit(GaussianMixtureEM(problem.n_components, **kwargs, **mapped_init), X @ A.T + b, sw)
    except ValueError:
        assume(False)  # collapsed component with reg_covar=0
    assert_allclose(mapped.weights_, gm.weights_, rtol=1e-6, atol=1e-9)
    assert_allclose(mapped.means_, gm.means_ @ A.T + b, rtol=1e-6, atol=1e-6)
    assert_allclose(mapped.covariances_, _map_covariances(ct, gm.covariances_, A), rtol=1e-6, atol=1e-9)
    # log p(Ax + b) = log p(x) - log|det A|, for every iteration's bound.
    shift = np.log(abs(np.linalg.det(A)))
    assert_allclose(mapped.lower_bounds_, np.asarray(gm.lower_bounds_) - shift, rtol=1e-6, atol=1e-8)
    assert_array_equal(mapped.labels_, gm.labels_)


@SETTINGS
@given(problem=problems(), perm_seed=st.integers(0, 1000))
def test_permuting_initial_components_permutes_the_result(problem, perm_seed):
    K, ct = problem.n_components, problem.covariance_type
    perm = np.random.RandomState(perm_seed).permutation(K)
    init = problem.init()
    permuted = dict(weights_init=init["weights_init"][perm], means_init=init["means_init"][perm])
    permuted["precisions_init"] = init["precisions_init"] if ct == "tied" else init["precisions_init"][perm]
    kwargs = dict(covariance_type=ct, tol=0, max_iter=10)
    gm = _fit(GaussianMixtureEM(K, **kwargs, **init), problem.X, problem.sample_weight)
    other = _fit(GaussianMixtureEM(K, **kwargs, **permuted), problem.X, problem.sample_weight)
    assert_allclose(other.weights_, gm.weights_[perm], rtol=1e-8, atol=1e-12)
    assert_allclose(other.means_, gm.means_[perm], rtol=1e-8, atol=1e-10)
    expected = gm.covariances_ if ct == "tied" else gm.covariances_[perm]
    assert_allclose(other.covariances_, expected, rtol=1e-8, atol=1e-12)
    assert_allclose(other.predict_proba(problem.X), gm.predict_proba(problem.X)[:, perm], atol=1e-9)


# -- computation -----------------------------------------------------------------------
@SETTINGS
@given(problem=problems(), block_size=st.integers(1, 17))
def test_blocked_equals_one_block(problem, block_size, monkeypatch_module):
    kwargs = dict(covariance_type=problem.covariance_type, tol=0, max_iter=8, **problem.init())
    one = _fit(GaussianMixtureEM(problem.n_components, **kwargs), problem.X, problem.sample_weight)
    with monkeypatch_module.context() as patch:
        patch.setattr("skgmm.sources.memory.choose_block_size", lambda *args: block_size)
        blocked = _fit(GaussianMixtureEM(problem.n_components, **kwargs), problem.X, problem.sample_weight)
        blocked_proba = blocked.predict_proba(problem.X)
    for ours, theirs in zip(_params(one), _params(blocked)):
        assert_allclose(theirs, ours, rtol=1e-9, atol=1e-12)
    assert_allclose(blocked.lower_bounds_, one.lower_bounds_, rtol=1e-11)
    assert_allclose(blocked_proba, one.predict_proba(problem.X), atol=1e-10)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@SETTINGS
@given(problem=problems())
def test_float32_stays_close_to_float64(problem):
    kwargs = dict(covariance_type=problem.covariance_type, tol=0, max_iter=10)
    gm64 = _fit(
        GaussianMixtureEM(problem.n_components, **kwargs, **problem.init()), problem.X, problem.sample_weight
    )
    sw32 = None if problem.sample_weight is None else problem.sample_weight.astype(np.float32)
    gm32 = _fit(
        GaussianMixtureEM(problem.n_components, **kwargs, **problem.init(np.float32)),
        problem.X.astype(np.float32),
        sw32,
    )
    assert gm32.means_.dtype == np.float32
    scale = np.abs(problem.X).max()
    assert_allclose(gm32.lower_bound_, gm64.lower_bound_, rtol=1e-4, atol=1e-4)
    assert_allclose(gm32.means_, gm64.means_, rtol=1e-3, atol=1e-3 * scale)
    assert_allclose(gm32.weights_, gm64.weights_, atol=1e-3)


# -- persistence, cloning, threads, determinism ---------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(200, 3), rng.randn(200, 3) + 4])
    return {
        ct: GaussianMixtureEM(3, covariance_type=ct, random_state=0).fit(
            X, sample_weight=rng.uniform(size=400)
        )
        for ct in COVARIANCE_TYPES
    }, X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_pickle_and_joblib_round_trip(fitted, covariance_type, tmp_path):
    models, X = fitted
    gm = models[covariance_type]
    path = tmp_path / "model.joblib"
    joblib.dump(gm, path)
    for again in [pickle.loads(pickle.dumps(gm)), joblib.load(path)]:
        assert_array_equal(again.predict_proba(X), gm.predict_proba(X))
        assert_array_equal(again.score_samples(X), gm.score_samples(X))
        assert_array_equal(again.predict(X), gm.predict(X))
        assert again.get_params() == gm.get_params()


def test_clone_is_unfitted(fitted):
    models, X = fitted
    gm = models["full"]
    copy = clone(gm)
    assert copy.get_params() == gm.get_params()
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(copy))
    with pytest.raises(Exception, match="not fitted"):
        copy.predict(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_from_many_threads(fitted, covariance_type):
    models, X = fitted
    gm = models[covariance_type]
    expected = gm.predict_proba(X)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: gm.predict_proba(X), range(8)))
        labels = list(pool.map(lambda _: gm.predict(X), range(8)))
    for result in results:
        assert_array_equal(result, expected)
    for result in labels:
        assert_array_equal(result, expected.argmax(axis=1))


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_same_random_state_is_bit_identical(init_params):
    rng = np.random.RandomState(1)
    X = np.vstack([rng.randn(150, 2), rng.randn(150, 2) + 3])
    sw = rng.uniform(0.5, 2, size=len(X))
    make = lambda: GaussianMixtureEM(  # noqa: E731
        3, init_params=init_params, n_init=2, random_state=7, max_iter=20
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first, second = make().fit(X, sample_weight=sw), make().fit(X, sample_weight=sw)
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "labels_"]:
        assert_array_equal(getattr(first, name), getattr(second, name))
    assert first.lower_bounds_ == second.lower_bounds_
    assert_array_equal(first.sample(5)[0], second.sample(5)[0])

"""mclust's covariance models: EM against mclust::me(), and the M-steps' structure and optimality.

The fixtures under ``tests/fixtures/mclust`` come from
``benchmarks/mclust_fixtures.R`` (mclust 6.0.0): for each data set, number of
components and model, mclust's ``me()`` ran EM from the stored responsibilities
``z`` with ``emControl()``'s defaults.  The EM loop below is written here, not
taken from the engine: a scipy E-step, and the M-step of
``skgmm.covariance.parsimonious``.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import load_iris

from skgmm.covariance.mclust_mstep import estimate_mclust_covariances
from skgmm.covariance.parsimonious import (
    ITERATIVE_MODELS,
    MULTIVARIATE_MODELS,
    UNIVARIATE_MODELS,
    MclustCovariances,
    n_parameters,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mclust"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))
# The results agree to about 1e-12 (iterative models) or 1e-14; these
# tolerances leave room for other BLAS and LAPACK builds.
LOGLIK_RTOL = 1e-9
PARAMETER_RTOL = 1e-7


def _load_data(name):
    if name == "iris":  # scikit-learn's copy equals R's iris[, 1:4]
        return load_iris().data
    if name == "waiting":  # faithful$waiting
        return np.loadtxt(FIXTURES / "data" / "faithful.csv", delimiter=",", skiprows=1)[:, [1]]
    return np.loadtxt(FIXTURES / "data" / f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)


def _scatter(X, resp, means):
    centred = X[None, :, :] - means[:, None, :]
    return np.einsum("ik,kij,kil->kjl", resp, centred, centred)


def _em(X, model, resp, loglik_tol=1e-5, **m_step_kwargs):
    """EM from responsibilities, stopped as mclust's me() stops.

    me() starts with an M-step and, after each E-step, stops when
    ``|l_t - l_{t-1}| / (1 + |l_t|) < tol`` (``emControl()$tol[1]``); it counts
    M-steps and returns the last M-step's parameters with the log-likelihood
    of the E-step that follows (so at least two iterations run).  The
    iterative M-steps start from the previous M-step's result, as mclust's do.
    """
    n_samples = len(X)
    path, inner, previous = [], [], None
    while True:
        nk = resp.sum(axis=0)
        means = resp.T @ X / nk[:, None]
        estimate = estimate_mclust_covariances(
            model, nk, _scatter(X, resp, means), reg_covar=0.0, previous=previous, **m_step_kwargs
        )
        previous = estimate
        inner.append(estimate.n_iter)
        weights = nk / n_samples
        log_prob = np.column_stack(
            [
                multivariate_normal(mean, cov).logpdf(X).reshape(n_samples)
                for mean, cov in zip(means, estimate.covariances)
            ]
        ) + np.log(weights)
        log_norm = logsumexp(log_prob, axis=1)
        resp = np.exp(log_prob - log_norm[:, None])
        path.append(log_norm.sum())
        if len(path) > 1 and abs(path[-1] - path[-2]) / (1 + abs(path[-1])) < loglik_tol:
            break
    return dict(weights=weights, means=means, estimate=estimate, loglik=path[-1], path=path, inner=inner)


def _assert_close_to_scale(actual, desired, rtol=PARAMETER_RTOL):
    desired = np.asarray(desired, dtype=float)
    assert_allclose(
        actual, np.broadcast_to(desired, np.shape(actual)), rtol=rtol, atol=rtol * np.abs(desired).max()
    )


@pytest.fixture(scope="module", params=FIXTURE_FILES, ids=[path.stem for path in FIXTURE_FILES])
def fit_and_fixture(request):
    fixture = json.loads(request.param.read_text())
    X = _load_data(fixture["dataset"])
    assert X.shape == (fixture["n_samples"], fixture["n_features"])
    resp = np.asarray(fixture["z"], dtype=float)
    loglik_tol = fixture["control"]["tol"][0]
    return _em(X, fixture["model"], resp, loglik_tol=loglik_tol, **_inner_control(fixture)), fixture


def _inner_control(fixture):
    control = fixture["control"]
    return dict(tol=control["tol"][1], max_iter=control["itmax"][1])


def test_fixtures_cover_every_model():
    seen = {(path.stem.split("_")[0], path.stem.split("_")[1]) for path in FIXTURE_FILES}
    datasets = {name for name, _ in seen}
    for model in MULTIVARIATE_MODELS:
        assert {name for name, seen_model in seen if seen_model == model} >= {"iris", "faithful"}
    for model in UNIVARIATE_MODELS:
        assert any((name, model) in seen for name in datasets)
    assert sum(path.stat().st_size for path in FIXTURES.rglob("*")) < 2_000_000


def test_em_reproduces_mclust(fit_and_fixture):
    fit, fixture = fit_and_fixture
    assert not fixture["failed"]
    # Same number of EM iterations and the same log-likelihood after each.
    assert len(fit["path"]) == fixture["n_iter"]
    assert_allclose(fit["loglik"], fixture["loglik"], rtol=LOGLIK_RTOL)
    if "loglik_path" in fixture:
        assert_allclose(fit["path"], fixture["loglik_path"], rtol=LOGLIK_RTOL)
    # The last relative change, as me() reports it: the stopping rule is the same.
    last, before = fit["path"][-1], fit["path"][-2]
    assert_allclose(abs(last - before) / (1 + abs(last)), fixture["error"], rtol=1e-4, atol=1e-12)
    # me() returns the parameters that give its log-likelihood.
    assert_allclose(fixture["estep_loglik"], fixture["loglik"], rtol=1e-12)
    _assert_close_to_scale(fit["weights"], fixture["pro"])
    _assert_close_to_scale(fit["means"], np.reshape(fixture["mean"], fit["means"].shape))
    _assert_close_to_scale(fit["estimate"].covariances, fixture["sigma"])


def test_decomposition_matches_mclust(fit_and_fixture):
    fit, fixture = fit_and_fixture
    estimate = fit["estimate"]
    if "scale" in fixture:
        _assert_close_to_scale(estimate.scale, fixture["scale"])
    if "shape" in fixture:
        _assert_close_to_scale(estimate.shape, fixture["shape"])
    if "orientation" in fixture:
        # Eigenvectors are defined up to sign: compare D_ours^T D_mclust with a signed identity.
        desired = np.broadcast_to(fixture["orientation"], estimate.orientation.shape)
        products = estimate.orientation.transpose(0, 2, 1) @ desired
        assert_allclose(
            np.abs(products), np.broadcast_to(np.eye(fixture["n_features"]), products.shape), atol=1e-6
        )


def test_inner_iterations_match_mclust(fit_and_fixture):
    fit, fixture = fit_and_fixture
    model = fixture["model"]
    if model not in ITERATIVE_MODELS:
        assert set(fit["inner"]) == {0}
        return
    # me()'s "inner" information is the last M-step's count for VEE, EVE and
    # VVE, and the largest count over its M-steps for VEI and VEV.
    reported = max(fit["inner"]) if model in ("VEI", "VEV") else fit["inner"][-1]
    assert reported == fixture["inner_n_iter"]


def test_n_parameters_and_bic_match_mclust(fit_and_fixture):
    fit, fixture = fit_and_fixture
    df = n_parameters(fixture["model"], fixture["n_components"], fixture["n_features"])
    assert df == fixture["df"]
    # mclust's BIC is 2 loglik - df log n: higher is better.
    bic = 2 * fit["loglik"] - df * math.log(fixture["n_samples"])
    assert_allclose(bic, fixture["bic"], rtol=LOGLIK_RTOL)


# Properties on random statistics ------------------------------------------------------------


def _random_stats(n_components=3, n_features=3, seed=0):
    """Component weights and scatter matrices of random, differently shaped clusters."""
    rng = np.random.RandomState(seed)
    nk = rng.uniform(20, 60, size=n_components)
    scatter = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        points = rng.normal(size=(int(nk[k]) + 5, n_features)) @ rng.normal(size=(n_features, n_features))
        centred = points - points.mean(axis=0)
        scatter[k] = nk[k] * (centred.T @ centred) / len(points)
    return nk, scatter


def _expected_log_likelihood(nk, scatter, covariances):
    """The covariance part of the expected complete log-likelihood."""
    _, log_det = np.linalg.slogdet(covariances)
    return -0.5 * float(
        nk @ log_det + np.trace(np.linalg.solve(covariances, scatter), axis1=1, axis2=2).sum()
    )


ALL_MODELS = [(model, 3) for model in MULTIVARIATE_MODELS] + [(model, 1) for model in UNIVARIATE_MODELS]


def _letters(model):
    return model if len(model) == 3 else model + "II"


@pytest.mark.parametrize("reg_covar", [0.0, 0.1])
@pytest.mark.parametrize("model, n_features", ALL_MODELS)
def test_estimate_has_the_model_structure(model, n_features, reg_covar):
    nk, scatter = _random_stats(n_features=n_features)
    estimate = estimate_mclust_covariances(model, nk, scatter, reg_covar=reg_covar)
    n_components = len(nk)
    volume, shape, orientation = _letters(model)
    covariances, scale, shapes, axes = estimate[:4]
    assert covariances.shape == axes.shape == (n_components, n_features, n_features)
    assert scale.shape == (n_components,) and shapes.shape == (n_components, n_features)
    # The decomposition describes the covariances, with det A_k = 1 and orthogonal D_k.
    rebuilt = scale[:, None, None] * (axes * shapes[:, None, :]) @ axes.transpose(0, 2, 1)
    assert_allclose(covariances, rebuilt, rtol=1e-12, atol=1e-14 * np.abs(covariances).max())
    assert_allclose(np.prod(shapes, axis=1), 1.0, rtol=1e-12)
    assert_allclose(
        axes @ axes.transpose(0, 2, 1), np.broadcast_to(np.eye(n_features), axes.shape), atol=1e-12
    )
    assert_allclose(np.linalg.det(covariances) ** (1 / n_features), scale, rtol=1e-10)
    if volume == "E":
        assert_allclose(scale, scale[0], rtol=1e-12)
    else:
        assert np.ptp(scale) > 1e-3 * scale.max()
    if shape == "I":
        assert_allclose(shapes, 1.0, rtol=1e-12)
    elif shape == "E":
        assert_allclose(shapes, np.broadcast_to(shapes[0], shapes.shape), rtol=1e-12)
    else:
        assert np.ptp(shapes, axis=0).max() > 1e-3
    if orientation == "I":
        assert_allclose(axes, np.broadcast_to(np.eye(n_features), axes.shape), atol=0)
    elif orientation == "E":
        assert_allclose(axes, np.broadcast_to(axes[0], axes.shape), atol=1e-12)
    else:
        assert np.abs(axes - axes[0]).max() > 1e-3


def _perturbations(model, estimate, rng, size, count=20):
    """Covariances near ``estimate`` inside the model's family: E parts move alike, I parts stay."""
    volume, shape, orientation = _letters(model)
    n_components, n_features = estimate.shape.shape

    def per_component(equal, draw):
        if equal:
            value = draw()
            return np.broadcast_to(value, (n_components, *np.shape(value)))
        return np.stack([draw() for _ in range(n_components)])

    def log_shape_step():
        step = rng.normal(size=n_features)
        return step - step.mean()  # keeps det A = 1

    def rotation():  # the Cayley transform of a small skew matrix
        skew = rng.normal(scale=size / 2, size=(n_features, n_features))
        skew = skew - skew.T
        identity = np.eye(n_features)
        return np.linalg.solve(identity - skew, identity + skew)

    for _ in range(count):
        scale = estimate.scale * np.exp(size * per_component(volume == "E", lambda: rng.normal()))
        shapes, axes = estimate.shape, estimate.orientation
        if shape != "I":
            shapes = shapes * np.exp(size * per_component(shape == "E", log_shape_step))
        if orientation != "I":
            axes = axes @ per_component(orientation == "E", rotation)
        yield scale[:, None, None] * (axes * shapes[:, None, :]) @ axes.transpose(0, 2, 1)


@pytest.mark.parametrize("size", [1e-3, 1e-1])
@pytest.mark.parametrize("model, n_features", ALL_MODELS)
def test_estimate_maximises_expected_log_likelihood(model, n_features, size):
    nk, scatter = _random_stats(n_features=n_features, seed=1)
    # A tight inner tolerance: mclust's stops EVE's slow MM iterations short of the optimum.
    estimate = estimate_mclust_covariances(
        model, nk, scatter, reg_covar=0.0, tol=1e-14, max_iter=100_000, vve_orientation="likelihood"
    )
    best = _expected_log_likelihood(nk, scatter, estimate.covariances)
    rng = np.random.RandomState(0)
    for perturbed in _perturbations(model, estimate, rng, size):
        assert _expected_log_likelihood(nk, scatter, perturbed) < best


def test_mclust_vve_orientation_is_eve_orientation():
    # mclust 6.0.0's VVE chooses its common orientation by EVE's criterion; the
    # fixtures reproduce that, and 'likelihood' does better on VVE's own terms.
    nk, scatter = _random_stats(seed=2)
    eve = estimate_mclust_covariances("EVE", nk, scatter, reg_covar=0.0)
    mclust = estimate_mclust_covariances("VVE", nk, scatter, reg_covar=0.0)
    likelihood = estimate_mclust_covariances("VVE", nk, scatter, reg_covar=0.0, vve_orientation="likelihood")
    assert_allclose(mclust.orientation, eve.orientation, atol=1e-12)
    assert_allclose(mclust.shape, eve.shape, rtol=1e-12)
    assert _expected_log_likelihood(nk, scatter, likelihood.covariances) > _expected_log_likelihood(
        nk, scatter, mclust.covariances
    )


@pytest.mark.parametrize("model", ["EII", "VII", "EEI", "VVI", "EEE", "EEV", "VVV"])
def test_reg_covar_adds_to_the_diagonal_where_the_family_allows(model):
    nk, scatter = _random_stats()
    plain = estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0)
    regularised = estimate_mclust_covariances(model, nk, scatter, reg_covar=0.25)
    assert_allclose(regularised.covariances, plain.covariances + 0.25 * np.eye(3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model, n_features", ALL_MODELS)
def test_inputs_are_not_modified(model, n_features):
    nk, scatter = _random_stats(n_features=n_features)
    nk_copy, scatter_copy = nk.copy(), scatter.copy()
    previous = estimate_mclust_covariances(model, nk, scatter)
    previous_copy = MclustCovariances(*(np.copy(value) for value in previous[:4]), previous.n_iter)
    estimate_mclust_covariances(model, nk, scatter, previous=previous)
    assert_allclose(nk, nk_copy, rtol=0)
    assert_allclose(scatter, scatter_copy, rtol=0)
    for value, copy in zip(previous[:4], previous_copy[:4]):
        assert_allclose(value, copy, rtol=0)


@pytest.mark.parametrize("model", ITERATIVE_MODELS)
def test_warm_start_continues_the_ascent(model):
    nk, scatter = _random_stats(seed=3)
    tight = dict(reg_covar=0.0, tol=1e-13, max_iter=100_000)
    cold = estimate_mclust_covariances(model, nk, scatter, **tight)
    warm = estimate_mclust_covariances(model, nk, scatter, previous=cold, **tight)
    # Each inner step raises the expected log-likelihood, so a warm start loses nothing.
    cold_value = _expected_log_likelihood(nk, scatter, cold.covariances)
    assert _expected_log_likelihood(nk, scatter, warm.covariances) >= cold_value - 1e-12 * abs(cold_value)
    # EVE's and VVE's MM steps converge slowly: the stopping rule leaves the
    # orientation about sqrt(tol) from the optimum.
    assert_allclose(warm.covariances, cold.covariances, rtol=1e-4, atol=1e-6)
    if model != "VEE":  # mclust restarts VEE every time
        assert warm.n_iter < cold.n_iter


@pytest.mark.parametrize("model", MULTIVARIATE_MODELS)
def test_flat_component_fails_only_where_its_shape_is_its_own(model):
    nk, scatter = _random_stats()
    # Component 1 has no spread along the first feature: W_1 is singular.
    scatter[1, 0, :] = scatter[1, :, 0] = 0.0
    if model[1] == "V":
        with pytest.raises(ValueError, match=re.escape(f"The {model} M-step failed")):
            estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0)
        # The default regularisation makes the M-step possible.
        estimate = estimate_mclust_covariances(model, nk, scatter)
    else:
        # Models that pool the shape over components (or have none) still have a volume.
        estimate = estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0)
    assert np.all(np.linalg.eigvalsh(estimate.covariances) > 0)


@pytest.mark.parametrize(
    "model, n_features",
    [("VVV", 1), ("E", 3), ("XYZ", 2), ("vvv", 2)],
    ids=["VVV-1d", "E-3d", "XYZ", "lower"],
)
def test_unknown_model_lists_the_valid_ones(model, n_features):
    nk, scatter = _random_stats(n_features=n_features)
    valid = UNIVARIATE_MODELS if n_features == 1 else MULTIVARIATE_MODELS
    with pytest.raises(ValueError, match=re.escape(", ".join(valid))):
        estimate_mclust_covariances(model, nk, scatter)
    with pytest.raises(ValueError, match=re.escape(repr(model))):
        n_parameters(model, 2, n_features)


def test_vve_orientation_is_checked():
    nk, scatter = _random_stats()
    with pytest.raises(ValueError, match="vve_orientation must be 'mclust' or 'likelihood', got 'best'"):
        estimate_mclust_covariances("VVE", nk, scatter, vve_orientation="best")

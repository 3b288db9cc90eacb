"""mclust's models as ``covariance_type`` of GaussianMixtureEM: EM against mclust::me() and the engine's features.

The fixtures (``tests/fixtures/mclust``, see ``tests/test_mclust_models.py``)
hold mclust's EM from stored responsibilities ``z``.  mclust's ``me()`` starts
with an M-step from ``z``; here that first M-step is done by
:func:`~skgmm.covariance.mclust_mstep.estimate_mclust_covariances` and given to
the estimator as ``weights_init``, ``means_init`` and ``precisions_init``.

The stopping rules differ (skgmm: absolute change of the mean log-likelihood
below ``tol``; mclust: relative change of the total below 1e-5), so the
estimator runs with ``tol=0`` and exactly as many M-steps as mclust did: ``me()``
reports ``n_iter`` M-steps, the first of which is our start, so
``max_iter = n_iter - 1``.  Then ``lower_bounds_`` (the log-likelihoods of the
E-steps, each before its M-step) are the first ``n_iter - 1`` entries of
mclust's path and ``score(X)`` is its final log-likelihood.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from skgmm import GaussianMixtureEM, GaussianMixtureIC
from skgmm.covariance import COVARIANCE_MODELS, get_covariance_model
from skgmm.covariance.mclust import (
    DIAGONAL_MODELS,
    MCLUST_ALIASES,
    PARSIMONIOUS_MODELS,
    ParsimoniousCovariance,
    decompose,
)
from skgmm.covariance.mclust_mstep import estimate_mclust_covariances
from skgmm.covariance.parsimonious import (
    ITERATIVE_MODELS,
    MULTIVARIATE_MODELS,
    UNIVARIATE_MODELS,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mclust"
DATASETS = ("iris", "faithful", "precip", "waiting")
FIXTURE_FILES = sorted(path for path in FIXTURES.glob("*.json") if path.stem.split("_")[0] in DATASETS)
LOGLIK_RTOL = 1e-9  # observed: 1e-13 (log-likelihoods), 4e-14 (parameters)
PARAMETER_RTOL = 1e-8
NEW_MODELS = [model for model in PARSIMONIOUS_MODELS if model not in UNIVARIATE_MODELS]


def _load_data(name):
    if name == "iris":
        return load_iris().data
    if name == "waiting":
        return np.loadtxt(FIXTURES / "data" / "faithful.csv", delimiter=",", skiprows=1)[:, [1]]
    return np.loadtxt(FIXTURES / "data" / f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)


def _in_layout(covariance_type, covariances):
    """(K, d, d) covariances in the layout of ``covariance_type``'s strategy."""
    name = get_covariance_model(covariance_type).name
    if name == "spherical":
        return covariances[:, 0, 0]
    if name == "diag":
        return np.diagonal(covariances, axis1=1, axis2=2).copy()
    if name == "tied":
        return covariances[0]
    return covariances


def _precisions(covariance_type, covariances):
    layout = _in_layout(covariance_type, covariances)
    return (
        1.0 / layout
        if layout.ndim < 2 or get_covariance_model(covariance_type).name == "diag"
        else np.linalg.inv(layout)
    )


def _first_m_step(X, model, resp):
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    centred = X[None, :, :] - means[:, None, :]
    scatter = np.einsum("ik,kij,kil->kjl", resp, centred, centred)
    covariances = estimate_mclust_covariances(model, nk, scatter, reg_covar=0.0).covariances
    return dict(weights_init=nk / nk.sum(), means_init=means, precisions_init=_precisions(model, covariances))


def _assert_close_to_scale(actual, desired, rtol=PARAMETER_RTOL):
    desired = np.asarray(desired, dtype=float)
    assert_allclose(
        actual, np.broadcast_to(desired, np.shape(actual)), rtol=rtol, atol=rtol * np.abs(desired).max()
    )


def _fit(X, covariance_type, n_components, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixtureEM(n_components, covariance_type=covariance_type, **params).fit(X)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[path.stem for path in FIXTURE_FILES])
def test_estimator_reproduces_mclust(path):
    fixture = json.loads(path.read_text())
    X = _load_data(fixture["dataset"])
    model, n_components = fixture["model"], fixture["n_components"]
    gm = _fit(
        X,
        model,
        n_components,
        tol=0.0,
        reg_covar=0.0,
        max_iter=fixture["n_iter"] - 1,
        **_first_m_step(X, model, np.asarray(fixture["z"], dtype=float)),
    )
    n_samples = len(X)
    assert gm.n_iter_ == fixture["n_iter"] - 1
    assert_allclose(np.multiply(gm.lower_bounds_, n_samples), fixture["loglik_path"][:-1], rtol=LOGLIK_RTOL)
    assert_allclose(gm.score(X) * n_samples, fixture["loglik"], rtol=LOGLIK_RTOL)
    _assert_close_to_scale(gm.weights_, fixture["pro"])
    _assert_close_to_scale(gm.means_, np.reshape(fixture["mean"], gm.means_.shape))
    sigma = np.reshape(fixture["sigma"], (-1, X.shape[1], X.shape[1]))
    _assert_close_to_scale(
        gm.covariances_, _in_layout(model, np.broadcast_to(sigma, (n_components,) + sigma.shape[1:]))
    )
    # The new models keep (K, d, d) covariances; the aliases keep scikit-learn's layouts.
    if model in PARSIMONIOUS_MODELS:
        assert gm.covariances_.shape == gm.precisions_.shape == (n_components, X.shape[1], X.shape[1])
    # mclust's parameter count and BIC (mclust's BIC is -skgmm's).
    assert gm._n_parameters() == fixture["df"]
    assert_allclose(gm.bic(X), -fixture["bic"], rtol=LOGLIK_RTOL)


def test_vve_em_with_mclusts_orientation_can_lower_the_likelihood(monkeypatch):
    # The registry's VVE is mclust's, so that fits retrace mclust's; its M-step is
    # not an exact maximisation: from this start EM with it decreases the
    # log-likelihood, where the likelihood's own orientation step does not.
    X = _data()
    options = dict(tol=0.0, max_iter=60, random_state=0, init_params="random_from_data")
    mclust = _fit(X, "VVE", 3, **options)
    own_model = ParsimoniousCovariance("VVE", vve_orientation="likelihood")
    monkeypatch.setitem(COVARIANCE_MODELS, "VVE", own_model)
    own = _fit(X, "VVE", 3, **options)
    assert np.diff(mclust.lower_bounds_).min() < -1e-7
    assert np.diff(own.lower_bounds_).min() > -1e-12
    assert own.lower_bound_ > mclust.lower_bound_


def test_fixture_comparison_covers_every_model():
    covered = {path.stem.split("_")[1] for path in FIXTURE_FILES}
    assert covered == set(MULTIVARIATE_MODELS) | set(UNIVARIATE_MODELS)


def test_registry_has_every_mclust_name():
    for alias, name in MCLUST_ALIASES.items():
        assert COVARIANCE_MODELS[alias] is COVARIANCE_MODELS[name]
    for model in (*MULTIVARIATE_MODELS, *UNIVARIATE_MODELS):
        assert model in COVARIANCE_MODELS
    # GaussianMixtureIC takes them too.
    X = load_iris().data
    ic = GaussianMixtureIC(n_components=[2, 3], covariance_type=["VEV", "EEE", "EVI"], random_state=0).fit(X)
    assert set(ic.cv_results_["param_covariance_type"]) == {"VEV", "EEE", "EVI"}
    assert np.all(np.isfinite(ic.cv_results_["bic"]))


def _data(seed=0, n_samples=240):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -2.0], [-3.0, 4.0, 2.0]])
    labels = rng.randint(3, size=n_samples)
    mixing = rng.normal(size=(3, 3, 3))
    return np.einsum("nd,nde->ne", rng.normal(size=(n_samples, 3)), mixing[labels]) + centres[labels]


@pytest.mark.parametrize("model", NEW_MODELS)
def test_em_increases_the_likelihood_and_stays_in_the_family(model):
    X = _data()
    gm = _fit(X, model, 3, tol=0.0, max_iter=60, random_state=0, init_params="random_from_data")
    bounds = np.asarray(gm.lower_bounds_)
    # Monotone up to the inner tolerance of the iterative M-steps; mclust's VVE
    # step is not an exact maximisation (see the test above).
    if model != "VVE":
        assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))
    assert gm.covariances_.shape == (3, 3, 3)
    volume, shape, orientation = model
    values = np.linalg.eigvalsh(gm.covariances_)
    volumes = np.exp(np.log(values).mean(axis=1))
    if volume == "E":
        assert_allclose(volumes, volumes[0], rtol=1e-8)
    if orientation == "I":
        assert_allclose(
            gm.covariances_, np.eye(3) * np.diagonal(gm.covariances_, axis1=1, axis2=2)[:, None], atol=1e-12
        )
    if shape == "E" and orientation != "E":
        assert_allclose(
            values / volumes[:, None], np.broadcast_to(values[0] / volumes[0], values.shape), rtol=1e-6
        )


@pytest.mark.parametrize("model", [m for m in DIAGONAL_MODELS if m not in UNIVARIATE_MODELS])
@pytest.mark.parametrize("case", ["complete", "missing", "weighted", "off-diagonal start", "float32"])
def test_diagonal_kernels_fit_as_the_full_kernels(model, case, monkeypatch):
    # Issue #14: the diagonal models run the 'diag' kernels (and 'diag'
    # statistics); the full whitening kernels of every other model must give
    # the same fit, up to rounding.
    X = _data(seed=10)
    params = dict(tol=0.0, max_iter=25, random_state=0, init_params="random_from_data")
    fit_params = {}
    if case == "missing":
        X[np.random.RandomState(11).rand(*X.shape) < 0.1] = np.nan
    if case == "weighted":
        fit_params["sample_weight"] = np.random.RandomState(12).uniform(0.5, 2.0, size=len(X))
    if case == "off-diagonal start":  # precisions outside the family: whitened in full
        mixing = np.eye(3) + 0.3 * np.random.RandomState(13).normal(size=(3, 3, 3))
        params["precisions_init"] = mixing @ mixing.transpose(0, 2, 1)
    if case == "float32":
        X = X.astype(np.float32)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return GaussianMixtureEM(3, covariance_type=model, **params).fit(X, **fit_params)

    diagonal = fit()
    monkeypatch.setitem(COVARIANCE_MODELS, model, ParsimoniousCovariance(model))
    full = fit()
    rtol = 1e-4 if case == "float32" else 1e-9
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_allclose(getattr(diagonal, name), getattr(full, name), rtol=rtol, atol=rtol * 1e-2)
        assert getattr(diagonal, name).dtype == X.dtype
    # The expanded squares of the 'diag' kernels lose eps * |x - origin|^2 / variance:
    # a 1e-9 of the -1e7 bound of a start from single rows.
    assert_allclose(diagonal.lower_bounds_, full.lower_bounds_, rtol=max(rtol, 1e-8))
    X_complete = np.nan_to_num(X)
    assert_allclose(diagonal.score_samples(X_complete), full.score_samples(X_complete), rtol=rtol)


@pytest.mark.parametrize("model", [m for m in ITERATIVE_MODELS if m != "VEE"])
def test_decompose_recovers_the_decomposition(model):
    rng = np.random.RandomState(1)
    nk = rng.uniform(20, 60, size=3)
    scatter = np.stack(
        [nk[k] * np.cov(rng.normal(size=(50, 3)) @ rng.normal(size=(3, 3)), rowvar=False) for k in range(3)]
    )
    estimate = estimate_mclust_covariances(model, nk, scatter)
    start = decompose(model, estimate.covariances)
    # Warm from the decomposed covariances equals warm from mclust's own decomposition.
    from_start = estimate_mclust_covariances(model, nk, scatter, previous=start)
    from_estimate = estimate_mclust_covariances(model, nk, scatter, previous=estimate)
    assert_allclose(from_start.covariances, from_estimate.covariances, rtol=1e-9, atol=1e-12)
    assert from_start.n_iter == from_estimate.n_iter


@pytest.mark.parametrize("model", ["VEV", "EVE", "VEI", "EEI", "EVV"])
def test_integer_sample_weight_equals_repeated_rows(model):
    X = _data(seed=2, n_samples=120)
    weights = np.random.RandomState(3).randint(0, 4, size=len(X))
    rng = np.random.RandomState(4)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    init = _first_m_step(X, model, resp)
    params = dict(tol=0.0, max_iter=15, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = GaussianMixtureEM(3, covariance_type=model, **params).fit(X, sample_weight=weights)
        repeated = GaussianMixtureEM(3, covariance_type=model, **params).fit(np.repeat(X, weights, axis=0))
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-7, atol=1e-9)
    assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-9)


def test_precisions_init_has_the_full_shape():
    X = _data()
    with pytest.raises(ValueError, match=r"\(3, 3, 3\)"):
        GaussianMixtureEM(3, covariance_type="VEV", precisions_init=np.ones((3, 3))).fit(X)
    with pytest.raises(ValueError, match="symmetric, positive-definite"):
        GaussianMixtureEM(3, covariance_type="EVE", precisions_init=-np.tile(np.eye(3), (3, 1, 1))).fit(X)


def test_univariate_models():
    X = _load_data("precip")
    equal = _fit(X, "E", 2, random_state=0)
    variable = _fit(X, "V", 2, random_state=0)
    assert_allclose(equal.covariances_[0], equal.covariances_[1], rtol=1e-12)
    # means, weights, then one variance or two
    assert equal._n_parameters() == 2 + 1 + 1 and variable._n_parameters() == 2 + 1 + 2
    # Three-letter models on one feature are the model of their volume letter.
    assert_allclose(_fit(X, "EVE", 2, random_state=0).covariances_, equal.covariances_, rtol=1e-10)
    with pytest.raises(ValueError, match="'E' for 3 feature"):
        GaussianMixtureEM(2, covariance_type="E").fit(_data())


@pytest.mark.parametrize("model", ["VEV", "EVE"])
def test_missing_values(model):
    X = _data(seed=5)
    X[np.random.RandomState(6).rand(*X.shape) < 0.1] = np.nan
    gm = _fit(X, model, 3, tol=0.0, max_iter=40, random_state=0, init_params="random_from_data")
    bounds = np.asarray(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))
    values = np.linalg.eigvalsh(gm.covariances_)
    volumes = np.exp(np.log(values).mean(axis=1))
    if model == "VEV":  # one shape
        assert_allclose(
            values / volumes[:, None], np.broadcast_to(values[0] / volumes[0], values.shape), rtol=1e-6
        )
    else:  # one volume
        assert_allclose(volumes, volumes[0], rtol=1e-8)
    assert np.isfinite(gm.score(X))


def test_partial_fit():
    X = _data(seed=7, n_samples=600)
    gm = GaussianMixtureEM(3, covariance_type="VEV", random_state=0)
    for batch in np.array_split(X, 6):
        gm.partial_fit(batch)
    values = np.linalg.eigvalsh(gm.covariances_)
    volumes = np.exp(np.log(values).mean(axis=1))
    assert_allclose(
        values / volumes[:, None], np.broadcast_to(values[0] / volumes[0], values.shape), rtol=1e-6
    )
    assert np.isfinite(gm.score(X))


def test_dask_equals_numpy():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    X = _data(seed=8, n_samples=400)
    init = _first_m_step(X, "EVE", np.random.RandomState(9).dirichlet(np.ones(3), size=len(X)))
    params = dict(tol=0.0, max_iter=10, **init)
    with dask.config.set(scheduler="synchronous"):
        fitted = _fit(da.from_array(X, chunks=(150, -1)), "EVE", 3, **params)
    reference = _fit(X, "EVE", 3, **params)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(fitted, name), getattr(reference, name), rtol=1e-8, atol=1e-10)


def test_plotting_expands_every_name():
    from skgmm.plotting import full_covariances

    X = _data()
    for model in ("VEV", "VII", "EEE"):
        gm = _fit(X, model, 3, random_state=0)
        dense = full_covariances(gm.covariances_, model, 3, 3)
        assert dense.shape == (3, 3, 3)
        # precisions_ share the layout of covariances_
        assert_allclose(
            np.linalg.inv(dense), full_covariances(gm.precisions_, model, 3, 3), rtol=1e-8, atol=1e-12
        )


@pytest.mark.parametrize("model", [*MULTIVARIATE_MODELS, "full", "tied", "diag", "spherical"])
def test_volume_shape_orientation_attributes_rebuild_the_covariances(model):
    """volumes_, shapes_ and orientations_ decompose every component's covariance within its family."""
    from sklearn.datasets import load_iris

    gm = GaussianMixtureEM(3, covariance_type=model, random_state=0, max_iter=30).fit(load_iris().data)
    n_components, n_features = gm.means_.shape
    dense = get_covariance_model(model).dense_covariances(gm.covariances_, n_components, n_features)
    volumes, shapes, axes = gm.volumes_, gm.shapes_, gm.orientations_
    rebuilt = volumes[:, None, None] * np.einsum("kij,kj,klj->kil", axes, shapes, axes)
    assert_allclose(rebuilt, dense, rtol=1e-10, atol=1e-12 * np.abs(dense).max())
    assert_allclose(np.prod(shapes, axis=1), 1.0, rtol=1e-10)
    assert_allclose(
        np.einsum("kji,kjl->kil", axes, axes), np.broadcast_to(np.eye(n_features), axes.shape), atol=1e-10
    )
    # the family's constraints: equal letters give equal factors
    letters = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}.get(model, model)
    if letters[0] == "E":
        assert_allclose(volumes, volumes[0], rtol=1e-8)
    if letters[1] == "E":
        assert_allclose(shapes, np.broadcast_to(shapes[0], shapes.shape), rtol=1e-6)
    if letters[1] == "I":
        assert_allclose(shapes, 1.0, rtol=1e-10)
    if letters[2] in "IE":
        assert_allclose(np.abs(axes), np.broadcast_to(np.abs(axes[0]), axes.shape), atol=1e-6)

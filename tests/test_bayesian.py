"""BayesianGaussianMixtureEM against scikit-learn's BayesianGaussianMixture."""

import inspect
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

from skgmm import BayesianGaussianMixtureEM
from skgmm._init import INITIALISERS

from .conftest import COVARIANCE_TYPES, datasets

DATASETS = {name: X for name, X in datasets().items() if name != "wine"}
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
RTOL = 1e-6


def relative_close(actual, expected, rtol=RTOL):
    expected = np.asarray(expected, np.float64)
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * max(np.abs(expected).max(), 1e-300))


def fit_both(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = BayesianGaussianMixture(**kwargs).fit(X)
        ours = BayesianGaussianMixtureEM(**kwargs).fit(X)
    return ref, ours


def assert_same_fit(ours, ref, X, rtol=RTOL):
    for name in (
        "weights_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
        "mean_precision_",
        "degrees_of_freedom_",
    ):
        relative_close(getattr(ours, name), getattr(ref, name), rtol)
    assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=rtol)
    assert_allclose(ours.lower_bounds_, np.ravel(ref.lower_bounds_), rtol=rtol)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.converged_ == ref.converged_
    assert_array_equal(ours.predict(X), ref.predict(X))


def test_constructor_is_sklearns():
    ours = inspect.signature(BayesianGaussianMixtureEM.__init__).parameters
    ref = inspect.signature(BayesianGaussianMixture.__init__).parameters
    assert list(ours) == list(ref)
    for name, parameter in ref.items():
        assert ours[name].default == parameter.default, name
        assert ours[name].kind == parameter.kind, name
    assert set(BayesianGaussianMixtureEM._parameter_constraints) == set(
        BayesianGaussianMixture._parameter_constraints
    )


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random_from_data"])
def test_parity_with_sklearn(data, covariance_type, prior_type, init_params):
    X = DATASETS[data]
    ref, ours = fit_both(
        X,
        n_components=5,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        init_params=init_params,
        random_state=0,
    )
    assert_same_fit(ours, ref, X)
    if prior_type == "dirichlet_process":
        for a, b in zip(ours.weight_concentration_, ref.weight_concentration_, strict=True):
            relative_close(a, b)
    else:
        relative_close(ours.weight_concentration_, ref.weight_concentration_)
    relative_close(ours.predict_proba(X), ref.predict_proba(X))
    relative_close(ours.score_samples(X), ref.score_samples(X))
    assert_allclose(ours.score(X), ref.score(X), rtol=RTOL)
    assert_array_equal(ours.labels_, ours.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_parity_with_given_priors_and_n_init(covariance_type):
    X = DATASETS["iris"]
    n_features = X.shape[1]
    covariance_prior = {
        "full": 0.5 * np.eye(n_features),
        "tied": 0.5 * np.eye(n_features),
        "diag": np.full(n_features, 0.5),
        "spherical": 0.5,
    }[covariance_type]
    ref, ours = fit_both(
        X,
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior=0.1,
        mean_precision_prior=0.5,
        mean_prior=np.zeros(n_features),
        degrees_of_freedom_prior=n_features + 1.5,
        covariance_prior=covariance_prior,
        n_init=3,
        init_params="k-means++",
        random_state=1,
    )
    assert_same_fit(ours, ref, X)
    assert_allclose(ours.covariance_prior_, ref.covariance_prior_)


def test_warm_start_matches_sklearn():
    X = DATASETS["mixture_10d"]
    kwargs = dict(n_components=4, max_iter=3, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = BayesianGaussianMixture(**kwargs).fit(X).fit(X)
        ours = BayesianGaussianMixtureEM(**kwargs).fit(X).fit(X)
    assert_same_fit(ours, ref, X)


def test_fit_predict_is_fit_then_predict():
    X = DATASETS["blobs"]
    est = BayesianGaussianMixtureEM(n_components=4, random_state=0)
    labels = est.fit_predict(X)
    assert_array_equal(labels, est.predict(X))
    assert_array_equal(labels, est.labels_)
    samples, components = est.sample(50)
    assert samples.shape == (50, X.shape[1]) and components.shape == (50,)


def nearest_of_fixed_centres(data):
    """A start that depends on no draw, no row order, no weight: labels by fixed centres."""
    centres = np.linspace(data.min(axis=0), data.max(axis=0), 4)

    def initialise(X, sample_weight, n_components, random_state):
        distances = ((X[:, None, :] - centres[None, :n_components]) ** 2).sum(axis=2)
        return np.argmin(distances, axis=1).astype(np.intp)

    return initialise


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_integer_sample_weight_is_repeated_rows(monkeypatch, covariance_type, prior_type):
    X = DATASETS["blobs"]
    monkeypatch.setitem(INITIALISERS, "kmeans", nearest_of_fixed_centres(X))
    weights = np.random.RandomState(0).randint(0, 4, size=len(X))
    kwargs = dict(n_components=4, covariance_type=covariance_type, weight_concentration_prior_type=prior_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = BayesianGaussianMixtureEM(**kwargs).fit(X, sample_weight=weights)
        repeated = BayesianGaussianMixtureEM(**kwargs).fit(np.repeat(X, weights, axis=0))
    for name in ("weights_", "means_", "covariances_", "mean_precision_", "degrees_of_freedom_"):
        # the only difference: scikit-learn's 10 eps in nk is of a row's (mean) weight
        relative_close(getattr(weighted, name), getattr(repeated, name), rtol=1e-9)
    assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-9)
    assert weighted.n_iter_ == repeated.n_iter_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_in_float32_out(covariance_type):
    X = DATASETS["blobs"]
    est64 = BayesianGaussianMixtureEM(n_components=3, covariance_type=covariance_type, random_state=0).fit(X)
    est = BayesianGaussianMixtureEM(n_components=3, covariance_type=covariance_type, random_state=0)
    est.fit(X.astype(np.float32))
    for name in (
        "weights_",
        "means_",
        "covariances_",
        "precisions_",
        "precisions_cholesky_",
        "mean_precision_",
    ):
        assert getattr(est, name).dtype == np.float32, name
        relative_close(getattr(est, name), getattr(est64, name), rtol=1e-3)
    X32 = X.astype(np.float32)
    assert est.predict_proba(X32).dtype == np.float32
    assert est.score_samples(X32).dtype == np.float32
    assert est.sample(5)[0].dtype == np.float32
    assert_array_equal(est.labels_, est.predict(X32))


def test_missing_values_are_rejected():
    X = DATASETS["blobs"].copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BayesianGaussianMixtureEM(n_components=2).fit(X)
    est = BayesianGaussianMixtureEM(n_components=2, random_state=0).fit(DATASETS["blobs"])
    with pytest.raises(ValueError, match="NaN"):
        est.predict(X)


def test_dask_array_fits_as_numpy(monkeypatch):
    da = pytest.importorskip("dask.array")
    X = DATASETS["mixture_10d"]
    monkeypatch.setitem(INITIALISERS, "kmeans", nearest_of_fixed_centres(X))
    kwargs = dict(n_components=4, covariance_type="full", init_params="kmeans", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = BayesianGaussianMixtureEM(**kwargs).fit(X)
        lazy = BayesianGaussianMixtureEM(**kwargs).fit(da.from_array(X, chunks=(150, X.shape[1])))
    relative_close(lazy.means_, ours.means_, rtol=1e-8)
    assert_allclose(lazy.lower_bound_, ours.lower_bound_, rtol=1e-8)
    assert_array_equal(np.asarray(lazy.predict(X)), ours.predict(X))


def test_dask_missing_values_are_rejected():
    da = pytest.importorskip("dask.array")
    X = DATASETS["blobs"].copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BayesianGaussianMixtureEM(n_components=2, random_state=0).fit(da.from_array(X, chunks=(100, 3)))

"""The estimator's contract: attributes, dtypes, messages, monitoring."""

import pickle
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture

from skgmm import GaussianMixtureEM

from .conftest import mixture_10d


def test_signature_is_a_superset_of_sklearn():
    ours = GaussianMixtureEM().get_params()
    ref = GaussianMixture().get_params()
    for name, value in ref.items():
        assert name in ours and ours[name] == value
    for method in [
        "fit",
        "fit_predict",
        "predict",
        "predict_proba",
        "score_samples",
        "score",
        "sample",
        "bic",
        "aic",
    ]:
        assert callable(getattr(GaussianMixtureEM, method))


def test_fitted_attributes_shapes(covariance_type):
    X, _ = mixture_10d(n_samples=200)
    gm = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(X)
    ref = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        assert getattr(gm, name).shape == getattr(ref, name).shape
        assert getattr(gm, name).dtype == np.float64
    assert gm.labels_.shape == (200,)
    assert_array_equal(gm.labels_, gm.predict(X))
    assert gm.n_features_in_ == 10
    assert len(gm.lower_bounds_) == gm.n_iter_


def test_float32_in_float32_out(covariance_type):
    X, _ = mixture_10d(n_samples=300)
    X32 = X.astype(np.float32)
    gm32 = GaussianMixtureEM(4, covariance_type=covariance_type, random_state=0).fit(X32)
    gm64 = GaussianMixtureEM(4, covariance_type=covariance_type, random_state=0).fit(X)
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        assert getattr(gm32, name).dtype == np.float32, name
    assert gm32.predict_proba(X32).dtype == np.float32
    assert gm32.score_samples(X32).dtype == np.float32
    assert gm32.sample(5)[0].dtype == np.float32
    assert_allclose(gm32.means_, gm64.means_, rtol=1e-3, atol=1e-3)
    assert_allclose(gm32.lower_bound_, gm64.lower_bound_, rtol=1e-5)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied", "full"])
def test_float32_variances_are_centred(covariance_type):
    # scikit-learn #30382: E[x^2] - mu^2 in float32 gives 112.1 for a true 0.1.
    X = np.array([[9999.0], [0.0]], dtype=np.float32)
    gm = GaussianMixtureEM(2, covariance_type=covariance_type, reg_covar=0.1, random_state=0).fit(X)
    assert_allclose(gm.covariances_.ravel(), 0.1, rtol=1e-5)


def test_not_fitted_errors():
    gm = GaussianMixtureEM()
    for method in ["predict", "predict_proba", "score_samples", "score", "bic", "aic"]:
        with pytest.raises(NotFittedError):
            getattr(gm, method)(np.zeros((3, 2)))
    with pytest.raises(NotFittedError):
        gm.sample(3)


def test_convergence_warning_and_verbose(capsys):
    X, _ = mixture_10d(n_samples=200)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GaussianMixtureEM(4, max_iter=2, tol=0, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out
    assert re.search(r"Iteration 2\t time lapse [0-9.]+s\t ll change", out)
    assert "Initialization did not converge." in out


def test_user_inputs_not_modified():
    X, _ = mixture_10d(n_samples=100)
    X.setflags(write=False)
    init = dict(
        weights_init=np.full(2, 0.5),
        means_init=X[:2].copy(),
        precisions_init=np.tile(np.eye(10), (2, 1, 1)),
    )
    frozen = {k: v.copy() for k, v in init.items()}
    gm = GaussianMixtureEM(2, **init).fit(X)
    for name, value in init.items():
        assert getattr(gm, name) is value
        assert_array_equal(value, frozen[name])


def test_pickle_and_clone():
    X, _ = mixture_10d(n_samples=100)
    gm = GaussianMixtureEM(3, random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(gm))
    assert_array_equal(again.predict_proba(X), gm.predict_proba(X))
    assert not hasattr(clone(gm), "means_")


def test_same_random_state_is_bit_identical():
    X, _ = mixture_10d(n_samples=300)
    a = GaussianMixtureEM(4, random_state=5).fit(X)
    b = GaussianMixtureEM(4, random_state=5).fit(X)
    assert_array_equal(a.means_, b.means_)
    assert_array_equal(a.covariances_, b.covariances_)


def test_collapsed_component_with_zero_reg_covar_explains():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], 10, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(ValueError, match="increase reg_covar"):
            GaussianMixtureEM(3, reg_covar=0, random_state=0).fit(X)


@pytest.mark.parametrize("n_samples", [150, 3000])
def test_relative_convergence_is_mclusts_rule(n_samples):
    """``convergence='relative'`` stops at the first |L - L_old| / (1 + |L|) < tol of the total L."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(n_samples // 2, 2), rng.randn(n_samples - n_samples // 2, 2) * 0.5 + 2.5])
    tol = 1e-5
    gm = GaussianMixtureEM(2, tol=tol, convergence="relative", max_iter=500, random_state=0).fit(X)
    total = np.asarray(gm.lower_bounds_) * n_samples
    measure = np.abs(np.diff(total)) / (1 + np.abs(total[1:]))
    assert gm.converged_
    assert measure[-1] < tol and np.all(measure[:-1] >= tol)
    # sklearn's rule with the same tol stops earlier: it bounds the mean, not the total
    mean_rule = GaussianMixtureEM(2, tol=tol, max_iter=500, random_state=0).fit(X)
    assert np.all(np.abs(np.diff(mean_rule.lower_bounds_))[:-1] >= tol)

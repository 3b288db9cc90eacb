"""Hard data: every case is recovered (a sensible model) or explained (a warning or error).

See docs/guarantees.rst for the list these tests pin.
"""

import math
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from skgmm import DegenerateDataWarning, GaussianMixtureEM

from .conftest import COVARIANCE_TYPES, datasets, explicit_init


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Tiny matrices: a threaded BLAS only adds synchronisation (tens of ms per
    # call on a busy machine); results do not depend on it.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def blobs3():
    return make_blobs(n_samples=300, n_features=2, centers=[[0, 0], [10, 0], [0, 10]], random_state=0)


def _fit_quietly(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


def _collapsed_data():
    # Three distinct points, each repeated ten times.
    return np.repeat([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], 10, axis=0)


# -- duplicated points --------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_duplicated_points_equal_integer_weights(blobs3, covariance_type):
    X, y = blobs3
    init = explicit_init(X, 3, covariance_type)
    repeated = GaussianMixtureEM(3, covariance_type=covariance_type, tol=0, max_iter=20, **init)
    weighted = GaussianMixtureEM(3, covariance_type=covariance_type, tol=0, max_iter=20, **init)
    _fit_quietly(repeated, np.repeat(X, 3, axis=0))
    _fit_quietly(weighted, X, sample_weight=np.full(len(X), 3.0))
    for name in ["weights_", "means_", "covariances_"]:
        assert_allclose(getattr(repeated, name), getattr(weighted, name), rtol=1e-9, atol=1e-12)
    assert_allclose(repeated.lower_bound_, weighted.lower_bound_, rtol=1e-12)
    gm = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(np.repeat(X, 3, axis=0))
    assert adjusted_rand_score(y, gm.predict(X)) > 0.95


# -- more components than distinct points, collapse -----------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_more_components_than_distinct_points_warns(covariance_type):
    X = _collapsed_data()
    gm = GaussianMixtureEM(5, covariance_type=covariance_type, random_state=0)
    with pytest.warns(
        DegenerateDataWarning, match=r"Components \[.*\] of the fitted mixture received no data"
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # k-means: 3 distinct clusters
            gm.fit(X)
    # The three real clusters are recovered; the other components are empty.
    assert_allclose(np.sort(gm.weights_)[-3:], 1 / 3, rtol=1e-9)
    assert adjusted_rand_score(np.repeat([0, 1, 2], 10), gm.predict(X)) == 1.0


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_components", [2, 3, 5])
def test_collapsed_components_with_zero_reg_covar_raise(covariance_type, n_components):
    # scikit-learn 1.9.1 raises here only for some types; for 'diag', 'spherical'
    # and 'tied' with 2 components it silently returns precisions of ~1e15.
    X = _collapsed_data()
    gm = GaussianMixtureEM(n_components, covariance_type=covariance_type, reg_covar=0, random_state=0)
    with pytest.raises(ValueError, match="ill-defined empirical covariance.*increase reg_covar"):
        _fit_quietly(gm, X)


def test_collapsed_float32_message_suggests_float64():
    X = _collapsed_data().astype(np.float32)
    with pytest.raises(ValueError, match="passing float64 data instead of float32"):
        _fit_quietly(GaussianMixtureEM(2, covariance_type="diag", reg_covar=0, random_state=0), X)


# -- constant features ------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_feature_is_harmless(blobs3, covariance_type):
    X, y = blobs3
    Xc = np.column_stack([X, np.full(len(X), 7.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)
        gm = GaussianMixtureEM(3, covariance_type=covariance_type, random_state=0).fit(Xc)
    assert adjusted_rand_score(y, gm.predict(Xc)) > 0.95
    assert_allclose(gm.means_[:, 2], 7.0, rtol=1e-12)
    # Along the constant feature the covariance is reg_covar alone.
    variance = {
        "full": lambda c: c[:, 2, 2],
        "tied": lambda c: c[2, 2],
        "diag": lambda c: c[:, 2],
        "spherical": lambda c: None,
    }[covariance_type](gm.covariances_)
    if variance is not None:
        assert_allclose(variance, 1e-6, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_feature_with_zero_reg_covar_names_it(blobs3, covariance_type):
    X, _ = blobs3
    Xc = np.column_stack([X[:, :1], np.full(len(X), 7.0), X[:, 1:]])
    message = re.escape("Feature(s) [1] of X are constant") + ".*set reg_covar > 0"
    with pytest.raises(ValueError, match=message):
        GaussianMixtureEM(3, covariance_type=covariance_type, reg_covar=0).fit(Xc)


# -- one huge outlier -------------------------------------------------------------
def test_huge_outlier_gets_its_own_component(blobs3):
    X, y = blobs3
    Xo = np.vstack([X, [[1e8, -1e8]]])
    # With one component to spare, the clusters are intact and the outlier is alone.
    with pytest.warns(DegenerateDataWarning, match="collapsed onto a single point"):
        gm = GaussianMixtureEM(4, random_state=0).fit(Xo)
    labels = gm.predict(Xo)
    assert adjusted_rand_score(y, labels[:-1]) == 1.0
    assert labels[-1] not in labels[:-1]
    # Without one, the maximum-likelihood answer still isolates the outlier, and says so.
    with pytest.warns(DegenerateDataWarning, match=r"Components \[\d\] of the fitted mixture collapsed"):
        gm = GaussianMixtureEM(3, random_state=0).fit(Xo)
    assert np.sum(gm.predict(Xo) == gm.predict(Xo[-1:])[0]) == 1


# -- n_features > n_samples --------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_more_features_than_samples(covariance_type):
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 15)
    X = rng.normal(size=(30, 60)) + 3.0 * y[:, None]
    gm = GaussianMixtureEM(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert adjusted_rand_score(y, gm.predict(X)) == 1.0
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.all(np.isfinite(gm.precisions_cholesky_))


# -- magnitudes from 1e-150 to 1e150 ----------------------------------------------
@pytest.fixture(scope="module")
def two_clusters():
    rng = np.random.RandomState(0)
    return np.vstack([rng.randn(100, 3), rng.randn(100, 3) + 5]), np.repeat([0, 1], 100)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("c", [1e-150, 1e-75, 1e75, 1e150])
def test_model_of_scaled_data_is_the_scaled_model(two_clusters, covariance_type, c):
    # reg_covar is a variance: scaled with the data (c**2), the whole model scales exactly.
    X, _ = two_clusters
    base = GaussianMixtureEM(2, covariance_type=covariance_type, random_state=0).fit(X)
    scaled = GaussianMixtureEM(2, covariance_type=covariance_type, reg_covar=1e-6 * c**2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)
        scaled.fit(c * X)
    assert_array_equal(scaled.labels_, base.labels_)
    assert_allclose(scaled.weights_, base.weights_, rtol=1e-10)
    assert_allclose(scaled.means_ / c, base.means_, rtol=1e-10, atol=1e-12)
    assert_allclose(scaled.covariances_ / c**2, base.covariances_, rtol=1e-10)
    # The density of c x is the density of x divided by c**d.
    assert_allclose(scaled.lower_bound_ + 3 * np.log(c), base.lower_bound_, rtol=1e-10)
    assert_allclose(scaled.predict_proba(c * X), base.predict_proba(X), atol=1e-10)
    assert scaled.n_iter_ == base.n_iter_


@pytest.mark.parametrize("c", [1e-150, 1e-3])
def test_reg_covar_that_dominates_the_data_warns(two_clusters, c):
    X, _ = two_clusters
    message = re.escape("reg_covar=1e-06 is larger than 0.1 times the variance of feature(s) [0, 1, 2]")
    with pytest.warns(DegenerateDataWarning, match=message + ".*Scale the data"):
        GaussianMixtureEM(2, random_state=0).fit(c * X)


def test_reg_covar_warning_names_the_small_features(two_clusters):
    X, _ = two_clusters
    X = X * [1.0, 1e-5, 1.0]
    with pytest.warns(
        DegenerateDataWarning, match=re.escape("variance of feature(s) [1] (smallest variance")
    ):
        GaussianMixtureEM(2, random_state=0).fit(X)
    # Following the advice (a reg_covar well below that variance) silences it.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)
        GaussianMixtureEM(2, reg_covar=1e-14, random_state=0).fit(X)


def test_large_magnitudes_with_default_reg_covar(two_clusters):
    # reg_covar=1e-6 is negligible next to variances of 1e300: the model just scales.
    X, y = two_clusters
    base = GaussianMixtureEM(2, random_state=0).fit(X)
    big = GaussianMixtureEM(2, random_state=0).fit(1e150 * X)
    assert_array_equal(big.labels_, base.labels_)
    assert_allclose(big.means_ / 1e150, base.means_, rtol=1e-6)
    assert_allclose(big.covariances_ / 1e300, base.covariances_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["blobs", "iris", "wine", "mixture_10d"])
def test_ordinary_data_does_not_warn(name):
    X = datasets()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)
        # (10 iterations may not converge on wine: that warning is not what this test is about)
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixtureEM(3, random_state=0, max_iter=10, tol=1e-2).fit(X)


@pytest.mark.parametrize("dtype, c", [(np.float64, 1e200), (np.float32, 1e18)])
def test_values_whose_squares_overflow_raise(two_clusters, dtype, c):
    X, _ = two_clusters
    with pytest.raises(
        ValueError, match=f"X has values too large for {np.dtype(dtype).name}.*Scale the data"
    ):
        GaussianMixtureEM(2).fit((c * X).astype(dtype))


# -- highly correlated features ------------------------------------------------------
def _ill_conditioned(condition=1e12, n=300, seed=0):
    """Two clusters in 3-D whose covariance has the given condition number."""
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1], n // 2)
    singular = np.array([1.0, 1e-3, np.sqrt(1 / condition)])
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    Z = rng.normal(size=(n, 3)) * singular
    Z[:, 0] += 8.0 * y
    return Z @ rotation.T, y


def _exact_inverse_and_det(matrix):
    """Inverse and determinant of a float64 matrix in exact rational arithmetic."""
    n = len(matrix)
    rows = [
        [Fraction(float(v)) for v in row] + [Fraction(int(i == j)) for j in range(n)]
        for i, row in enumerate(matrix)
    ]
    det = Fraction(1)
    for c in range(n):
        pivot = next(r for r in range(c, n) if rows[r][c] != 0)
        if pivot != c:
            rows[c], rows[pivot] = rows[pivot], rows[c]
            det = -det
        det *= rows[c][c]
        rows[c] = [v / rows[c][c] for v in rows[c]]
        for r in range(n):
            if r != c and rows[r][c] != 0:
                factor = rows[r][c]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[c])]
    return [row[n:] for row in rows], det


def _exact_log_density(X, weights, means, covariances):
    """Mixture log-density with exact Mahalanobis distances and log-determinants."""
    d = X.shape[1]
    components = [_exact_inverse_and_det(c) for c in covariances]
    result = []
    for x in X:
        terms = []
        for weight, mean, (inverse, det) in zip(weights, means, components):
            diff = [Fraction(float(a)) - Fraction(float(b)) for a, b in zip(x, mean)]
            maha = sum(diff[i] * inverse[i][j] * diff[j] for i in range(d) for j in range(d))
            terms.append(
                math.log(weight) - 0.5 * float(maha) - 0.5 * math.log(det) - 0.5 * d * math.log(2 * math.pi)
            )
        result.append(logsumexp(terms))
    return np.array(result)


@pytest.mark.parametrize("reg_covar, rtol", [(0.0, 1e-4), (1e-6, 1e-9)])
def test_condition_number_1e12(reg_covar, rtol):
    X, y = _ill_conditioned()
    gm = GaussianMixtureEM(2, reg_covar=reg_covar, random_state=0).fit(X)
    assert adjusted_rand_score(y, gm.labels_) == 1.0
    if reg_covar == 0:
        eigenvalues = np.linalg.eigvalsh(gm.covariances_)
        assert np.all(eigenvalues[:, -1] / eigenvalues[:, 0] > 1e10)
    # The log-density of the fitted parameters against exact arithmetic; with
    # reg_covar=0 float64 can do no better than condition number x eps ~ 1e-4.
    rows = X[::15]
    reference = _exact_log_density(rows, gm.weights_, gm.means_, gm.covariances_)
    assert_allclose(gm.score_samples(rows), reference, rtol=rtol)


# -- recovery: empty components are re-seeded ------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_empty_component_is_reseeded(blobs3, covariance_type):
    # One initial mean far from all data: its component receives no data at all.
    X, y = blobs3
    precisions = {
        "full": np.tile(np.eye(2), (3, 1, 1)),
        "tied": np.eye(2),
        "diag": np.ones((3, 2)),
        "spherical": np.ones(3),
    }
    init = dict(means_init=[[0, 0], [5, 5], [1e3, 1e3]], precisions_init=precisions[covariance_type])
    with pytest.warns(
        DegenerateDataWarning, match=r"Components \[2\] lost all their data during EM and were re-seeded"
    ):
        gm = GaussianMixtureEM(3, covariance_type=covariance_type, **init).fit(X)
    assert adjusted_rand_score(y, gm.predict(X)) == 1.0
    assert_allclose(gm.weights_, 1 / 3, atol=0.01)
    # scikit-learn keeps the empty component (weight ~1e-17) and merges two clusters.
    ref = GaussianMixture(3, covariance_type=covariance_type, **init).fit(X)
    assert ref.weights_.min() < 1e-10
    assert adjusted_rand_score(y, ref.predict(X)) < 0.9


def test_no_reseed_when_data_has_too_few_distinct_points():
    X = _collapsed_data()
    init = dict(means_init=[[0, 0], [1, 1], [2, 2], [50, 50]], precisions_init=np.tile(np.eye(2), (4, 1, 1)))
    with pytest.warns(DegenerateDataWarning, match="received no data.*3 distinct samples for 4 components"):
        gm = _fit_quietly(GaussianMixtureEM(4, **init), X)
    assert gm.weights_[3] < 1e-12

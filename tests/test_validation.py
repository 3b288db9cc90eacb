"""Bad input gets a clear error that says what to do, and user data is never modified.

NaN in X is a supported input (missing values, see tests/test_missing.py), so
NaN is only tested where it is an error: in ``sample_weight`` and ``*_init``.
"""

import hashlib
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skgmm import GaussianMixtureEM

from .conftest import COVARIANCE_TYPES, explicit_init


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # Tiny matrices: a threaded BLAS only adds synchronisation (tens of ms per
    # call on a busy machine); results do not depend on it.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return np.vstack([rng.randn(30, 3), rng.randn(30, 3) + 5])


@pytest.fixture(scope="module")
def fitted(X):
    return GaussianMixtureEM(2, random_state=0).fit(X)


def _digest(array):
    array = np.ascontiguousarray(array)
    return hashlib.sha256(array.tobytes()).hexdigest(), array.shape, array.dtype


# -- X at fit ---------------------------------------------------------------
BAD_X = {
    "inf": (lambda X: np.where(X > 6, np.inf, X), ValueError, "Input X contains infinity"),
    "-inf": (lambda X: np.where(X > 6, -np.inf, X), ValueError, "Input X contains infinity"),
    "empty": (lambda X: np.empty((0, 3)), ValueError, r"0 sample\(s\) .* minimum of 2 is required"),
    "no features": (lambda X: np.empty((5, 0)), ValueError, r"0 feature\(s\) .* minimum of 1 is required"),
    "1-D": (lambda X: X[:, 0], ValueError, r"(?s)Expected 2D array, got 1D array.*Reshape your data"),
    "3-D": (lambda X: X[None], ValueError, "dim 3, while dim <= 2"),
    "single sample": (lambda X: X[:1], ValueError, r"1 sample\(s\) .* minimum of 2 is required"),
    "complex": (lambda X: X + 1j, ValueError, "Complex data not supported"),
    "strings": (
        lambda X: np.array([["a", "b"], ["c", "d"]]),
        ValueError,
        "could not convert string to float",
    ),
}


@pytest.mark.parametrize("case", BAD_X)
def test_bad_X_at_fit(X, case):
    make, error, message = BAD_X[case]
    with pytest.raises(error, match=message):
        GaussianMixtureEM(2).fit(make(X))


@pytest.mark.parametrize("case", ["inf", "empty", "1-D", "3-D", "complex"])
def test_bad_X_like_sklearn(X, case):
    """Same exception type and the same text (up to the class name) as GaussianMixture."""
    make, _, _ = BAD_X[case]
    with pytest.raises(Exception) as ours:
        GaussianMixtureEM(2).fit(make(X))
    with pytest.raises(Exception) as ref:
        GaussianMixture(2).fit(make(X))
    assert type(ours.value) is type(ref.value)
    assert str(ours.value) == str(ref.value).replace("GaussianMixture", "GaussianMixtureEM")


def test_more_components_than_samples(X):
    with pytest.raises(ValueError, match=re.escape("n_components = 5, n_samples = 3. Decrease n_components")):
        GaussianMixtureEM(5).fit(X[:3])
    # As many samples as components is allowed (scikit-learn too).
    gm = GaussianMixtureEM(3, random_state=0).fit(X[:3])
    np.testing.assert_allclose(gm.weights_, 1 / 3)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_is_a_type_error_that_says_densify(X, fitted, fmt):
    Xs = sp.random(10, 3, density=0.5, format=fmt, random_state=0)
    with pytest.raises(TypeError, match=r"dense data is required. Use '.toarray\(\)'"):
        GaussianMixtureEM(2).fit(sp.csr_matrix(X).asformat(fmt))
    for method in ["predict", "predict_proba", "score_samples", "score"]:
        with pytest.raises(TypeError, match=r"Use '.toarray\(\)' to convert to a dense"):
            getattr(fitted, method)(Xs)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"])
def test_wrong_n_features_at_predict(X, fitted, method):
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixtureEM is expecting 3 features"):
        getattr(fitted, method)(X[:, :2])


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
def test_inf_at_predict(X, fitted, method):
    with pytest.raises(ValueError, match="Input X contains infinity"):
        getattr(fitted, method)(np.full((2, 3), np.inf))


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic", "icl", "sample"]
)
def test_every_method_before_fit(X, method):
    gm = GaussianMixtureEM(2)
    args = (3,) if method == "sample" else (X,)
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        getattr(gm, method)(*args)


def test_sample_needs_a_positive_count(fitted):
    with pytest.raises(ValueError, match="requires at least one sample"):
        fitted.sample(0)


# -- constructor parameters -------------------------------------------------
INVALID_PARAMS = [
    ("n_components", 0),
    ("n_components", 1.5),
    ("covariance_type", "vvv"),  # mclust names are upper case
    ("tol", -1.0),
    ("tol", "small"),
    ("reg_covar", -1e-6),
    ("max_iter", -1),
    ("max_iter", 2.5),
    ("n_init", 0),
    ("init_params", "kmedoids"),
    ("weights_init", "abc"),
    ("means_init", 3),
    ("precisions_init", "identity"),
    ("random_state", "seed"),
    ("warm_start", "yes"),
    ("verbose", -1),
    ("verbose_interval", 0),
]


@pytest.mark.parametrize("name, value", INVALID_PARAMS)
def test_invalid_constructor_parameter(X, name, value):
    gm = GaussianMixtureEM(**{"n_components": 2, name: value})
    message = f"The '{name}' parameter of GaussianMixtureEM must be"
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        gm.fit(X)
    # The parameter is checked before any data is looked at.
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        gm.fit_predict(X)


@pytest.mark.parametrize("name", sorted(GaussianMixtureEM._parameter_constraints))
def test_every_constrained_parameter_rejects_a_wrong_type(X, name):
    # Covers parameters added later too: an arbitrary object is never valid.
    gm = GaussianMixtureEM(2).set_params(**{name: object()})
    with pytest.raises(
        InvalidParameterError, match=re.escape(f"The '{name}' parameter of GaussianMixtureEM")
    ):
        gm.fit(X)


# -- *_init arrays -----------------------------------------------------------
def _precisions(covariance_type, K=2, d=3, value=1.0):
    return {
        "full": np.tile(np.eye(d) * value, (K, 1, 1)),
        "tied": np.eye(d) * value,
        "diag": np.full((K, d), value),
        "spherical": np.full(K, value),
    }[covariance_type]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_init_wrong_shape(X, covariance_type):
    wrong = _precisions(covariance_type, K=3)
    if covariance_type == "tied":
        wrong = np.eye(2)
    expected = _precisions(covariance_type).shape
    message = f"The parameter '{covariance_type} precision' should have the shape of {expected}"
    with pytest.raises(ValueError, match=re.escape(message)):
        GaussianMixtureEM(2, covariance_type=covariance_type, precisions_init=wrong).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_init_not_positive_definite(X, covariance_type):
    bad = _precisions(covariance_type, value=-1.0)
    with pytest.raises(
        ValueError, match=f"'{covariance_type} precision' should be.*positive.*check precisions_init"
    ):
        GaussianMixtureEM(2, covariance_type=covariance_type, precisions_init=bad).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_precisions_init_not_symmetric(X, covariance_type):
    bad = _precisions(covariance_type).copy()
    bad[..., 0, 1] = 0.5
    with pytest.raises(ValueError, match="should be symmetric, positive-definite"):
        GaussianMixtureEM(2, covariance_type=covariance_type, precisions_init=bad).fit(X)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(weights_init=[1.0]), "The parameter 'weights' should have the shape of (2,), but got (1,)"),
        (dict(weights_init=[0.5, 0.6]), "should be normalized, but got sum(weights) = 1.10000"),
        (dict(weights_init=[-0.5, 1.5]), "should be in the range [0, 1]"),
        (dict(weights_init=[np.nan, 1.0]), "Input weights_init contains NaN"),
        (
            dict(means_init=np.zeros((3, 3))),
            "The parameter 'means' should have the shape of (2, 3), but got (3, 3)",
        ),
        (
            dict(means_init=np.zeros((2, 2))),
            "The parameter 'means' should have the shape of (2, 3), but got (2, 2)",
        ),
        (dict(means_init=np.full((2, 3), np.inf)), "Input means_init contains infinity"),
        (dict(means_init=np.full((2, 3), np.nan)), "Input means_init contains NaN"),
        (dict(precisions_init=np.full((2, 3, 3), np.nan)), "Input precisions_init contains NaN"),
    ],
)
def test_bad_init_arrays(X, params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GaussianMixtureEM(2, **params).fit(X)


# -- sample_weight -------------------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda n: -np.ones(n),
            "Negative values in data passed to `sample_weight`.*must be >= 0. Use 0 to ignore",
        ),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "Input sample_weight contains NaN"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "Input sample_weight contains infinity"),
        (lambda n: np.zeros(n), "at least one non-zero"),
        (
            lambda n: np.r_[1.0, np.zeros(n - 1)],
            "1 positive entries but n_components = 2.*decrease n_components",
        ),
        (lambda n: np.full(n, 1e308), "sum of sample_weight overflows.*divide sample_weight by a constant"),
        (lambda n: np.ones(n - 1), r"sample_weight.shape == \(59,\), expected \(60,\)"),
        (lambda n: np.ones((n, 1)), "Sample weights must be 1D array or scalar"),
    ],
)
def test_bad_sample_weight(X, make, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixtureEM(2, random_state=0).fit(X, sample_weight=make(len(X)))


# -- inputs are never modified ------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inputs_never_modified(X, covariance_type, dtype):
    X = X.astype(dtype)
    init = explicit_init(X, 2, covariance_type)
    sample_weight = np.linspace(0.5, 2.0, len(X))
    inputs = dict(X=X, sample_weight=sample_weight, **init)
    for value in inputs.values():
        value.setflags(write=False)
    before = {name: _digest(value) for name, value in inputs.items()}

    gm = GaussianMixtureEM(2, covariance_type=covariance_type, max_iter=5, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X, sample_weight=sample_weight)
        gm.fit_predict(X, sample_weight=sample_weight)
    gm.predict(X), gm.predict_proba(X), gm.score_samples(X), gm.bic(X), gm.aic(X)
    gm.score(X, sample_weight=sample_weight)
    GaussianMixtureEM(2, covariance_type=covariance_type, random_state=0).fit(X, sample_weight=sample_weight)

    assert {name: _digest(value) for name, value in inputs.items()} == before
    for name in init:
        assert getattr(gm, name) is init[name]  # hyper-parameters are not rewritten


def test_fitted_arrays_do_not_alias_inputs(X):
    init = explicit_init(X, 2, "full")
    gm = GaussianMixtureEM(2, **init).fit(X)
    for fitted, given in [(gm.means_, init["means_init"]), (gm.weights_, init["weights_init"])]:
        assert not np.shares_memory(fitted, given)
    assert not np.shares_memory(gm.means_, X)


# -- pandas ---------------------------------------------------------------------
def test_dataframe_feature_names(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    gm = GaussianMixtureEM(2, random_state=0).fit(df)
    np.testing.assert_array_equal(gm.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(gm.predict(df), gm.labels_)

    ref = GaussianMixture(2, random_state=0).fit(df)
    renamed = df.rename(columns={"c": "z"})
    reordered = df[["b", "a", "c"]]
    for other in [renamed, reordered, df[["a", "b"]]]:
        with pytest.raises(ValueError) as ours:
            gm.predict(other)
        with pytest.raises(ValueError) as theirs:
            ref.predict(other)
        assert str(ours.value) == str(theirs.value)
    assert "Feature names unseen at fit time" in _message(gm.predict, renamed)
    assert "Feature names must be in the same order as they were in fit" in _message(gm.predict, reordered)

    # A plain array after a DataFrame fit warns, as in scikit-learn.
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        gm.predict(X)
    # A DataFrame after a plain-array fit warns the other way.
    plain = GaussianMixtureEM(2, random_state=0).fit(X)
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but GaussianMixtureEM was fitted without"):
        plain.predict(df)


def _message(function, *args):
    with pytest.raises(ValueError) as info:
        function(*args)
    return str(info.value)

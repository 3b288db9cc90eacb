"""The variational update rules against scikit-learn's BayesianGaussianMixture.

Each step is fed the same responsibilities as scikit-learn's private methods
(``_m_step``, ``_estimate_weighted_log_prob``, ``_compute_lower_bound``), with
the statistics ``nk``, ``xk``, ``sk`` computed here by numpy; then a whole
variational EM loop written on top of the functions reproduces ``fit``.
"""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters
from sklearn.utils import check_random_state

from skgmm._variational import (
    VariationalParams,
    check_variational_priors,
    compute_weights,
    e_step_terms,
    estimate_resp_log_resp_sum,
    estimate_tied_covariance,
    lower_bound,
    variational_m_step,
)

from .conftest import COVARIANCE_TYPES, INIT_PARAMS, datasets

DATASETS = datasets()
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
N_COMPONENTS = 5
REG_COVAR = 1e-6
EPS10 = 10 * np.finfo(np.float64).eps
LOG_2PI = np.log(2 * np.pi)


# -- references written here with numpy ---------------------------------------


def gaussian_statistics(X, resp, covariance_type, sample_weight=None, reg_covar=REG_COVAR):
    """``nk, xk, sk`` with scikit-learn's definitions, rows weighted by ``sample_weight``."""
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    wresp = resp * w[:, None]
    nk = wresp.sum(axis=0) + EPS10
    xk = wresp.T @ X / nk[:, None]
    if covariance_type == "tied":
        # the total second moment of all rows, as _estimate_gaussian_covariances_tied
        sk = ((X * w[:, None]).T @ X - (nk * xk.T) @ xk) / nk.sum()
        return nk, xk, sk + reg_covar * np.eye(X.shape[1])
    full = np.stack([(wresp[:, k] * (X - xk[k]).T) @ (X - xk[k]) for k in range(len(nk))]) / nk[:, None, None]
    full += reg_covar * np.eye(X.shape[1])
    diag = np.diagonal(full, axis1=1, axis2=2)
    return nk, xk, {"full": full, "diag": diag, "spherical": diag.mean(axis=1)}[covariance_type]


def scatter_about(X, wresp, means, covariance_type):
    """``sum w r (x - m_k)(x - m_k)^T`` in the engine's layout."""
    full = np.stack([(wresp[:, k] * (X - m).T) @ (X - m) for k, m in enumerate(means)])
    if covariance_type == "full":
        return full
    if covariance_type == "tied":
        return full.sum(axis=0)
    return np.diagonal(full, axis1=1, axis2=2)


def gaussian_log_density(X, means, precisions_cholesky, covariance_type):
    """Plain ``log N(x | m_k, (L L^T)^-1)`` of shape (n_samples, n_components)."""
    n_features = X.shape[1]
    chol = np.asarray(precisions_cholesky)
    if covariance_type == "tied":
        chol = np.broadcast_to(chol, (len(means), n_features, n_features))
    elif covariance_type == "diag":
        chol = np.stack([np.diag(c) for c in chol])
    elif covariance_type == "spherical":
        chol = chol[:, None, None] * np.eye(n_features)
    columns = []
    for mean, c in zip(means, chol):
        y = (X - mean) @ c
        columns.append(np.log(np.diagonal(c)).sum() - 0.5 * (n_features * LOG_2PI + (y**2).sum(axis=1)))
    return np.column_stack(columns)


def sklearn_model(X, covariance_type, prior_type, **params):
    model = BayesianGaussianMixture(
        n_components=N_COMPONENTS,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        reg_covar=REG_COVAR,
        **params,
    )
    model._check_parameters(X)
    return model


def priors_of(X, covariance_type, prior_type, sample_weight=None, **params):
    return check_variational_priors(
        N_COMPONENTS,
        covariance_type,
        np.average(X, axis=0, weights=sample_weight),
        np.atleast_2d(np.cov(X.T, fweights=sample_weight)),
        weight_concentration_prior_type=prior_type,
        **params,
    )


def params_of(model):
    return VariationalParams(*model._get_parameters())


def assert_same_params(ours, ref, rtol=1e-10):
    ours_wc, ref_wc = ours.weight_concentration, ref.weight_concentration
    if isinstance(ref_wc, tuple):
        assert isinstance(ours_wc, tuple)
        for a, b in zip(ours_wc, ref_wc):
            assert_allclose(a, b, rtol=rtol)
    else:
        assert_allclose(ours_wc, ref_wc, rtol=rtol)
    for name in ("mean_precision", "means", "degrees_of_freedom", "covariances", "precisions_cholesky"):
        a, b = getattr(ours, name), getattr(ref, name)
        assert np.shape(a) == np.shape(b), name
        assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max(), err_msg=name)


def random_resp(X, seed):
    rng = np.random.RandomState(seed)
    return rng.dirichlet(np.full(N_COMPONENTS, 0.3), size=len(X))


def single_row_resp(X, seed):
    """scikit-learn's 'random_from_data' start: one row per component."""
    resp = np.zeros((len(X), N_COMPONENTS))
    rows = np.random.RandomState(seed).choice(len(X), N_COMPONENTS, replace=False)
    resp[rows, np.arange(N_COMPONENTS)] = 1
    return resp


# -- priors -------------------------------------------------------------------


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_default_priors_as_sklearn(data, covariance_type, prior_type):
    X = DATASETS[data]
    ref = sklearn_model(X, covariance_type, prior_type)
    ours = priors_of(X, covariance_type, prior_type)
    assert ours.weight_concentration_prior_type == prior_type
    assert ours.weight_concentration_prior == ref.weight_concentration_prior_
    assert ours.mean_precision_prior == ref.mean_precision_prior_
    assert ours.degrees_of_freedom_prior == ref.degrees_of_freedom_prior_
    assert_allclose(ours.mean_prior, ref.mean_prior_, rtol=1e-14)
    assert np.shape(ours.covariance_prior) == np.shape(ref.covariance_prior_)
    assert_allclose(ours.covariance_prior, ref.covariance_prior_, rtol=1e-12)


def test_priors_from_the_diagonal_only():
    X = DATASETS["wine"]
    for covariance_type in ("diag", "spherical"):
        ref = sklearn_model(X, covariance_type, "dirichlet_process")
        ours = check_variational_priors(N_COMPONENTS, covariance_type, X.mean(0), X.var(axis=0, ddof=1))
        assert_allclose(ours.covariance_prior, ref.covariance_prior_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_given_priors_as_sklearn(covariance_type):
    X = DATASETS["iris"]
    n_features = X.shape[1]
    covariance_prior = {
        "full": np.diag(np.arange(1.0, n_features + 1)),
        "tied": np.diag(np.arange(1.0, n_features + 1)),
        "diag": np.arange(1.0, n_features + 1),
        "spherical": 2.5,
    }[covariance_type]
    given = dict(
        weight_concentration_prior=0.3,
        mean_precision_prior=0.05,
        mean_prior=np.arange(n_features, dtype=float),
        degrees_of_freedom_prior=n_features + 2.5,
        covariance_prior=covariance_prior,
    )
    ref = sklearn_model(X, covariance_type, "dirichlet_distribution", **given)
    ours = priors_of(X, covariance_type, "dirichlet_distribution", **given)
    for name in given:
        assert_array_equal(getattr(ours, name), getattr(ref, name + "_"))


@pytest.mark.parametrize(
    "covariance_type, params",
    [
        ("full", dict(degrees_of_freedom_prior=2.5)),
        ("full", dict(mean_prior=np.zeros(3))),
        ("full", dict(covariance_prior=np.eye(3))),
        ("tied", dict(covariance_prior=-np.eye(4))),
        ("full", dict(covariance_prior=np.triu(np.ones((4, 4))))),
        ("diag", dict(covariance_prior=np.ones(3))),
        ("diag", dict(covariance_prior=np.array([1.0, 0.0, 1.0, 1.0]))),
    ],
)
def test_prior_errors_as_sklearn(covariance_type, params):
    X = DATASETS["iris"]
    with pytest.raises(ValueError) as ref:
        sklearn_model(X, covariance_type, "dirichlet_process", **params)
    with pytest.raises(ValueError, match=re.escape(str(ref.value))):
        priors_of(X, covariance_type, "dirichlet_process", **params)


# -- one step at a time, same responsibilities ---------------------------------


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_steps_as_sklearn(data, covariance_type, prior_type):
    X = DATASETS[data]
    ref = sklearn_model(X, covariance_type, prior_type)
    priors = priors_of(X, covariance_type, prior_type)
    n_features = X.shape[1]

    # initialisation from single rows (sklearn's 'random_from_data')
    resp = single_row_resp(X, seed=1)
    ref._initialize(X, resp)
    ours = variational_m_step(*gaussian_statistics(X, resp, covariance_type), priors, covariance_type)
    assert_same_params(ours, params_of(ref))

    for seed in range(3):
        log_resp = np.log(random_resp(X, seed))
        ref._m_step(X, log_resp)
        ours = variational_m_step(
            *gaussian_statistics(X, np.exp(log_resp), covariance_type), priors, covariance_type
        )
        assert_same_params(ours, params_of(ref))

        # E-step: the plain Gaussian log-density plus one constant per component
        ref_log_prob = ref._estimate_weighted_log_prob(X)
        log_prob = gaussian_log_density(X, ours.means, ours.precisions_cholesky, covariance_type)
        log_prob += e_step_terms(ours, covariance_type, n_features)
        assert_allclose(log_prob, ref_log_prob, rtol=1e-10, atol=1e-10 * np.abs(ref_log_prob).max())

        # lower bound of the responsibilities that fed the M-step
        resp_log_resp_sum = np.sum(np.exp(log_resp) * log_resp)
        ref_bound = ref._compute_lower_bound(log_resp, log_prob_norm=0.0)
        assert_allclose(lower_bound(ours, resp_log_resp_sum, covariance_type), ref_bound, rtol=1e-10)

        # ... and with the entropy sum taken from an E-step's statistics
        log_norm = logsumexp(ref_log_prob, axis=1)
        e_resp = np.exp(ref_log_prob - log_norm[:, None])
        direct = np.sum(e_resp * (ref_log_prob - log_norm[:, None]))
        from_stats = estimate_resp_log_resp_sum(
            e_resp.sum(axis=0),
            scatter_about(X, e_resp, ours.means, covariance_type),
            log_norm.sum(),
            ours,
            covariance_type,
        )
        assert_allclose(from_stats, direct, rtol=1e-9, atol=1e-12 * np.abs(log_norm).sum())

    ref._set_parameters(ref._get_parameters())  # sets weights_
    assert_allclose(compute_weights(ours.weight_concentration), ref.weights_, rtol=1e-12)


@pytest.mark.parametrize("start", ["single_row", "random"])
def test_tied_covariance_as_sklearn(start):
    # scikit-learn's 'tied' sk takes X^T X about the coordinate origin; with
    # single-row starts it is not the pooled within-component scatter
    X = DATASETS["wine"]
    resp = single_row_resp(X, seed=2) if start == "single_row" else random_resp(X, seed=2)
    nk, xk, ref = _estimate_gaussian_parameters(X, resp, REG_COVAR, "tied")
    second_moment = np.cov(X.T, ddof=0) * len(X) + len(X) * np.outer(X.mean(0), X.mean(0))
    assert_allclose(estimate_tied_covariance(second_moment, nk, xk, REG_COVAR), ref, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_sample_weight_counts_as_repeated_rows(covariance_type, prior_type):
    X = DATASETS["blobs"][:120]
    counts = np.random.RandomState(0).randint(0, 4, size=len(X))
    repeated = np.repeat(X, counts, axis=0)
    resp = random_resp(X, seed=3)
    resp_repeated = np.repeat(resp, counts, axis=0)

    priors = priors_of(X, covariance_type, prior_type, sample_weight=counts)
    priors_repeated = priors_of(repeated, covariance_type, prior_type)
    assert priors.weight_concentration_prior_type == priors_repeated.weight_concentration_prior_type
    for a, b in zip(priors[1:], priors_repeated[1:]):
        assert_allclose(a, b, rtol=1e-12)

    ours = variational_m_step(*gaussian_statistics(X, resp, covariance_type, counts), priors, covariance_type)
    ref = variational_m_step(
        *gaussian_statistics(repeated, resp_repeated, covariance_type), priors, covariance_type
    )
    assert_same_params(ours, ref, rtol=1e-11)

    log_resp = np.log(resp)
    weighted_sum = np.sum(counts[:, None] * resp * log_resp)
    repeated_sum = np.sum(resp_repeated * np.log(resp_repeated))
    assert_allclose(weighted_sum, repeated_sum, rtol=1e-12)
    assert_allclose(
        lower_bound(ours, weighted_sum, covariance_type),
        lower_bound(ref, repeated_sum, covariance_type),
        rtol=1e-11,
    )


# -- a whole variational EM loop on the functions ------------------------------


def initial_resp(X, init_params, random_state):
    """The responsibilities scikit-learn starts from, with the same random draws."""
    if init_params == "kmeans":
        labels = KMeans(n_clusters=N_COMPONENTS, n_init=1, random_state=random_state).fit(X).labels_
        return np.eye(N_COMPONENTS)[labels]
    if init_params == "random":
        resp = random_state.uniform(size=(len(X), N_COMPONENTS))
        return resp / resp.sum(axis=1)[:, None]
    resp = np.zeros((len(X), N_COMPONENTS))
    if init_params == "k-means++":
        _, rows = kmeans_plusplus(X, N_COMPONENTS, random_state=random_state)
    else:
        rows = random_state.choice(len(X), size=N_COMPONENTS, replace=False)
    resp[rows, np.arange(N_COMPONENTS)] = 1
    return resp


def variational_em(X, covariance_type, prior_type, init_params, seed, max_iter=100, tol=1e-3):
    """Variational EM as the estimator's loop will run it: statistics in, statistics out."""
    n_features = X.shape[1]
    priors = priors_of(X, covariance_type, prior_type)
    resp = initial_resp(X, init_params, check_random_state(seed))
    params = variational_m_step(*gaussian_statistics(X, resp, covariance_type), priors, covariance_type)
    bound, bounds = -np.inf, []
    for _ in range(max_iter):
        previous = bound
        # E-step: the EM kernel's log-density with the variational terms for log-weights
        log_prob = gaussian_log_density(X, params.means, params.precisions_cholesky, covariance_type)
        log_prob += e_step_terms(params, covariance_type, n_features)
        log_norm = logsumexp(log_prob, axis=1)
        resp = np.exp(log_prob - log_norm[:, None])
        # the entropy sum from the statistics of this E-step (about its means)
        resp_log_resp_sum = estimate_resp_log_resp_sum(
            resp.sum(axis=0),
            scatter_about(X, resp, params.means, covariance_type),
            log_norm.sum(),
            params,
            covariance_type,
        )
        params = variational_m_step(*gaussian_statistics(X, resp, covariance_type), priors, covariance_type)
        bound = lower_bound(params, resp_log_resp_sum, covariance_type)
        bounds.append(bound)
        if abs(bound - previous) < tol:
            break
    log_prob = gaussian_log_density(X, params.means, params.precisions_cholesky, covariance_type)
    labels = np.argmax(log_prob + e_step_terms(params, covariance_type, n_features), axis=1)
    return params, bounds, len(bounds), labels


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_variational_em_as_sklearn_fit(data, covariance_type, prior_type, init_params):
    X = DATASETS[data]
    seed = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = BayesianGaussianMixture(
            n_components=N_COMPONENTS,
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            init_params=init_params,
            reg_covar=REG_COVAR,
            random_state=seed,
        ).fit(X)
    params, bounds, n_iter, labels = variational_em(X, covariance_type, prior_type, init_params, seed)
    assert n_iter == ref.n_iter_
    # scikit-learn's 'tied' bounds are arrays of shape (1,)
    assert_allclose(bounds, np.ravel(ref.lower_bounds_), rtol=1e-6)
    assert_allclose(bounds[-1], np.ravel(ref.lower_bound_), rtol=1e-6)
    assert_same_params(params, params_of(ref), rtol=1e-6)
    assert_allclose(compute_weights(params.weight_concentration), ref.weights_, rtol=1e-6, atol=1e-12)
    assert_array_equal(labels, ref.predict(X))

"""Covariance strategies against naive references, scipy and scikit-learn.

Each strategy's log densities are checked against
``scipy.stats.multivariate_normal`` and scikit-learn's private
``_estimate_log_gaussian_prob``; its fused E+M block kernel against a naive
computation of responsibilities and centred sums, and against its own kernel
for given responsibilities.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture._gaussian_mixture import _estimate_log_gaussian_prob

from skgmm.covariance import COVARIANCE_MODELS, get_covariance_model
from skgmm.engine.blocks import em_pass, em_stats, estimate, resp_stats
from skgmm.engine.logsumexp import exp_floor, normalise
from skgmm.engine.mstep import MixtureParams, m_step, prepare_pass
from skgmm.engine.threads import BlockRunner

from .conftest import mixture_10d

N_COMPONENTS = 3


def _random_params(covariance_type, n_features, seed=0):
    """Random, well-conditioned parameters in scikit-learn's layout."""
    rng = np.random.RandomState(seed)
    K, d = N_COMPONENTS, n_features
    weights = rng.dirichlet(np.ones(K) * 3)
    means = rng.normal(scale=3.0, size=(K, d))
    model = get_covariance_model(covariance_type)
    # mclust's names: their strategy's layout (an alias's, or 'full' for the others).
    covariance_type = model.name if model.name in ("tied", "diag", "spherical") else "full"
    if covariance_type == "full":
        A = rng.normal(size=(K, d, d)) / np.sqrt(d)
        covariances = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    elif covariance_type == "tied":
        A = rng.normal(size=(d, d)) / np.sqrt(d)
        covariances = A @ A.T + 0.5 * np.eye(d)
    elif covariance_type == "diag":
        covariances = rng.uniform(0.3, 2.0, size=(K, d))
    else:
        covariances = rng.uniform(0.3, 2.0, size=K)
    prec_chol = model.compute_precisions_cholesky(covariances)
    return model, MixtureParams(weights, means, covariances, prec_chol)


def _dense_covariances(covariance_type, covariances, n_features):
    K = N_COMPONENTS
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (K, n_features, n_features))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return np.stack([np.eye(n_features) * c for c in covariances])


def _data(n_samples=157, n_features=5, seed=1):
    rng = np.random.RandomState(seed)
    return rng.normal(scale=3.0, size=(n_samples, n_features))


def _log_prob(model, params, X, dtype=np.float64):
    pk = prepare_pass(model, params, dtype)
    no_weights = np.zeros_like(pk.log_weights)
    return model.weighted_log_prob_block(pk.kernel, X.astype(dtype), pk.origin, no_weights, {}).copy()


def test_log_prob_matches_scipy(covariance_type):
    X = _data()
    model, params = _random_params(covariance_type, X.shape[1])
    covariances = _dense_covariances(covariance_type, params.covariances, X.shape[1])
    expected = np.column_stack(
        [multivariate_normal(mean, cov).logpdf(X) for mean, cov in zip(params.means, covariances)]
    )
    assert_allclose(_log_prob(model, params, X), expected, rtol=1e-12, atol=1e-10)


def test_log_prob_matches_sklearn(covariance_type):
    X = _data(n_features=4, seed=3)
    model, params = _random_params(covariance_type, X.shape[1], seed=5)
    expected = _estimate_log_gaussian_prob(X, params.means, params.precisions_cholesky, covariance_type)
    assert_allclose(_log_prob(model, params, X), expected, rtol=1e-12, atol=1e-10)


def test_float32_stays_float32(covariance_type):
    X = _data().astype(np.float32)
    model, params = _random_params(covariance_type, X.shape[1])
    params32 = MixtureParams(*(np.asarray(p, np.float32) for p in params))
    log_prob = _log_prob(model, params32, X, np.float32)
    assert_allclose(log_prob, _log_prob(model, params, X.astype(np.float64)), rtol=1e-4, atol=1e-3)
    pk = prepare_pass(model, params32, np.float32)
    with BlockRunner(len(X), 50) as runner:
        log_prob_norm, log_resp = estimate(runner, X, pk)
    assert log_prob_norm.dtype == log_resp.dtype == np.float32
    ll, raw = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, None, {})
    assert np.isfinite(ll) and all(sums.dtype == np.float64 for sums in raw)


def _naive_stats(covariance_type, params, X, sample_weight):
    """Responsibilities and centred sums, computed the obvious way."""
    d = X.shape[1]
    covariances = _dense_covariances(covariance_type, params.covariances, d)
    log_prob = np.column_stack(
        [multivariate_normal(m, c).logpdf(X) for m, c in zip(params.means, covariances)]
    ) + np.log(params.weights)
    log_norm = logsumexp(log_prob, axis=1)
    w = np.ones(len(X)) if sample_weight is None else sample_weight
    resp = np.exp(log_prob - log_norm[:, None]) * w[:, None]
    diffs = X[None] - params.means[:, None]  # (K, n, d)
    x_sum = np.einsum("kn,knd->kd", resp.T, diffs)
    scatter = np.einsum("kn,knd,kne->kde", resp.T, diffs, diffs)
    if covariance_type == "tied":
        # summed over components: sum_k sum_n r (x - mu_k)(x - mu_k)^T
        scatter = scatter.sum(axis=0)
    elif covariance_type in ("diag", "spherical"):
        scatter = np.einsum("kn,knd->kd", resp.T, diffs**2)
    return float(np.dot(w, log_norm)), resp.sum(0), x_sum, scatter


#: 4: the few-feature sums; 16: one whitening product; 37 and 70: the
#: 'full' whitening split into 2 and 4 slices of uneven width.
KERNEL_FEATURES = [4, 16, 37, 70]


@pytest.mark.parametrize("n_features", KERNEL_FEATURES)
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_block_stats_match_naive(covariance_type, weighted, n_features):
    X = _data(n_samples=203, n_features=n_features, seed=7)
    model, params = _random_params(covariance_type, X.shape[1], seed=2)
    sample_weight = np.random.RandomState(0).uniform(0, 3, len(X)) if weighted else None
    stats = em_stats(prepare_pass(model, params, X.dtype), X, sample_weight, [slice(None)], {})
    ll, resp_sum, x_sum, scatter = _naive_stats(covariance_type, params, X, sample_weight)
    stats = stats.recentred(np.asarray(params.means, np.float64))
    assert_allclose(stats.log_likelihood, ll, rtol=1e-12)
    # responsibilities below 1e-299 of a row's largest are not computed exactly (exp_floor)
    assert_allclose(stats.resp_sum, resp_sum, rtol=1e-11, atol=1e-12 * len(X))
    assert_allclose(stats.resp_x_sum, x_sum, rtol=1e-10, atol=1e-9)
    assert_allclose(stats.scatter, scatter, rtol=1e-10, atol=1e-9)


def test_fused_kernel_matches_kernel_of_given_responsibilities(covariance_type):
    """The fused E+M kernel sums what the kernel of given responsibilities sums."""
    X = _data(n_samples=300, n_features=6, seed=11)
    model, params = _random_params(covariance_type, X.shape[1], seed=4)
    weights = np.random.RandomState(2).uniform(0.2, 2.0, len(X))
    pk = prepare_pass(model, params, X.dtype)
    ll, fused = model.em_block_sums(pk.kernel, X, pk.origin, pk.log_weights, weights, {})
    expected_ll, resp_sum, _, _ = _naive_stats(covariance_type, params, X, weights)
    log_prob = _log_prob(model, params, X) + np.log(params.weights)
    wresp = np.exp(log_prob - logsumexp(log_prob, axis=1)[:, None]) * weights[:, None]
    given = model.resp_sums(pk.kernel, X, pk.origin, wresp, weights, {})
    assert_allclose(ll, expected_ll, rtol=1e-12)
    for a, b in zip(model.statistics(pk.kernel, fused), model.statistics(pk.kernel, given)):
        assert_allclose(a, b, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("n_features", KERNEL_FEATURES)
def test_weighted_log_prob_block_matches_log_prob(covariance_type, n_features):
    """The blocked kernel's log densities (predict, score) equal the generic ones."""
    X = _data(n_samples=131, n_features=n_features, seed=12)
    model, params = _random_params(covariance_type, n_features, seed=3)
    pk = prepare_pass(model, params, X.dtype)
    blocked = model.weighted_log_prob_block(pk.kernel, X, pk.origin, pk.log_weights, {})
    expected = _log_prob(model, params, X) + np.log(params.weights)
    assert_allclose(blocked, expected, rtol=1e-12, atol=1e-10)


def test_m_step_matches_sklearn_one_iteration(covariance_type):
    """One E+M step from the same parameters equals scikit-learn's."""
    from sklearn.mixture import GaussianMixture

    X, _ = mixture_10d(n_samples=400, seed=3)
    model, params = _random_params(covariance_type, X.shape[1], seed=9)
    params = MixtureParams(params.weights, X[[0, 150, 300]], params.covariances, params.precisions_cholesky)
    gm = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type)
    gm.weights_, gm.means_, gm.precisions_cholesky_ = params.weights, params.means, params.precisions_cholesky
    gm.covariances_ = params.covariances
    log_prob_norm, log_resp = gm._e_step(X)
    gm._m_step(X, log_resp)
    with BlockRunner(len(X), 37, n_threads=2) as runner:
        stats = em_pass(runner, X, None, prepare_pass(model, params, X.dtype))
    new = m_step(stats, model, gm.reg_covar, X.dtype)
    assert_allclose(stats.log_likelihood / len(X), log_prob_norm, rtol=1e-12)
    assert_allclose(new.weights, gm.weights_, rtol=1e-10)
    assert_allclose(new.means, gm.means_, rtol=1e-10, atol=1e-10)
    assert_allclose(new.covariances, gm.covariances_, rtol=1e-9, atol=1e-10)
    assert_allclose(new.precisions_cholesky, gm.precisions_cholesky_, rtol=1e-8, atol=1e-9)


def test_far_from_origin_data_keep_their_covariances():
    """Centred statistics: shifting the data by 1e5 does not change covariances."""
    X, labels = mixture_10d(n_samples=300, seed=5)
    for covariance_type in COVARIANCE_MODELS:
        if covariance_type in ("E", "V"):  # one feature only
            continue
        model, params = _random_params(covariance_type, X.shape[1], seed=1)
        params = MixtureParams(
            params.weights, X[[0, 100, 200]], params.covariances, params.precisions_cholesky
        )
        shifted = MixtureParams(
            params.weights, params.means + 1e5, params.covariances, params.precisions_cholesky
        )
        near = m_step(
            em_stats(prepare_pass(model, params, X.dtype), X, None, [slice(None)], {}), model, 1e-6, X.dtype
        )
        far = m_step(
            em_stats(prepare_pass(model, shifted, X.dtype), X + 1e5, None, [slice(None)], {}),
            model,
            1e-6,
            X.dtype,
        )
        assert_allclose(far.covariances, near.covariances, rtol=1e-6, err_msg=covariance_type)
        assert_allclose(far.means - 1e5, near.means, atol=1e-6, err_msg=covariance_type)


@pytest.mark.parametrize("n_features", [3, 37])
@pytest.mark.parametrize("weighted", [False, True])
def test_resp_stats_match_naive(covariance_type, weighted, n_features):
    """Statistics of given responsibilities (the initialisation pass)."""
    X = _data(n_samples=120, n_features=n_features, seed=8)
    model, params = _random_params(covariance_type, X.shape[1], seed=6)
    rng = np.random.RandomState(0)
    resp = rng.dirichlet(np.ones(N_COMPONENTS), size=len(X))
    w = rng.uniform(0, 2, len(X)) if weighted else None
    with BlockRunner(len(X), 50, n_threads=2) as runner:  # blocks of 50, 50 and 20 rows
        stats = resp_stats(runner, X, w, resp, model, N_COMPONENTS).recentred(params.means)
    wresp = resp * (1 if w is None else w[:, None])
    diffs = X[None] - params.means[:, None]
    scatter = np.einsum("kn,knd,kne->kde", wresp.T, diffs, diffs)
    scatter = {"full": scatter, "tied": scatter.sum(0)}.get(covariance_type, np.einsum("kdd->kd", scatter))
    assert_allclose(stats.resp_sum, wresp.sum(0), rtol=1e-12)
    assert_allclose(stats.resp_x_sum, np.einsum("kn,knd->kd", wresp.T, diffs), rtol=1e-10, atol=1e-10)
    assert_allclose(stats.scatter, scatter, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_sum_exp_with_entries_far_below_the_largest(dtype):
    """exp_floor: terms too small to matter, and impossible rows, handled exactly."""
    rng = np.random.RandomState(0)
    log_prob = rng.uniform(-1500, 0, size=(40, 5))
    log_prob[:, 0] = rng.uniform(-5, 0, size=40)  # one plausible component per row
    log_prob[3, 1:] = -np.inf  # components of weight 0
    log_prob[7] = -np.inf  # no component can produce the row
    log_prob = log_prob.astype(dtype)
    expected = logsumexp(log_prob.astype(np.float64), axis=1)
    with np.errstate(invalid="ignore"):
        resp_expected = np.exp(log_prob.astype(np.float64) - expected[:, None])
    tol = dict(rtol=1e-12 if dtype == np.float64 else 1e-6, atol=0)
    finite = np.isfinite(expected)

    log_resp = log_prob.copy()
    norm = normalise(log_resp, 1)
    assert_allclose(norm, expected, **tol)
    assert np.isneginf(norm[7])
    # exp of a log-responsibility of size L carries the rounding of L: eps * |L| relative
    large = finite[:, None] & (resp_expected > 1e-6)
    assert_allclose(np.exp(log_resp[large]), resp_expected[large], rtol=15 * np.finfo(dtype).eps * 14)
    columns = log_prob.T.copy()
    assert_allclose(normalise(columns, 0), expected, **tol)
    resp = log_prob.T.copy()
    weights = rng.uniform(0.5, 2, 40).astype(dtype)
    assert_allclose(normalise(resp, 0, responsibilities=True, sample_weight=weights), expected, **tol)
    atol = np.exp(exp_floor(dtype)) * 2 * weights.max()
    assert_allclose(
        resp[:, finite].T, resp_expected[finite] * weights[finite, None], rtol=tol["rtol"], atol=atol
    )

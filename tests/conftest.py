"""Shared data builders and fixtures."""

import numpy as np
import pytest
from scipy import special
from sklearn.datasets import load_iris, load_wine, make_blobs

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]


def mixture_10d(n_samples=600, seed=0):
    """A 10-dimensional mixture of 4 components with random full covariances."""
    rng = np.random.RandomState(seed)
    n_components, n_features = 4, 10
    centers = rng.normal(scale=4.0, size=(n_components, n_features))
    labels = rng.randint(n_components, size=n_samples)
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    noise = rng.normal(size=(n_samples, n_features))
    X = centers[labels] + np.einsum("nd,nde->ne", noise, mixing[labels])
    return X, labels


def datasets():
    """Named data sets for parity tests against scikit-learn."""
    blobs, _ = make_blobs(n_samples=400, n_features=3, centers=3, random_state=1)
    return {
        "blobs": blobs,
        "iris": load_iris().data,
        "wine": load_wine().data,
        "mixture_10d": mixture_10d()[0],
    }


def explicit_init(X, n_components, covariance_type, seed=0):
    """Reasonable explicit starting parameters (weights, means, precisions)."""
    rng = np.random.RandomState(seed)
    n_features = X.shape[1]
    means = X[rng.choice(len(X), n_components, replace=False)]
    variance = X.var(axis=0).mean()
    shapes = {
        "full": np.tile(np.eye(n_features) / variance, (n_components, 1, 1)),
        "tied": np.eye(n_features) / variance,
        "diag": np.full((n_components, n_features), 1 / variance),
        "spherical": np.full(n_components, 1 / variance),
    }
    weights = np.full(n_components, 1.0 / n_components)
    return dict(weights_init=weights, means_init=means, precisions_init=shapes[covariance_type])


def dense_covariances(covariances, covariance_type, n_components, n_features):
    """(n_components, n_features, n_features) matrices from any covariance_type's shape."""
    if covariance_type == "full":
        return np.asarray(covariances, dtype=float)
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, n_features, n_features))
    if covariance_type == "diag":
        return np.stack([np.diag(v) for v in covariances])
    return np.stack([v * np.eye(n_features) for v in covariances])


def reference_missing_e_step(X, weights, means, covariances, covariance_type):
    """E-step for incomplete data (Ghahramani & Jordan 1994), row by row.

    For each row, with observed coordinates o and missing ones m, and each
    component: the responsibility from the marginal density N(x_o | mu_o, S_oo),
    the conditional mean of the row (x_m filled with mu_m + S_mo S_oo^-1
    (x_o - mu_o)) and the conditional covariance (S_mm - S_mo S_oo^-1 S_om in
    the m x m block, zero elsewhere).  Rows need an observed coordinate.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    x_hat : ndarray of shape (n_samples, n_components, n_features)
    cond_cov : ndarray of shape (n_samples, n_components, n_features, n_features)
    log_likelihood : ndarray of shape (n_samples,)
        log p(x_o) of each row under the given parameters.
    """
    n_samples, n_features = X.shape
    n_components = len(weights)
    cov = dense_covariances(covariances, covariance_type, n_components, n_features)
    resp = np.zeros((n_samples, n_components))
    x_hat = np.zeros((n_samples, n_components, n_features))
    cond_cov = np.zeros((n_samples, n_components, n_features, n_features))
    log_likelihood = np.zeros(n_samples)
    for i, row in enumerate(X):
        o, m = ~np.isnan(row), np.isnan(row)
        log_prob = np.empty(n_components)
        for k in range(n_components):
            s_oo, s_mo = cov[k][np.ix_(o, o)], cov[k][np.ix_(m, o)]
            deviation = row[o] - means[k][o]
            _, log_det = np.linalg.slogdet(s_oo)
            mahalanobis = deviation @ np.linalg.solve(s_oo, deviation)
            log_prob[k] = np.log(weights[k]) - 0.5 * (o.sum() * np.log(2 * np.pi) + log_det + mahalanobis)
            gain = np.linalg.solve(s_oo, s_mo.T).T  # S_mo S_oo^-1
            x_hat[i, k, o] = row[o]
            x_hat[i, k, m] = means[k][m] + gain @ deviation
            cond_cov[i, k][np.ix_(m, m)] = cov[k][np.ix_(m, m)] - gain @ s_mo.T
        log_likelihood[i] = special.logsumexp(log_prob)
        resp[i] = np.exp(log_prob - log_likelihood[i])
    return resp, x_hat, cond_cov, log_likelihood


def reference_m_step(row_weight, resp, x_hat, cond_cov, covariance_type, reg_covar):
    """M-step from E-step outputs of rows weighted by ``row_weight``.

    The conditional covariances are added to the scatter about the new means.
    Returns weights, means and covariances (in covariance_type's shape).
    """
    n_features = x_hat.shape[2]
    wresp = resp * row_weight[:, None]
    nk = wresp.sum(axis=0)
    means = np.einsum("nk,nkd->kd", wresp, x_hat) / nk[:, None]
    centred = x_hat - means
    scatter = np.einsum("nk,nkd,nke->kde", wresp, centred, centred)
    scatter += np.einsum("nk,nkde->kde", wresp, cond_cov)
    if covariance_type == "full":
        covariances = scatter / nk[:, None, None] + reg_covar * np.eye(n_features)
    elif covariance_type == "tied":
        covariances = scatter.sum(axis=0) / nk.sum() + reg_covar * np.eye(n_features)
    elif covariance_type == "diag":
        covariances = np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None] + reg_covar
    else:
        covariances = np.diagonal(scatter, axis1=1, axis2=2).mean(axis=1) / nk + reg_covar
    return nk / nk.sum(), means, covariances


@pytest.fixture(params=COVARIANCE_TYPES)
def covariance_type(request):
    return request.param


@pytest.fixture
def blobs():
    X, y = make_blobs(n_samples=300, n_features=2, centers=3, random_state=0)
    return X, y

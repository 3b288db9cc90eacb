"""Shared data builders and fixtures."""

import numpy as np
import pytest
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


@pytest.fixture(params=COVARIANCE_TYPES)
def covariance_type(request):
    return request.param


@pytest.fixture
def blobs():
    X, y = make_blobs(n_samples=300, n_features=2, centers=3, random_state=0)
    return X, y

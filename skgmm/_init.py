"""Initialisers: each returns initial responsibilities.

They share one signature ``(X, sample_weight, n_components, random_state)``
and return either a dense array of shape (n_samples, n_components) or, for hard
assignments, an integer label per row (-1 for rows assigned to no component),
which the drivers expand block by block.  One M-step then gives parameters.
The random draws are those of scikit-learn, so unweighted fits start alike.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus


def init_kmeans(X, sample_weight, n_components, random_state):
    """Labels of one k-means run (weighted when weights are given)."""
    kmeans = KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
    return kmeans.fit(X, sample_weight=sample_weight).labels_.astype(np.intp)


def init_kmeans_plusplus(X, sample_weight, n_components, random_state):
    """One row per component, chosen by k-means++ seeding."""
    _, indices = kmeans_plusplus(X, n_components, sample_weight=sample_weight, random_state=random_state)
    return _labels_at(len(X), indices)


def init_random(X, sample_weight, n_components, random_state):
    """Uniform random responsibilities, normalised per row."""
    resp = np.asarray(random_state.uniform(size=(len(X), n_components)), dtype=X.dtype)
    resp /= resp.sum(axis=1)[:, None]
    return resp


def init_random_from_data(X, sample_weight, n_components, random_state):
    """One distinct row per component, drawn uniformly (by weight if given)."""
    p = None
    # Equal weights draw exactly as no weights (numpy's weighted draw differs).
    if sample_weight is not None and np.ptp(sample_weight) > 0:
        p = np.asarray(sample_weight, dtype=np.float64)
        p = p / p.sum()
    indices = random_state.choice(len(X), size=n_components, replace=False, p=p)
    return _labels_at(len(X), indices)


def _labels_at(n_samples, indices):
    labels = np.full(n_samples, -1, dtype=np.intp)
    labels[indices] = np.arange(len(indices))
    return labels


INITIALISERS = {
    "kmeans": init_kmeans,
    "k-means++": init_kmeans_plusplus,
    "random": init_random,
    "random_from_data": init_random_from_data,
}

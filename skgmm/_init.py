"""Initialisers: each returns initial responsibilities.

They share one signature ``(X, sample_weight, n_components, random_state)``
and return either a dense array of shape (n_samples, n_components) or, for hard
assignments, an integer label per row (-1 for rows assigned to no component),
which the drivers expand block by block.  One M-step then gives parameters.
The random draws are those of scikit-learn, so unweighted fits start alike;
the k-means starts are :mod:`skgmm._kmeans`, which gives the labels of
scikit-learn's ``KMeans`` without its centred copy of X.
``'hierarchical'`` is mclust's start: a model-based agglomeration whose tree
serves every number of components, so :func:`hierarchical_partitions` cuts it
for many at once.
"""

from __future__ import annotations

import numpy as np

from skgmm._hierarchical import agglomerate, cut_tree, quantile_classes, svd_transform
from skgmm._kmeans import kmeans, kmeans_plusplus

#: Rows agglomerated by the hierarchical start (mclust's ``subset`` option);
#: larger data sets use a random subset and leave the other rows unassigned.
HIERARCHICAL_SUBSET = 2000


def init_kmeans(X, sample_weight, n_components, random_state):
    """Labels of one k-means run (weighted when weights are given).

    Those of ``KMeans(n_components, n_init=1, random_state=random_state)``,
    which leaves ``random_state`` where KMeans leaves it.
    """
    return kmeans(X, sample_weight, n_components, random_state).labels.astype(np.intp)


def init_kmeans_plusplus(X, sample_weight, n_components, random_state):
    """One row per component, chosen by k-means++ seeding (sklearn's ``kmeans_plusplus``)."""
    return _labels_at(len(X), kmeans_plusplus(X, sample_weight, n_components, random_state))


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


def init_hierarchical(X, sample_weight, n_components, random_state):
    """Cut of a model-based hierarchical agglomeration (mclust's start).

    See :func:`hierarchical_partitions`; deterministic when ``X`` has at most
    ``HIERARCHICAL_SUBSET`` rows of positive weight.
    """
    return hierarchical_partitions(X, sample_weight, [n_components], random_state)[n_components]


def hierarchical_partitions(X, sample_weight, n_components_list, random_state):
    """Labels of ``n_components`` clusters, for each given number, from one tree.

    mclust's default start (``Mclust``/``mclustBIC`` with the default
    ``mclust.options()``).  The rows are put in mclust's ``hcUse = "SVD"``
    coordinates (:func:`skgmm._hierarchical.svd_transform`: standardised, then
    ``U D**0.5`` of their SVD) and merged two groups at a time by mclust's
    ``"VVV"`` classification criterion (:func:`skgmm._hierarchical.agglomerate`),
    starting from singletons as mclust 6.0.0 does.  The tree does not depend on
    the number of components, so one tree gives the start of every candidate.
    Univariate data are not agglomerated: as in mclust, the start is the
    classes between quantiles (:func:`skgmm._hierarchical.quantile_classes`).
    Only rows of positive weight take part, at most ``HIERARCHICAL_SUBSET`` of
    them (mclust's ``subset``), drawn at random (by weight) when there are
    more; the rest get label -1 and join in at the first E-step.  Weights are
    not used by the merges themselves.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    n_components_list : iterable of int
    random_state : RandomState
        Draws the subset, when one is needed.

    Returns
    -------
    partitions : dict of int to ndarray of shape (n_samples,)
        Labels in ``[-1, n_components)`` for each number of components.
    """
    n_components_list = sorted(set(int(k) for k in n_components_list))
    n_samples = len(X)
    rows = np.arange(n_samples) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    if len(rows) > HIERARCHICAL_SUBSET:
        p = None
        if sample_weight is not None:
            p = np.asarray(sample_weight[rows], dtype=np.float64)
            p = p / p.sum()
        rows = np.sort(random_state.choice(rows, size=HIERARCHICAL_SUBSET, replace=False, p=p))
    # Larger cuts than rows are not asked for (the estimator checks
    # n_samples >= n_components first); clip them all the same.
    n_clusters = {k: max(1, min(k, len(rows))) for k in n_components_list}
    subset = np.asarray(X[rows], dtype=np.float64)
    if len(rows) == 0:
        cuts = {}
    elif subset.shape[1] == 1:
        cuts = {c: quantile_classes(subset[:, 0], c) for c in set(n_clusters.values())}
    else:
        merges = agglomerate(svd_transform(subset))
        cuts = cut_tree(merges, len(rows), set(n_clusters.values()))
    partitions = {}
    for k in n_components_list:
        labels = np.full(n_samples, -1, dtype=np.intp)
        if len(rows):
            labels[rows] = cuts[n_clusters[k]]
        partitions[k] = labels
    return partitions


def _labels_at(n_samples, indices):
    labels = np.full(n_samples, -1, dtype=np.intp)
    labels[indices] = np.arange(len(indices))
    return labels


INITIALISERS = {
    "kmeans": init_kmeans,
    "k-means++": init_kmeans_plusplus,
    "random": init_random,
    "random_from_data": init_random_from_data,
    "hierarchical": init_hierarchical,
}

"""k-means++ seeds of small float64 data: scikit-learn's operations on one centred array.

The blocked seeding of :mod:`skgmm._kmeans` reads X a block at a time so that
large data is never copied; on a few thousand rows its per-block calls, its
threads and its searches of running sums cost more than the arithmetic (about
twice scikit-learn's own seeding at 5,000 x 8).  Up to :data:`SMALL_ROWS`
rows, :func:`seed_small` instead does what ``sklearn.cluster._kmeans_plusplus``
does, operation for operation, on one centred copy (KMeans seeds a centred
copy too): the same products, sums and searches over the whole array give the
same bits, so the same seeds and the same random draws.

Whatever the BLAS threads: OpenBLAS splits no float64 dot product of at most
10**4 terms (the potentials), and a matrix product's entries do not depend on
how its rows or columns are shared out (the distances, the candidates'
potentials).
"""

from __future__ import annotations

import numpy as np

#: The most rows seeded by :func:`seed_small` (float64 data only: float32
#: distances are upcast batch by batch in scikit-learn, which the blocked
#: seeding reproduces).
SMALL_ROWS = 10_000


def seed_small(X, sample_weight, n_clusters, random_state, offset, n_local_trials):
    """Row indices of k-means++ seeds of ``X - offset`` (or of X), as :func:`skgmm._kmeans.kmeans_plusplus`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        At most :data:`SMALL_ROWS` rows.
    sample_weight : ndarray of shape (n_samples,) or None
    n_clusters : int
    random_state : RandomState
    offset : ndarray of shape (n_features,) or None
        Subtracted from a C-ordered copy of X, as KMeans centres its copy;
        None seeds X itself (sklearn's public ``kmeans_plusplus``).
    n_local_trials : int

    Returns
    -------
    indices : ndarray of shape (n_clusters,), intp
    """
    n_samples = X.shape[0]
    rows = X if offset is None else np.subtract(X, offset, order="C")
    weight = np.ones(n_samples, X.dtype) if sample_weight is None else np.asarray(sample_weight, X.dtype)
    row_sq_norms = np.einsum("ij,ij->i", rows, rows)

    def distances(centers):
        """``max(0, -2 c.x + |c|^2 + |x|^2)`` of each centre and row, as ``_euclidean_distances``."""
        result = -2 * (centers @ rows.T)
        result += np.einsum("ij,ij->i", centers, centers)[:, np.newaxis]
        result += row_sq_norms[np.newaxis, :]
        return np.maximum(result, 0, out=result)

    indices = np.full(n_clusters, -1, dtype=np.intp)
    indices[0] = random_state.choice(n_samples, p=weight / weight.sum())
    closest = distances(rows[indices[0]][np.newaxis, :])  # (1, n_samples) at first, as in sklearn
    current_pot = closest @ weight
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        candidate_ids = np.searchsorted(np.cumsum(weight * closest), rand_vals)
        np.clip(candidate_ids, None, closest.size - 1, out=candidate_ids)
        candidate_dist = distances(rows[candidate_ids])
        np.minimum(closest, candidate_dist, out=candidate_dist)
        candidates_pot = candidate_dist @ weight.reshape(-1, 1)
        best = np.argmin(candidates_pot)
        current_pot = candidates_pot[best]
        closest = candidate_dist[best]
        indices[c] = candidate_ids[best]
    return indices

"""Model-based agglomerative hierarchical clustering: mclust's default start.

mclust starts EM from a cut of one tree, grown on a transformation of the data
(``hcUse = "SVD"``, Scrucca & Raftery 2015) by its ``"VVV"`` agglomeration
(Banfield & Raftery 1993; Fraley 1998): at each step the two groups whose
merge least increases a classification criterion are merged.  The criterion
of a group of ``n`` rows with scatter matrix ``W`` (centred cross-products) in
``p`` dimensions, as mclust 6.0.0 ``hc(modelName="VVV")`` ranks merges
(established by black-box comparison of merge sequences,
``benchmarks/mclust_hc_fixtures.R``), is::

    n p log((tr W + alpha s + det(W) / (beta n**(p - 1))) / (n p)),

with ``s = tr(total scatter) / (n_samples p)`` and ``alpha = beta = 1``
(``beta`` divides the determinant term: bisection against ``hcVVV(...,
beta=b)`` measures it as ``1 / b`` times that of ``beta = 1``).  The
determinant vanishes for groups of at most ``p`` rows, where this is the
spherical, varying-volume (``"VII"``) criterion regularised by ``alpha s``.
Every merge mclust makes from a given partition (``hcVVV(partition=...)``)
is the one this criterion ranks first, for groups of any size and scale.
mclust's *sequence* of merges can still leave it late in a tree (wreath; raw
variables of large scale): restarted from the partition just before such a
step, mclust itself takes the merge ranked first here, so the difference lies
in how mclust carries its merge values from one step to the next, not in the
criterion (``benchmarks/INIT_QUALITY.md``).

Exact ties between merge costs (duplicated rows; rows differing by the same
vector, whose costs round alike) are broken as mclust breaks them, by its
storage order of the groups (:func:`_tied_pair`), which reproduces its trees
on iris and faithful.

A merge changes only the costs of pairs that involve the merged group, so each
step updates one row of the pairwise cost matrix (vectorised over the other
groups) and a nearest-partner list, as in Fraley's algorithms.
"""

from __future__ import annotations

import importlib

import numpy as np


def svd_transform(X):
    """Rows in mclust's ``"SVD"`` coordinates for hierarchical clustering.

    The columns are centred and scaled to unit variance (``ddof=1``, as R's
    ``scale``), and the rows become ``U D**0.5`` of the thin SVD
    ``U D V^T`` of that matrix.  Constant columns are only centred.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    Y : ndarray of shape (n_samples, min(n_samples, n_features))
    """
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    if len(X) < 2:
        return centred
    scale = X.std(axis=0, ddof=1)
    scale[scale <= np.finfo(np.float64).tiny] = 1.0
    u, d, _ = np.linalg.svd(centred / scale, full_matrices=False)
    return u * np.sqrt(d)


def agglomerate(X, alpha=1.0, beta=1.0, compiled=None):
    """Merge sequence of mclust's ``"VVV"`` agglomeration, from singletons.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    alpha, beta : float, default=1.0
        Weight of the regularising term ``s``, and divisor of the determinant term.
    compiled : bool or None, default=None
        Whether to run the C loop (``skgmm/_ckernels/hc.c``); None: when it
        was built and is not switched off (``SKGMM_COMPILED=0``).  Both
        loops round alike and give the same merges.

    Returns
    -------
    merges : ndarray of shape (n_samples - 1, 2)
        Row ``t`` holds the two groups merged at step ``t``, each named by
        its smallest row index, smaller name first (mclust's ``hc`` pairs,
        0-based).  The merged group keeps the smaller name.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    if n_samples < 2:
        return np.empty((0, 2), dtype=np.intp)
    total = np.sum((X - X.mean(axis=0)) ** 2) / (n_samples * n_features)
    # All rows equal: any order is as good; keep the logarithms finite.
    reg = alpha * (total if total > 0 else 1.0)
    kernels = _kernels() if compiled is None else (_kernels(required=True) if compiled else None)
    if kernels is not None:
        return kernels.agglomerate_vvv(X, reg, float(beta))
    return _agglomerate_numpy(X, reg, float(beta))


def _agglomerate_numpy(X, reg, beta):
    """:func:`agglomerate`'s loop in numpy, the arithmetic of ``hc.c`` in the same order."""
    n_samples, p = X.shape
    merges = np.empty((n_samples - 1, 2), dtype=np.intp)

    def cost(count, trace, det):
        return count * p * np.log((trace + reg + det / (beta * count ** (p - 1))) / (count * p))

    count = np.ones(n_samples)
    mean = X.copy()
    scatter = np.zeros((n_samples, p, p))
    trace = np.zeros(n_samples)
    own = np.full(n_samples, cost(1.0, 0.0, 0.0))
    alive = np.ones(n_samples, dtype=bool)

    # Pairs of singletons: scatter d d^T / 2, of rank one (determinant only when p == 1).
    dist = np.zeros((n_samples, n_samples))
    for k in range(p):
        diff = X[:, k, None] - X[None, :, k]
        dist += diff * diff
    half = dist / 2.0
    costs = cost(2.0, half, half if p == 1 else 0.0) - 2.0 * own[0]
    np.fill_diagonal(costs, np.inf)
    partner = np.argmin(costs, axis=1)
    best = costs[np.arange(n_samples), partner]

    # mclust's storage order of the groups, which breaks exact ties (see _tied_pair).
    slot = np.arange(n_samples)
    at = np.arange(n_samples)
    n_groups = n_samples

    for step in range(n_samples - 1):
        smallest = best.min()
        if smallest < np.inf:
            i, j = _tied_pair(costs, best, smallest, slot)
        else:
            i = int(np.argmin(best))
            j = int(partner[i])
        i, j = min(i, j), max(i, j)
        merges[step] = i, j
        # The merged group takes the lower of the two slots, the last slot's group the higher.
        low, high = sorted((slot[i], slot[j]))
        at[low] = i
        slot[i] = low
        n_groups -= 1
        if high < n_groups:
            moved = at[n_groups]
            at[high] = moved
            slot[moved] = high
        n_i, n_j = count[i], count[j]
        n_ij = n_i + n_j
        diff = mean[j] - mean[i]
        scatter[i] += scatter[j] + (n_i * n_j / n_ij) * (diff[:, None] * diff[None, :])
        trace[i] = _row_sums(np.diagonal(scatter[i])[None, :])[0]
        mean[i] += (n_j / n_ij) * diff
        count[i] = n_ij
        own[i] = cost(n_ij, trace[i], _determinants(scatter[i : i + 1])[0] if n_ij > p else 0.0)
        alive[j] = False
        costs[j, :] = np.inf
        costs[:, j] = np.inf
        best[j] = np.inf

        others = np.flatnonzero(alive)
        others = others[others != i]
        if len(others) == 0:
            continue
        n_k = count[others]
        n_m = n_k + count[i]
        weight = n_k * count[i] / n_m
        d = mean[others] - mean[i]
        trace_m = trace[others] + trace[i] + weight * _row_sums(d * d)
        det_m = np.zeros(len(others))
        large = n_m > p
        if large.any():
            dl = d[large]
            merged = (scatter[others[large]] + scatter[i]) + weight[large, None, None] * (
                dl[:, :, None] * dl[:, None, :]
            )
            det_m[large] = _determinants(merged)
        change = cost(n_m, trace_m, det_m) - own[i] - own[others]
        costs[i, others] = change
        costs[others, i] = change

        # Only pairs with i changed: refresh the rows whose partner was i or j,
        # and let i become the partner of rows it now beats.
        partner[i] = others[np.argmin(change)]
        best[i] = change.min()
        stale = others[(partner[others] == i) | (partner[others] == j)]
        if len(stale):
            partner[stale] = np.argmin(costs[stale], axis=1)
            best[stale] = costs[stale, partner[stale]]
        better = change < best[others]
        better &= (partner[others] != i) & (partner[others] != j)
        partner[others[better]] = i
        best[others[better]] = change[better]
    return merges


def _tied_pair(costs, best, smallest, slot):
    """The pair that mclust merges among those whose cost equals ``smallest``.

    mclust keeps its groups in slots ``0 .. n_groups - 1`` (initially row
    ``r`` in slot ``r``); a merge puts the new group in the lower of the two
    slots and moves the group of the last slot into the higher one.  Of the
    pairs of least cost, it merges the one whose higher slot is highest, and
    of those the one whose lower slot is highest: the last in a scan of the
    pairs by higher slot, then lower slot (established by black-box runs of
    ``hc(modelName="VVV")`` on data with exact ties: duplicated rows, lattice
    points, mirrored copies; ``benchmarks/mclust_hc_ties.R``).  With one
    pair of least cost, that pair.
    """
    tied = np.flatnonzero(best == smallest)
    rows, cols = np.nonzero(costs[tied] == smallest)
    rows = tied[rows]
    high = np.maximum(slot[rows], slot[cols])
    low = np.minimum(slot[rows], slot[cols])
    k = np.lexsort((low, high))[-1]
    return int(rows[k]), int(cols[k])


def cut_tree(merges, n_samples, n_clusters_list):
    """Labels of the partitions with the given numbers of groups.

    Parameters
    ----------
    merges : ndarray of shape (n_samples - 1, 2)
        As returned by :func:`agglomerate`.
    n_samples : int
    n_clusters_list : iterable of int
        Each in ``[1, n_samples]``.

    Returns
    -------
    partitions : dict of int to ndarray of shape (n_samples,)
        Labels in ``[0, n_clusters)``, numbered by first appearance (as
        mclust's ``hclass``).
    """
    wanted = sorted({int(k) for k in n_clusters_list}, reverse=True)
    group = np.arange(n_samples)
    partitions = {}
    done = 0
    for k in wanted:
        for a, b in merges[done : n_samples - k]:
            group[group == b] = a
        done = max(done, n_samples - k)
        _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.intp)
        rank[np.argsort(first)] = np.arange(len(first))
        partitions[k] = rank[inverse.ravel()]
    return partitions


def quantile_classes(x, n_classes):
    """mclust's univariate start: classes between quantiles of ``x``.

    Row ``i`` gets the number of inner quantiles (at ``1/K, ..., (K-1)/K``,
    numpy's default linear interpolation, R's type 7) at or below ``x[i]``.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
    n_classes : int

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        Labels in ``[0, n_classes)``.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    inner = np.quantile(x, np.arange(1, n_classes) / n_classes)
    return np.searchsorted(inner, x, side="right").astype(np.intp)


def _row_sums(values):
    """Sums along the rows of a 2-D array, added left to right (as ``hc.c`` adds them)."""
    total = values[:, 0].copy()
    for k in range(1, values.shape[1]):
        total += values[:, k]
    return total


def _determinants(matrices):
    """Determinants of positive semi-definite matrices, clipped at zero.

    LU with partial pivoting, the steps (and roundings) of ``hc.c``'s
    ``determinant`` over a stack of matrices of shape (n_matrices, p, p).
    """
    a = np.array(matrices, dtype=np.float64)
    n_matrices, p, _ = a.shape
    det = np.ones(n_matrices)
    singular = np.zeros(n_matrices, dtype=bool)
    rows = np.arange(n_matrices)
    for j in range(p):
        pivot = j + np.argmax(np.abs(a[:, j:, j]), axis=1)
        singular |= a[rows, pivot, j] == 0.0
        swap = np.flatnonzero(pivot != j)
        if len(swap):
            a[swap, j], a[swap, pivot[swap]] = a[swap, pivot[swap]], a[swap, j].copy()
            det[swap] = -det[swap]
        diagonal = np.where(singular, 1.0, a[:, j, j])
        factor = a[:, j + 1 :, j] / diagonal[:, None]
        a[:, j + 1 :, j + 1 :] -= factor[:, :, None] * a[:, j, None, j + 1 :]
        det *= diagonal
    det[singular] = 0.0
    return np.maximum(det, 0.0)


def _kernels(required=False):
    """The compiled loop (:mod:`skgmm._hc_kernels`), or None (not built, or switched off)."""
    from skgmm.covariance import kernels as compiled

    if required:
        return importlib.import_module("skgmm._hc_kernels")
    return compiled._load("skgmm._hc_kernels")

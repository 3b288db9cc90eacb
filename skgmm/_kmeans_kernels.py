"""Compiled loops of the k-means start (imported only when numba is installed).

:func:`assign_and_sum` is ``_update_chunk_dense`` of
``sklearn/cluster/_k_means_lloyd.pyx`` after its matrix product: the
distances ``|c|^2 - 2 x.c``, the first smallest of each row, then the row
(times its weight) added to its cluster's sum.  The others replace numpy
passes of :mod:`skgmm._kmeans` that cost more in call overhead than in
arithmetic: centring a block, the column sums of the mean and the variance
(added row after row, as numpy adds down the columns of a C-ordered array),
and the seeding's distances.

Nothing is compiled with fast-math: each addition and product is rounded
as in numpy and in scikit-learn's C code, in the same order, so the numpy
code of :mod:`skgmm._kmeans` gives the same bits.
"""

from __future__ import annotations

import numba

_jit = numba.njit(nogil=True, cache=True)


@_jit
def assign_and_sum(
    block, weight, products, center_sq_norms, labels, center_sums, weight_sums, weighted, update
):
    """Labels of one block, and its rows added to their clusters' running sums.

    Parameters
    ----------
    block : ndarray of shape (n_rows, n_features)  # IN
        The block's (centred) rows.
    weight : ndarray of shape (n_rows,)  # IN
        Their weights; read only when ``weighted``.
    products : ndarray of shape (n_rows, n_clusters)  # IN
        ``x.c`` of each row and centre.
    center_sq_norms : ndarray of shape (n_clusters,)  # IN
        ``|c|^2``; ``|c|^2 - 2 x.c`` is the squared distance less ``|x|^2``.
    labels : ndarray of shape (n_rows,), int32  # IN/OUT
        Previous labels in, the index of each row's first smallest distance out.
    center_sums : ndarray of shape (n_clusters, n_features)  # IN/OUT
    weight_sums : ndarray of shape (n_clusters,)  # IN/OUT
        Running sums of the weighted rows and of the weights, per cluster.
    weighted, update : bool
        Without ``weighted`` the weights are ones; without ``update`` only
        the labels are computed.

    Returns
    -------
    changed : bool
        Whether any label differs from the previous one.
    """
    n_rows, n_clusters = products.shape
    n_features = block.shape[1]
    one = block.dtype.type(1)
    # in the float type of the data; times -2 is exact, so one rounding, as in BLAS
    minus_two = block.dtype.type(-2)
    changed = False
    for i in range(n_rows):
        min_sq_dist = center_sq_norms[0] + minus_two * products[i, 0]
        label = 0
        for j in range(1, n_clusters):
            sq_dist = center_sq_norms[j] + minus_two * products[i, j]
            if sq_dist < min_sq_dist:
                min_sq_dist = sq_dist
                label = j
        if labels[i] != label:
            changed = True
        labels[i] = label
        if update:
            w = weight[i] if weighted else one
            weight_sums[label] += w
            for k in range(n_features):
                center_sums[label, k] += block[i, k] * w
    return changed


@_jit
def seed_distances(
    products, center_sq_norms, row_sq_norms, closest, out, take_min, weight, weighted, running
):
    """Squared distances of a block's rows to a few centres, as sklearn's seeding forms them.

    ``max(0, -2 x.c + |c|^2 + |x|^2)`` with the additions in that order, in
    the type of ``products`` (float64 for float32 data, then rounded to
    float32 as sklearn's upcast distances are), and their minimum with the
    closest distance so far.  Also carries on, for each centre, the running
    sum of ``weight * out`` over the rows (``np.cumsum``'s additions, in the
    type of ``out``), so the next draw need not sum the rows again.

    Parameters
    ----------
    products : ndarray of shape (n_centers, n_rows)  # IN
        ``c.x`` of each centre and row.
    center_sq_norms : ndarray of shape (n_centers,)  # IN
    row_sq_norms : ndarray of shape (n_rows,)  # IN
        ``|c|^2`` and ``|x|^2``, in the type of ``products``.
    closest : ndarray of shape (n_rows,)  # IN
        Each row's squared distance to its closest seed so far.
    out : ndarray of shape (n_centers, n_rows)  # OUT
        ``min(closest, distance)`` (``np.minimum``'s choice on ties and NaN)
        or, without ``take_min``, the distance; in the type of ``closest``.
    take_min : bool
    weight : ndarray of shape (n_rows,)  # IN
        Read only when ``weighted`` (else ones).
    weighted : bool
    running : ndarray of shape (n_centers,)  # IN/OUT
        The running sums before the block in, after it out.
    """
    n_centers, n_rows = products.shape
    minus_two = products.dtype.type(-2)
    zero = out.dtype.type(0)
    for j in range(n_centers):
        total = running[j]
        for i in range(n_rows):
            distance = out.dtype.type(minus_two * products[j, i] + center_sq_norms[j] + row_sq_norms[i])
            if distance < zero:
                distance = zero
            if take_min:
                current = closest[i]
                if not (current <= distance or current != current):
                    current = distance
                distance = current
            out[j, i] = distance
            total += weight[i] * distance if weighted else distance
        running[j] = total


@_jit
def subtract_rows(rows, offset, out):
    """``out[:] = rows - offset``, the difference in the type of ``rows`` (then cast to ``out``'s).

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_features)  # IN
        Any layout.
    offset : ndarray of shape (n_features,)  # IN
    out : ndarray of shape (n_rows, n_features)  # OUT
    """
    n_rows, n_features = rows.shape
    for i in range(n_rows):
        for k in range(n_features):
            out[i, k] = rows[i, k] - offset[k]


@_jit
def column_sums(X, offset, square, out):
    """Sums down the columns of ``X`` (or of ``(X - offset) ** 2``), one row after another.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)  # IN
        Any layout.
    offset : ndarray of shape (n_features,)  # IN
        Read only with ``square``.
    square : bool
    out : ndarray of shape (n_features,)  # OUT
        In X's type.
    """
    n_samples, n_features = X.shape
    for k in range(n_features):
        out[k] = 0
    for i in range(n_samples):
        for k in range(n_features):
            if square:
                deviation = X[i, k] - offset[k]
                out[k] += deviation * deviation
            else:
                out[k] += X[i, k]

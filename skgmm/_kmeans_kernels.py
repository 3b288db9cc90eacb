"""Compiled loops of the k-means start, in C (``skgmm/_ckernels/kmeans.c``).

:func:`assign_and_sum` is ``_update_chunk_dense`` of
``sklearn/cluster/_k_means_lloyd.pyx`` after its matrix product: the
distances ``|c|^2 - 2 x.c``, the first smallest of each row, then the row
(times its weight) added to its cluster's sum.  The others replace numpy
passes of :mod:`skgmm._kmeans` that cost more in call overhead than in
arithmetic: centring a block, the column sums of the mean and the variance
(added row after row, as numpy adds down the columns of a C-ordered array),
and the seeding's distances.

Nothing is compiled with fast-math or fused multiply-adds: each addition and
product is rounded as in numpy and in scikit-learn's C code, in the same
order, so the numpy code of :mod:`skgmm._kmeans` gives the same bits.

Importing this module raises ImportError when the library was not built.
"""

from __future__ import annotations

import ctypes

import numpy as np

from skgmm._ckernels import (
    FLAG,
    POINTER,
    SIZE,
    as_input,
    check_output,
    declare,
    element_strides,
    load_library,
    simd_level,
)

_library = load_library("_kmeans")
if _library is None:
    raise ImportError("skgmm's C kernels were not built (no C compiler at install time?)")

#: The instruction set the loops run with here (the best copy this CPU runs).
SIMD = simd_level(_library, "skgmm_kmeans")

_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)
_ASSIGN_AND_SUM = {}
_SEED_DISTANCES = {}
_COLUMN_SUMS = {}
_FEATURE_MOMENTS = {}
_LABEL_MOMENTS = {}
for _dtype, _suffix in ((_F64, "f64"), (_F32, "f32")):
    _ASSIGN_AND_SUM[_dtype] = declare(
        _library, f"skgmm_assign_and_sum_{_suffix}", FLAG,
        POINTER, SIZE, SIZE, POINTER, FLAG, POINTER, SIZE, POINTER, POINTER, POINTER, POINTER, FLAG,
    )  # fmt: skip
    _SEED_DISTANCES[_dtype] = declare(
        _library, f"skgmm_seed_distances_{_suffix}", None,
        POINTER, SIZE, SIZE, POINTER, POINTER, POINTER, POINTER, SIZE, FLAG, POINTER, FLAG, POINTER,
    )  # fmt: skip
    _COLUMN_SUMS[_dtype] = declare(
        _library, f"skgmm_column_sums_{_suffix}", None, POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, FLAG, POINTER,
    )  # fmt: skip
    _FEATURE_MOMENTS[_dtype] = declare(
        _library, f"skgmm_feature_moments_{_suffix}", None,
        POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, POINTER, POINTER, POINTER, POINTER, POINTER, POINTER,
    )  # fmt: skip
    _LABEL_MOMENTS[_dtype] = declare(
        _library, f"skgmm_label_moments_{_suffix}", None,
        POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, SIZE, POINTER, POINTER, POINTER, POINTER, POINTER,
    )  # fmt: skip
#: by (type of the rows, type of out)
_SUBTRACT_ROWS = {
    (rows, out): declare(
        _library, f"skgmm_subtract_rows_{suffix}", None, POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, POINTER
    )
    for rows, out, suffix in ((_F64, _F64, "f64"), (_F32, _F32, "f32"), (_F32, _F64, "f32_f64"))
}
_LABEL = np.dtype(np.int32)
_SEED_PASS = declare(
    _library, "skgmm_seed_pass_f64", None,
    POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, POINTER, POINTER, POINTER, POINTER, SIZE, FLAG, SIZE, POINTER,
    POINTER, POINTER,
)  # fmt: skip
_SEED_SEARCH = declare(
    _library, "skgmm_seed_search_f64", None,
    POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, POINTER, POINTER, POINTER, POINTER, SIZE, POINTER, POINTER, POINTER,
)  # fmt: skip
_LLOYD_STEP = declare(
    _library, "skgmm_lloyd_step_f64", SIZE,
    POINTER, SIZE, SIZE, SIZE, SIZE, POINTER, POINTER, POINTER, SIZE, ctypes.c_double, ctypes.c_double, POINTER,
    POINTER, POINTER, FLAG, POINTER, POINTER, POINTER,
)  # fmt: skip
#: The most centres of a certified Lloyd step (SKGMM_LLOYD_MAX_CENTERS of kmeans_lloyd.h).
LLOYD_MAX_CENTERS = 64
#: Rows formed side by side by the certified seeding's passes, and the most centres of one pass
#: (SKGMM_SEED_TILE and SKGMM_SEED_MAX_CENTERS of kmeans_seed.h).
SEED_TILE, SEED_MAX_CENTERS = 8, 32


def _function(functions, key, name):
    function = functions.get(key)
    if function is None:
        raise TypeError(f"no compiled {name} for {key}")
    return function


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
    dtype = block.dtype
    function = _function(_ASSIGN_AND_SUM, dtype, "assign_and_sum")
    (n_rows, n_clusters), n_features = products.shape, block.shape[1]
    block = as_input(block, dtype, (n_rows, n_features), "block")
    weight = as_input(weight, dtype, (n_rows,), "weight") if weighted else None
    products = as_input(products, dtype, products.shape, "products")
    center_sq_norms = as_input(center_sq_norms, dtype, (n_clusters,), "center_sq_norms")
    check_output(labels, _LABEL, (n_rows,), "labels")
    check_output(center_sums, dtype, (n_clusters, n_features), "center_sums")
    check_output(weight_sums, dtype, (n_clusters,), "weight_sums")
    changed = function(
        block.ctypes.data, n_rows, n_features, None if weight is None else weight.ctypes.data, bool(weighted),
        products.ctypes.data, n_clusters, center_sq_norms.ctypes.data, labels.ctypes.data,
        center_sums.ctypes.data, weight_sums.ctypes.data, bool(update),
    )  # fmt: skip
    if changed < 0:
        raise ValueError("assign_and_sum needs at least one cluster")
    return bool(changed)


def seed_distances(
    products, center_sq_norms, row_sq_norms, closest, out, take_min, weight, weighted, running
):
    """Squared distances of a block's rows to a few centres, as sklearn's seeding forms them.

    ``max(0, -2 x.c + |c|^2 + |x|^2)`` with the additions in that order, in
    float64, then rounded to the type of ``out`` (float32 for float32 data,
    as sklearn's upcast distances are), and their minimum with the
    closest distance so far.  Also carries on, for each centre, the running
    sum of ``weight * out`` over the rows (``np.cumsum``'s additions, in the
    type of ``out``), so the next draw need not sum the rows again.

    Parameters
    ----------
    products : ndarray of shape (n_centers, n_rows), float64  # IN
        ``c.x`` of each centre and row.
    center_sq_norms : ndarray of shape (n_centers,), float64  # IN
    row_sq_norms : ndarray of shape (n_rows,), float64  # IN
        ``|c|^2`` and ``|x|^2``.
    closest : ndarray of shape (n_rows,)  # IN
        Each row's squared distance to its closest seed so far.
    out : ndarray of shape (n_centers, n_rows)  # OUT
        ``min(closest, distance)`` (``np.minimum``'s choice on ties and NaN)
        or, without ``take_min``, the distance; in the type of ``closest``.
        Its rows may be apart (a view of columns), its entries not; it may
        be ``closest`` itself without ``take_min``.
    take_min : bool
    weight : ndarray of shape (n_rows,)  # IN
        Read only when ``weighted`` (else ones).
    weighted : bool
    running : ndarray of shape (n_centers,)  # IN/OUT
        The running sums before the block in, after it out.
    """
    dtype = out.dtype
    function = _function(_SEED_DISTANCES, dtype, "seed_distances")
    n_centers, n_rows = products.shape
    products = as_input(products, _F64, (n_centers, n_rows), "products")
    center_sq_norms = as_input(center_sq_norms, _F64, (n_centers,), "center_sq_norms")
    row_sq_norms = as_input(row_sq_norms, _F64, (n_rows,), "row_sq_norms")
    closest = as_input(closest, dtype, (n_rows,), "closest") if take_min else None
    weight = as_input(weight, dtype, (n_rows,), "weight") if weighted else None
    check_output(running, dtype, (n_centers,), "running")
    strides = element_strides(out)
    if out.shape != (n_centers, n_rows) or not out.flags.writeable or strides is None or strides[1] != 1:
        raise ValueError(
            f"out must be a writeable {dtype} array of shape {(n_centers, n_rows)}, rows contiguous"
        )
    function(
        products.ctypes.data, n_centers, n_rows, center_sq_norms.ctypes.data, row_sq_norms.ctypes.data,
        None if closest is None else closest.ctypes.data, out.ctypes.data, strides[0], bool(take_min),
        None if weight is None else weight.ctypes.data, bool(weighted), running.ctypes.data,
    )  # fmt: skip


def subtract_rows(rows, offset, out):
    """``out[:] = rows - offset``, the difference in the type of ``rows`` (then cast to ``out``'s).

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_features)  # IN
        Any layout.
    offset : ndarray of shape (n_features,)  # IN
        Of rows' type.
    out : ndarray of shape (n_rows, n_features)  # OUT
        Of rows' type, or float64 for float32 rows.
    """
    function = _function(_SUBTRACT_ROWS, (rows.dtype, out.dtype), "subtract_rows")
    rows, strides = _strided(rows)
    offset = as_input(offset, rows.dtype, rows.shape[1:], "offset")
    check_output(out, out.dtype, rows.shape, "out")
    function(rows.ctypes.data, *rows.shape, *strides, offset.ctypes.data, out.ctypes.data)


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
    function = _function(_COLUMN_SUMS, X.dtype, "column_sums")
    X, strides = _strided(X)
    offset = as_input(offset, X.dtype, X.shape[1:], "offset") if square else None
    check_output(out, X.dtype, X.shape[1:], "out")
    function(
        X.ctypes.data, *X.shape, *strides, None if offset is None else offset.ctypes.data, bool(square),
        out.ctypes.data,
    )  # fmt: skip


def feature_moments(X, sample_weight):
    """Weight total, mean, centred second moment, minimum and maximum of each feature, in float64.

    What :func:`skgmm.engine.degenerate.feature_variances` sums block by block
    in numpy, in one pass of blocks of 512 rows (each summed about its own
    mean, then merged).  Not for data with NaN: a NaN entry makes its
    feature's mean NaN (and its minimum and maximum skip it).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64 or float32  # IN
        Any layout.
    sample_weight : ndarray of shape (n_samples,) or None  # IN

    Returns
    -------
    total, mean, m2, low, high : ndarray of shape (n_features,), float64
    """
    function = _function(_FEATURE_MOMENTS, X.dtype, "feature_moments")
    X, strides = _strided(X)
    n_features = X.shape[1]
    weight = None
    if sample_weight is not None:
        weight = as_input(np.asarray(sample_weight, _F64), _F64, X.shape[:1], "sample_weight")
    out = np.empty((5, n_features))
    work = np.empty(2 * n_features)
    function(
        X.ctypes.data, *X.shape, *strides, None if weight is None else weight.ctypes.data,
        *(row.ctypes.data for row in out), work.ctypes.data,
    )  # fmt: skip
    return tuple(out)


def label_moments(X, sample_weight, labels, n_labels):
    """Weight total, mean and centred second moment of each feature per label, in float64.

    :func:`feature_moments` of each label's rows (rows of a label outside
    ``[0, n_labels)`` belong to none), in one pass: each block of 512 rows is
    summed per label about that label's mean in the block, then merged.  A
    label of total weight 0 gets mean 0 and second moment 0.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64 or float32  # IN
        Any layout.
    sample_weight : ndarray of shape (n_samples,) or None  # IN
    labels : ndarray of shape (n_samples,), int64  # IN
    n_labels : int

    Returns
    -------
    total : ndarray of shape (n_labels,), float64
    mean, m2 : ndarray of shape (n_labels, n_features), float64
    """
    function = _function(_LABEL_MOMENTS, X.dtype, "label_moments")
    X, strides = _strided(X)
    n_samples, n_features = X.shape
    labels = as_input(labels, np.dtype(np.int64), (n_samples,), "labels")
    weight = None
    if sample_weight is not None:
        weight = as_input(np.asarray(sample_weight, _F64), _F64, (n_samples,), "sample_weight")
    total = np.empty(n_labels)
    mean, m2 = np.empty((2, n_labels, n_features))
    work = np.empty(n_labels * (2 * n_features + 1))
    function(
        X.ctypes.data, n_samples, n_features, *strides, labels.ctypes.data, n_labels,
        None if weight is None else weight.ctypes.data, total.ctypes.data, mean.ctypes.data, m2.ctypes.data,
        work.ctypes.data,
    )  # fmt: skip
    return total, mean, m2


def lloyd_step(
    X, offset, weight, centers, center_sq_bound, labels, center_sums, weight_sums, update, changed, scratch
):
    """A certified Lloyd step over the float64 rows X (``skgmm/_ckernels/kmeans_lloyd.h``).

    Where every row's nearest centre is ahead of the next by more than
    scikit-learn's products and these direct distances can round, the labels
    go into ``labels`` (``changed[0]`` set to 1 if one changed) and, with
    ``update``, the rows ``(x - offset) * weight`` into their clusters'
    running sums in row order (as :func:`assign_and_sum` adds them); returns 0.
    Otherwise returns how many rows were too close to call, and writes nothing
    but ``scratch``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features), float64  # IN
        Any layout.
    offset : ndarray of shape (n_features,), float64  # IN
    weight : ndarray of shape (n_rows,), float64, or None  # IN
    centers : ndarray of shape (n_centers, n_features), float64  # IN
        Centred by ``offset``; at most :data:`LLOYD_MAX_CENTERS`.
    center_sq_bound : float
        At least the largest ``|c|^2``.
    labels : ndarray of shape (n_rows,), int32  # IN/OUT
    center_sums : ndarray of shape (n_centers, n_features), float64  # IN/OUT
    weight_sums : ndarray of shape (n_centers,), float64  # IN/OUT
    update : bool
    changed : ndarray of shape (1,), int32  # IN/OUT
    scratch : dict
        The caller's buffers, kept across calls.

    Returns
    -------
    uncertain : int
    """
    X, strides = _strided(X)
    n_rows, n_features = X.shape
    n_centers = len(centers)
    offset = as_input(offset, _F64, (n_features,), "offset")
    centers = as_input(centers, _F64, (n_centers, n_features), "centers")
    if weight is not None:
        weight = as_input(weight, _F64, (n_rows,), "weight")
    check_output(labels, _LABEL, (n_rows,), "labels")
    check_output(center_sums, _F64, (n_centers, n_features), "center_sums")
    check_output(weight_sums, _F64, (n_centers,), "weight_sums")
    check_output(changed, _LABEL, (1,), "changed")
    new_labels = scratch.get("labels")
    if new_labels is None or len(new_labels) < n_rows:
        new_labels = scratch["labels"] = np.empty(n_rows, _LABEL)
    work = scratch.get("work")
    vectors = SEED_TILE * (n_features + n_centers)
    if work is None or work.size < vectors:
        work = scratch["work"] = _aligned(vectors)
    unit = (2 * n_features + 8) * 2.0**-53
    return _LLOYD_STEP(
        X.ctypes.data, n_rows, n_features, *strides, offset.ctypes.data,
        None if weight is None else weight.ctypes.data, centers.ctypes.data, n_centers, unit,
        float(center_sq_bound), labels.ctypes.data, center_sums.ctypes.data, weight_sums.ctypes.data,
        bool(update), changed.ctypes.data, new_labels.ctypes.data, work.ctypes.data,
    )  # fmt: skip


def seed_pass(X, offset, weight, closest, update, centers, first, block_rows, block_sums):
    """One pass of the certified seeding over the float64 rows X (``skgmm/_ckernels/kmeans_seed.h``).

    Distances are ``sum_k ((x_k - offset_k) - c_k) ** 2``, added up over the
    features in order.  With ``first``, ``closest`` receives each row's
    distance to ``centers[0]`` and the return value is the sum of ``weight *
    |x - offset|^2``; otherwise ``closest`` becomes its minimum with the
    distance to ``update`` (unless None), and ``block_sums[b, j]`` the sum
    over block ``b`` (``block_rows`` rows each) of ``weight *
    min(closest, distance to centers[j])``.  The sums are added up in any
    order (the caller bounds their rounding).

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features), float64  # IN
        Any layout.
    offset : ndarray of shape (n_features,), float64  # IN
    weight : ndarray of shape (n_rows,), float64, or None  # IN
    closest : ndarray of shape (n_rows,), float64  # IN/OUT
    update : ndarray of shape (n_features,), float64, or None  # IN
    centers : ndarray of shape (n_centers, n_features), float64  # IN
        One centre with ``first``.
    first : bool
    block_rows : int
        A multiple of :data:`SEED_TILE`.
    block_sums : ndarray of shape (ceil(n_rows / block_rows), n_centers), float64  # OUT

    Returns
    -------
    norm_sum : float
        With ``first``; else 0.
    """
    X, strides = _strided(X)
    n_rows, n_features = X.shape
    n_centers = len(centers)
    if (
        block_rows % SEED_TILE
        or block_rows <= 0
        or not 1 <= n_centers <= SEED_MAX_CENTERS
        or (first and n_centers != 1)
    ):
        raise ValueError(
            "seed_pass needs block_rows a positive multiple of SEED_TILE and 1 to SEED_MAX_CENTERS centres "
            "(one with first, and no update)"
        )
    offset = as_input(offset, _F64, (n_features,), "offset")
    centers = as_input(centers, _F64, (n_centers, n_features), "centers")
    if weight is not None:
        weight = as_input(weight, _F64, (n_rows,), "weight")
    if update is not None:
        if first:
            raise ValueError("seed_pass takes no update with first")
        update = as_input(update, _F64, (n_features,), "update")
    check_output(closest, _F64, (n_rows,), "closest")
    check_output(block_sums, _F64, (-(-n_rows // block_rows), n_centers), "block_sums")
    norm_sum = np.zeros(1)
    work = _aligned((n_features + 2 * n_centers + 4) * SEED_TILE)
    _SEED_PASS(
        X.ctypes.data, n_rows, n_features, *strides, offset.ctypes.data,
        None if weight is None else weight.ctypes.data, closest.ctypes.data,
        None if update is None else update.ctypes.data, centers.ctypes.data, n_centers, bool(first),
        block_rows, block_sums.ctypes.data, norm_sum.ctypes.data, work.ctypes.data,
    )  # fmt: skip
    return float(norm_sum[0])


def seed_search(X, offset, weight, closest, update, targets):
    """The first row where the running sum of ``weight * min(closest, distance to update)`` reaches each target.

    The running sums start at 0 and add the rows in order.

    Parameters
    ----------
    X, offset, weight, closest : as in :func:`seed_pass`  # IN
    update : ndarray of shape (n_features,), float64, or None  # IN
        None: ``closest`` alone.
    targets : ndarray of shape (n_targets,), float64  # IN

    Returns
    -------
    index : ndarray of shape (n_targets,), int64
        -1 where the sum over all rows stays below the target.
    below, above : ndarray of shape (n_targets,), float64
        The running sums before and after that row.
    """
    X, strides = _strided(X)
    n_rows, n_features = X.shape
    offset = as_input(offset, _F64, (n_features,), "offset")
    closest = as_input(closest, _F64, (n_rows,), "closest")
    if weight is not None:
        weight = as_input(weight, _F64, (n_rows,), "weight")
    if update is not None:
        update = as_input(update, _F64, (n_features,), "update")
    targets = as_input(targets, _F64, np.shape(targets), "targets")
    index = np.empty(len(targets), np.int64)
    below, above = np.empty(len(targets)), np.empty(len(targets))
    _SEED_SEARCH(
        X.ctypes.data, n_rows, n_features, *strides, offset.ctypes.data,
        None if weight is None else weight.ctypes.data, closest.ctypes.data,
        None if update is None else update.ctypes.data, targets.ctypes.data, len(targets),
        index.ctypes.data, below.ctypes.data, above.ctypes.data,
    )  # fmt: skip
    return index, below, above


def _aligned(size):
    """An uninitialised float64 array of ``size`` entries whose data starts on a 64-byte boundary."""
    buffer = np.empty(size + 8)
    skip = (-buffer.ctypes.data % 64) // 8
    return buffer[skip : skip + size]


def _strided(array):
    """A 2-d array and its strides in elements (an aligned, C-ordered copy where they are not whole
    elements: an unaligned array, such as one read from a buffer at an odd offset)."""
    if array.ndim != 2:
        raise TypeError(f"expected a 2-d array, got shape {array.shape}")
    strides = element_strides(array)
    if strides is None:
        array = np.require(array, requirements=["C", "A"])
        strides = element_strides(array)
    return array, strides

"""Lloyd iterations of skgmm's k-means, summed as scikit-learn's ``_kmeans_single_lloyd`` sums.

Part of :mod:`skgmm._kmeans` (see its notes on what equal labels rest on);
this module reads that one's block reader, constants and compiled kernels at
call time, so that they are set in one place.
"""

from __future__ import annotations

import numpy as np

from skgmm import _kmeans


def _thread_shares(n_samples, n_threads):
    """Row ranges of the OpenMP threads of ``lloyd_iter_chunked_dense``.

    Rows go in chunks of 256 (one chunk when there are fewer) to at most one
    thread per chunk, each thread taking a contiguous run of chunks as the
    static schedule deals them: the first ``n_chunks % n_threads`` threads
    one chunk more.
    """
    chunk = min(_kmeans.SKLEARN_CHUNK_ROWS, n_samples)
    n_chunks = -(-n_samples // chunk)
    n_threads = max(1, min(n_threads, n_chunks))
    per_thread, extra = divmod(n_chunks, n_threads)
    shares = []
    first_chunk = 0
    for t in range(n_threads):
        last_chunk = first_chunk + per_thread + (t < extra)
        shares.append((first_chunk * chunk, min(last_chunk * chunk, n_samples)))
        first_chunk = last_chunk
    return shares


class _Lloyd:
    """Lloyd steps over all rows: labels, per-cluster sums of the rows and of their weights."""

    def __init__(self, X, mean, weight, n_clusters, shares):
        self.X = X
        self.weight = weight
        self.n_clusters = n_clusters
        self.shares = shares
        self.kernels = _kmeans._kernels()
        self.reader = _kmeans._BlockReader(X, mean)
        n_features = X.shape[1]
        # numpy path: the weights ride along as a last column of the summed
        # terms; without weights their sums are counts (exact in the float
        # type below 2**24 rows, as sklearn's sums of ones).  A lone column
        # would be summed pairwise, so it gets a companion.
        self.counts_only = weight is None and (X.dtype == np.float64 or X.shape[0] < 2**24)
        self.n_sum_columns = n_features + (not self.counts_only or n_features == 1)
        self._scratch: dict = {}
        # float64 rows: labels from direct distances where they are certain (kmeans_lloyd.h)
        self.certified = (
            _kmeans.CERTIFIED
            and self.kernels is not None
            and X.dtype == np.float64
            and mean is not None
            and n_features <= _kmeans._certified.MAX_FEATURES
            and n_clusters <= self.kernels.LLOYD_MAX_CENTERS
        )

    def step(self, runner, centers, labels, update=True):
        """New labels into ``labels``; returns (changed, center_sums, weight_in_clusters).

        The sums are None without ``update``.
        """
        center_sq_norms = np.einsum("ij,ij->i", centers, centers)
        results = runner(
            lambda share: self._share(share, centers, center_sq_norms, labels, update), self.shares
        )
        changed = any(result[0] for result in results)
        if not update:
            return changed, None, None
        # sklearn: zeroed arrays, plus each thread's sums (in thread order here)
        center_sums = np.zeros_like(centers)
        weight_in_clusters = np.zeros(self.n_clusters, dtype=centers.dtype)
        for _, share_center_sums, share_weight_sums in results:
            center_sums += share_center_sums
            weight_in_clusters += share_weight_sums
        return changed, center_sums, weight_in_clusters

    def _buffers(self, share):
        """Scratch arrays of the thread that runs ``share``, kept across steps."""
        if share not in self._scratch:
            rows = min(self.reader.block_rows, share[1] - share[0])
            dtype = self.X.dtype
            self._scratch[share] = {
                "block": self.reader.buffer(rows),
                "products": np.empty((rows, self.n_clusters), dtype),
                "terms": np.empty((rows, self.n_sum_columns), dtype),
                "sorted": np.empty((rows, self.n_sum_columns), dtype),
            }
        return self._scratch[share]

    def _share(self, share, centers, center_sq_norms, labels, update):
        """One OpenMP thread's share of rows: (changed, center_sums, weight_sums)."""
        buffers = self._buffers(share)
        K, n_features = centers.shape
        dtype = centers.dtype
        kernels = self.kernels
        if kernels is not None:
            center_sums = np.zeros((K, n_features), dtype=dtype)
            weight_sums = np.zeros(K, dtype=dtype)
            no_weight = np.empty(0, dtype=dtype)
        else:
            sums = np.zeros((K, self.n_sum_columns), dtype=dtype)
            counts = np.zeros(K, dtype=np.int64) if self.counts_only else None
        changed = False
        certified = self.certified  # (implies the compiled kernels)
        if certified:
            # (the norms' own rounding is far below this margin)
            center_sq_bound = float(center_sq_norms.max()) * (1 + 1e-6)
            certified = np.isfinite(center_sq_bound)
            changed_flag = np.zeros(1, dtype=np.int32)
        X, offset = self.X, self.reader.offset
        for a in range(share[0], share[1], self.reader.block_rows):
            rows = slice(a, min(a + self.reader.block_rows, share[1]))
            weight = None if self.weight is None else self.weight[rows]
            if certified and not kernels.lloyd_step(
                X[rows], offset, weight, centers, center_sq_bound, labels[rows], center_sums, weight_sums,
                update, changed_flag, buffers,
            ):  # fmt: skip
                continue  # every row's label certain: labelled and summed
            block = self.reader.block(rows.start, rows.stop, buffers["block"])
            products = buffers["products"][: len(block)]
            np.matmul(block, centers.T, out=products)
            if kernels is not None:
                changed |= kernels.assign_and_sum(
                    block,
                    no_weight if weight is None else weight,
                    products,
                    center_sq_norms,
                    labels[rows],
                    center_sums,
                    weight_sums,
                    weight is not None,
                    update,
                )
                continue
            # sklearn's gemm: |c|^2 + (-2) x.c (the factor 2 is exact)
            products *= -2
            products += center_sq_norms
            block_labels = np.argmin(products, axis=1)
            if not changed and not np.array_equal(labels[rows], block_labels):
                changed = True
            labels[rows] = block_labels
            if update:
                terms = self._terms(block, weight, buffers["terms"][: len(block)])
                _add_in_row_order(terms, block_labels, sums, counts, buffers["sorted"][: len(block)])
        if certified:
            changed |= bool(changed_flag[0])
        if not update:
            return changed, None, None
        if kernels is None:
            weight_sums = sums[:, n_features] if counts is None else counts.astype(dtype)
            center_sums = sums[:, :n_features]
        return changed, center_sums, weight_sums

    def _terms(self, block, weight, out):
        """What the numpy path sums per cluster: the weighted rows, then the weights (if summed)."""
        n_features = block.shape[1]
        if weight is None:
            if self.n_sum_columns == n_features:
                return block
            out[:, :n_features] = block
            out[:, n_features] = 1
        else:
            np.multiply(block, weight[:, np.newaxis], out=out[:, :n_features])
            out[:, n_features] = weight
        return out

    def relocate_empty_clusters(self, centers_old, center_sums, weight_in_clusters, labels):
        """sklearn's ``_relocate_empty_clusters_dense``, in place on the sums and weights.

        Each empty cluster takes one of the rows farthest from their centres
        (the same ``argpartition`` of the same distances); labels stay.
        """
        empty_clusters = np.flatnonzero(weight_in_clusters == 0)
        n_empty = len(empty_clusters)
        if n_empty == 0:
            return
        distances = np.empty(self.X.shape[0], dtype=self.X.dtype)
        buffer = self.reader.buffer(self.X.shape[0])
        for rows, block in self.reader.blocks(0, self.X.shape[0], buffer):
            distances[rows] = ((block - centers_old[labels[rows]]) ** 2).sum(axis=1)
        far_from_centers = np.argpartition(distances, -n_empty)[: -n_empty - 1 : -1]
        if np.max(distances) == 0:
            # more clusters than distinct rows: relocating is pointless
            return
        one = np.ones(1, dtype=self.X.dtype)[0]
        for new_cluster_id, far_idx in zip(empty_clusters, far_from_centers):
            weight = one if self.weight is None else self.weight[far_idx]
            old_cluster_id = labels[far_idx]
            weighted_row = self.reader.rows(far_idx) * weight
            center_sums[old_cluster_id] -= weighted_row
            center_sums[new_cluster_id] = weighted_row
            weight_in_clusters[new_cluster_id] = weight
            weight_in_clusters[old_cluster_id] -= weight


def _add_in_row_order(terms, labels, sums, counts, sorted_buffer):
    """``sums[labels[i]] += terms[i]`` for i in order, as a loop over rows adds them.

    Rows are grouped by label (a stable sort keeps their order); the running
    sum of each cluster is added to the first row of its group, and numpy
    sums a group of two or more columns down each column one row after
    another.  ``counts`` (or None) gets the size of each group.
    """
    n_clusters = len(sums)
    # numpy sorts integers of 16 bits or less by radix
    small = np.int8 if n_clusters <= 127 else np.int16 if n_clusters < 2**15 else np.intp
    order = np.argsort(labels.astype(small), kind="stable")
    group_sizes = np.bincount(labels, minlength=n_clusters)
    np.take(terms, order, axis=0, out=sorted_buffer)
    start = 0
    for j in np.flatnonzero(group_sizes):
        stop = start + group_sizes[j]
        sorted_buffer[start] += sums[j]
        np.sum(sorted_buffer[start:stop], axis=0, out=sums[j])
        start = stop
    if counts is not None:
        counts += group_sizes


def _average_centers(center_sums, weight_in_clusters):
    """sklearn's ``_average_centers``: the centres from their sums."""
    # 1 / w in double, then rounded to the float type, as the C code does
    with np.errstate(divide="ignore"):  # empty clusters: not used
        alpha = (1.0 / weight_in_clusters.astype(np.float64)).astype(center_sums.dtype)
    if np.all(weight_in_clusters > 0):
        return center_sums * alpha[:, np.newaxis]
    centers = center_sums.copy()
    argmax_weight = np.argmax(weight_in_clusters)
    for j in range(len(centers)):
        if weight_in_clusters[j] > 0:
            centers[j] *= alpha[j]
        else:
            # as sklearn: the biggest cluster's row as it stands at this point
            # of the loop (already averaged or not)
            centers[j] = centers[argmax_weight]
    return centers


def _center_shift(centers_old, centers_new):
    """Shift of each centre, summed as ``_euclidean_dense_dense`` (four features at a time)."""
    squares = (centers_new - centers_old) ** 2
    n_features = squares.shape[1]
    total = np.zeros(len(squares), dtype=squares.dtype)
    for k in range(0, n_features - 3, 4):
        total += squares[:, k] + squares[:, k + 1] + squares[:, k + 2] + squares[:, k + 3]
    for k in range(n_features - n_features % 4, n_features):
        total += squares[:, k]
    return np.sqrt(total)

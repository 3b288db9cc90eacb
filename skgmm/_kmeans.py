"""k-means for the default start: scikit-learn's ``KMeans(n_init=1)``, blocked, without a copy of X.

:func:`kmeans` gives the labels of ``sklearn.cluster.KMeans(n_clusters,
n_init=1, random_state=random_state).fit(X, sample_weight=sample_weight)``
(Lloyd's algorithm, ``max_iter=300``, ``tol=1e-4``) and leaves the random
state as KMeans leaves it; :func:`kmeans_plusplus` draws the seeds of
sklearn's ``_kmeans_plusplus``.  Equal labels need equal rounding, not just
the same algorithm, so every quantity that decides a seed, a label or a stop
comes from the same operations on the same values as in scikit-learn:

- KMeans works on a centred copy of X.  Here each block of rows is centred
  into a scratch buffer (``X[block] - mean``, the same subtraction), so the
  distances see the same values while X is neither copied nor written.
- Distances come from the same products, split by rows (an entry of a
  matrix product does not depend on the other rows): ``|c|^2 - 2 x.c`` in
  the Lloyd steps, ``max(0, -2 x.c + |c|^2 + |x|^2)`` in the seeding, upcast
  to float64 per block for float32 data as ``euclidean_distances`` does.
  Or, for float64 data with the C kernels, from direct distances
  ``|x - c|^2`` where no rounding of either library's can change the
  decision (:mod:`skgmm._kmeans_certified` for the seeding,
  ``skgmm/_ckernels/kmeans_lloyd.h`` for a Lloyd step's labels): a decision
  closer than that bound goes back to the products (the seeding as a whole;
  a Lloyd step one block of rows).
- Sums over all rows are formed in scikit-learn's order.  The seeding's
  potentials are BLAS products over vectors of all rows, as there (O(n)
  vectors: the closest distances and the ``2 + log K`` candidates').
  ``np.mean`` and ``np.var`` (the centring, the tolerance) and the
  cumulative sum that the draws search add down the rows one after another;
  so do the blocks here, each block's first row carrying the total so far.
  The new centres are sums per cluster in row order within each OpenMP
  thread's share of ``lloyd_iter_chunked_dense`` (contiguous runs of
  256-row chunks, OpenMP's static schedule), added up in thread order.
  These shares fix the order of summation only: the sums are the same on
  however many threads this module runs.

The loops after the products (the seeding's distances with their running
sums, a Lloyd step's first smallest distance and its sums per cluster, the
centring of a block, the column sums) run in C when skgmm was installed
with a C compiler (:mod:`skgmm._kmeans_kernels`); the numpy code gives the same
bits, its Lloyd steps about four times slower (each block is sorted by label
and each cluster's rows summed in order).

Where the equality rests on more than numpy's and sklearn's code:
OpenBLAS's matrix-vector product gives each thread whole outputs (so the
candidates' potentials do not depend on BLAS threads); the first float64
potential is summed on one BLAS thread and again on the caller's threads,
as sklearn sums it, only if a draw could land elsewhere (see
:func:`_draws_stand`).  Where it can fail: with more than two OpenMP
threads sklearn adds its threads' sums in the order they finish (here:
thread order); with a single feature ``np.var`` sums pairwise (here: in
order), so the tolerance may differ in its last bit; sklearn's thread count
is read from ``_openmp_effective_n_threads`` (an OpenMP
``threadpool_limits`` around the call is not seen).
"""

from __future__ import annotations

import functools
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skgmm import _kmeans_certified as _certified

# The Lloyd iterations live in skgmm/_kmeans_lloyd.py (they read this module's
# block reader, constants and kernels at call time).
from skgmm._kmeans_lloyd import (  # noqa: E402
    _average_centers,
    _center_shift,
    _Lloyd,
    _thread_shares,
)
from skgmm._kmeans_search import _draws_stand, _search_cumulative  # noqa: E402
from skgmm._kmeans_small import SMALL_ROWS, seed_small
from skgmm.covariance import kernels as _compiled
from skgmm.engine.threads import block_shares, map_groups, single_threaded_blas, split_evenly

#: Rows per block: the per-block calls cost little against the products, and
#: a block's buffers (rows, distances) stay in cache.
BLOCK_ROWS = 4096
#: ``CHUNK_SIZE`` of ``sklearn/cluster/_k_means_common.pyx``: the rows that
#: its OpenMP loop hands out at a time, and so the unit of the summation order.
SKLEARN_CHUNK_ROWS = 256
#: Entries of the seeding's cumulative sum per block (a sequential sum: only
#: the per-call overhead depends on it).
SEARCH_BLOCK = 65536
#: Data of fewer entries (rows x features) run on the calling thread only:
#: measured on 2 cores, threads paid from 100k x 16 (1.2x; 1.6x at 1e6 x 16)
#: but not at 40k x 16, 60k x 8 or 100k x 2.
THREADED_MIN_ENTRIES = 2**20
#: float64 seeds of more than SMALL_ROWS rows come from direct distances, every
#: decision checked against scikit-learn's rounding (:mod:`skgmm._kmeans_certified`),
#: where the C kernels were built; False: always the exact seeding (tests run both).
CERTIFIED = True


class KMeansResult(NamedTuple):
    """What :func:`kmeans` found."""

    labels: np.ndarray
    """Cluster of each row, shape (n_samples,), int32 (as ``KMeans.labels_``)."""
    centers: np.ndarray
    """Cluster centres, shape (n_clusters, n_features), X's dtype."""
    n_iter: int
    """Lloyd iterations run."""


def kmeans(X, sample_weight, n_clusters, random_state, *, init=None, max_iter=300, tol=1e-4, n_threads=None):
    """Lloyd's k-means from k-means++ seeds, as ``KMeans(n_init=1).fit`` (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64 or float32
        Read block by block, never written.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights (cast to X's dtype); None weighs rows equally.
    n_clusters : int
        At most ``n_samples``.
    random_state : RandomState
        Advanced exactly as ``KMeans.fit`` advances it.
    init : ndarray of shape (n_clusters, n_features) or None, default=None
        Initial centres (``KMeans(init=array)``), or None for k-means++ seeds.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean of the per-feature variances of X.
    n_threads : int or None, default=None
        Threads to run on (None: as many as scikit-learn's OpenMP loops);
        one for data of fewer than ``THREADED_MIN_ENTRIES`` entries.  The
        result does not depend on it.

    Returns
    -------
    result : KMeansResult
    """
    X = np.asarray(X)
    n_samples = X.shape[0]
    _check_n_clusters(n_samples, n_clusters)
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=X.dtype)
    # KMeans subtracts the mean "for more accurate distance computations".
    mean = _column_mean(X)
    tol = _tolerance(X, mean, tol)
    sklearn_threads = _sklearn_threads()
    with _Threads(_thread_count(X, n_threads)) as runner:
        if init is None:
            indices = kmeans_plusplus(X, weight, n_clusters, random_state, offset=mean, runner=runner)
            centers = X[indices] - mean
        else:
            centers = np.asarray(init, dtype=X.dtype) - mean
        lloyd = _Lloyd(X, mean, weight, n_clusters, _thread_shares(n_samples, sklearn_threads))
        labels = np.full(n_samples, -1, dtype=np.int32)
        with single_threaded_blas:
            centers, n_iter = _lloyd_iterations(runner, lloyd, centers, labels, max_iter, tol)

    n_distinct = np.count_nonzero(np.bincount(labels, minlength=n_clusters))
    if n_distinct < n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters ({n_clusters}). "
            "Possibly due to duplicate points in X.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return KMeansResult(labels=labels, centers=centers + mean, n_iter=n_iter)


def _lloyd_iterations(runner, lloyd, centers, labels, max_iter, tol):
    """``_kmeans_single_lloyd``'s loop: the final centres and the iterations run; labels in place."""
    strict_convergence = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        changed, center_sums, weight_in_clusters = lloyd.step(runner, centers, labels)
        lloyd.relocate_empty_clusters(centers, center_sums, weight_in_clusters, labels)
        new_centers = _average_centers(center_sums, weight_in_clusters)
        center_shift = _center_shift(centers, new_centers)
        centers = new_centers
        if not changed:
            strict_convergence = True
            break
        if (center_shift**2).sum() <= tol:
            break
    if not strict_convergence:
        # as KMeans: the labels of the last centres
        lloyd.step(runner, centers, labels, update=False)
    return centers, n_iter


def kmeans_plusplus(
    X, sample_weight, n_clusters, random_state, *, offset=None, n_local_trials=None, runner=None
):
    """Row indices of k-means++ seeds, drawn as scikit-learn's ``_kmeans_plusplus``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64 or float32
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights (cast to X's dtype); None weighs rows equally.
    n_clusters : int
    random_state : RandomState
    offset : ndarray of shape (n_features,) or None, default=None
        Seeds are drawn on the rows ``X - offset`` (KMeans seeds its centred
        copy; the public ``sklearn.cluster.kmeans_plusplus`` seeds X itself).
    n_local_trials : int or None, default=None
        Candidates per seed after the first; None: ``2 + int(log(n_clusters))``.
    runner : _Threads or None, default=None
        Threads for the passes over the rows (None: as :func:`kmeans` chooses).

    Returns
    -------
    indices : ndarray of shape (n_clusters,), intp
    """
    X = np.asarray(X)
    n_samples = X.shape[0]
    _check_n_clusters(n_samples, n_clusters)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    if X.dtype == np.float64 and n_samples <= SMALL_ROWS:
        return seed_small(X, sample_weight, n_clusters, random_state, offset, n_local_trials)
    if runner is None:
        with _Threads(_thread_count(X, None)) as runner:
            return kmeans_plusplus(
                X,
                sample_weight,
                n_clusters,
                random_state,
                offset=offset,
                n_local_trials=n_local_trials,
                runner=runner,
            )
    kernels = _kernels()
    # (small data: the exact seeding on one array costs less than these passes' calls)
    certified = X.dtype == np.float64 and n_samples > SMALL_ROWS and X.shape[1] <= _certified.MAX_FEATURES
    if CERTIFIED and certified and kernels is not None:
        state = random_state.get_state()
        indices = _certified.seed(
            X, sample_weight, n_clusters, random_state, offset, n_local_trials, kernels,
            runner,
        )  # fmt: skip
        if indices is not None:
            return indices
        random_state.set_state(state)  # a decision too close to call: the exact seeding below
    # The potentials are products with these very weights (sklearn's ones).
    unweighted = sample_weight is None
    weight = np.ones(n_samples, X.dtype) if unweighted else np.asarray(sample_weight, X.dtype)
    search_weight = None if unweighted else weight
    seeding = _Seeding(X, offset, n_local_trials, search_weight)
    shares = block_shares(n_samples, runner.n_threads, BLOCK_ROWS)

    indices = np.full(n_clusters, -1, dtype=np.intp)
    indices[0] = random_state.choice(n_samples, p=weight / weight.sum())
    closest = np.empty(n_samples, dtype=X.dtype)
    first = seeding.reader.rows(indices[:1])
    # The potentials are products over all rows, formed by BLAS as in sklearn.
    # A long dot product's rounding depends on how many threads share it
    # (OpenBLAS splits float64 ones of more than 10**4 terms, not float32
    # ones), and on a busy machine waking BLAS threads costs more than the
    # rest of the seeding.  So the first float64 potential is taken on one
    # thread, and again on the caller's threads (as sklearn takes it) only if
    # the draws it scales could land elsewhere under another order of
    # summation (see _draws_stand).  The other products run on one thread.
    float64 = X.dtype == np.float64
    with single_threaded_blas:
        runner(functools.partial(seeding.distances, centers=first, closest=closest, out=None), shares)
        if float64:
            current_pot = closest[np.newaxis, :] @ weight
    if not float64:
        current_pot = closest[np.newaxis, :] @ weight

    def draw(current_pot, known_sums, first_draw):
        uniform = random_state.uniform(size=n_local_trials)
        rand_vals = uniform * current_pot
        candidate_ids, below, above = _search_cumulative(search_weight, closest, rand_vals, *known_sums)
        if first_draw and float64 and not _draws_stand(uniform, current_pot, below, above, n_samples):
            rand_vals = uniform * (closest[np.newaxis, :] @ weight)
            candidate_ids, _, _ = _search_cumulative(search_weight, closest, rand_vals, *known_sums)
        # sklearn: "numerical imprecision can result in a candidate_id out of range"
        return np.clip(candidate_ids, None, n_samples - 1, out=candidate_ids)

    if n_clusters > 1:
        candidate_ids = draw(current_pot, seeding.known_sums(0), first_draw=True)
    candidate_dist = np.empty((n_local_trials, n_samples), dtype=X.dtype)
    best = 0
    with single_threaded_blas:
        for c in range(1, n_clusters):
            if c > 1:
                candidate_ids = draw(current_pot, seeding.known_sums(best), first_draw=False)
            candidates = seeding.reader.rows(candidate_ids)
            runner(
                functools.partial(seeding.distances, centers=candidates, closest=closest, out=candidate_dist),
                shares,
            )
            # Matrix times vector: OpenBLAS gives each thread whole outputs, so
            # one thread gives the same bits.
            candidates_pot = candidate_dist @ weight.reshape(-1, 1)
            best = np.argmin(candidates_pot)
            current_pot = candidates_pot[best]
            closest[:] = candidate_dist[best]
            indices[c] = candidate_ids[best]
    return indices


def _check_n_clusters(n_samples, n_clusters):
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={n_clusters} >= 1.")


# -- rows of X ---------------------------------------------------------------


class _BlockReader:
    """Blocks of ``X - offset`` (or of X itself), C-contiguous."""

    def __init__(self, X, offset, block_rows=None):
        self.X = X
        self.offset = offset
        self.block_rows = BLOCK_ROWS if block_rows is None else block_rows
        self.kernels = _kernels()

    def rows(self, indices):
        """Rows ``indices`` of ``X - offset``, a C-contiguous array."""
        rows = np.ascontiguousarray(self.X[indices])
        return rows if self.offset is None else rows - self.offset

    def buffer(self, n_rows, dtype=None):
        """A scratch array for blocks of at most ``n_rows`` rows (of X's type, or ``dtype``)."""
        shape = (min(self.block_rows, n_rows), self.X.shape[1])
        return np.empty(shape, self.X.dtype if dtype is None else dtype)

    def blocks(self, start, stop, buffer, copy=False):
        """``(slice, block)`` for consecutive blocks of rows ``start:stop``.

        A block is a view of X where it can be (no offset, C-contiguous rows,
        not ``copy``, ``buffer`` of X's type); otherwise it is written into
        ``buffer``.  A float64 buffer for float32 rows gets the float32
        differences, upcast.
        """
        for a in range(start, stop, self.block_rows):
            b = min(a + self.block_rows, stop)
            yield slice(a, b), self.block(a, b, buffer, copy)

    def block(self, a, b, buffer, copy=False):
        """Rows ``a:b`` of ``X - offset``, as :meth:`blocks` gives them."""
        X, offset = self.X, self.offset
        rows = X[a:b]
        block = buffer[: b - a]
        if offset is None:
            if buffer.dtype == X.dtype and not copy and rows.flags.c_contiguous:
                return rows
            np.copyto(block, rows)
        elif self.kernels is not None:
            self.kernels.subtract_rows(rows, offset, block)
        elif buffer.dtype == X.dtype:
            np.subtract(rows, offset, out=block)
        else:
            np.copyto(block, rows - offset)
        return block


def _column_mean(X):
    """``X.mean(axis=0)`` as on a C-contiguous copy of X (KMeans makes one).

    numpy adds down the columns of a C-ordered array one row after another
    (a single column, pairwise); other layouts are summed in that order too,
    by the compiled loop or block by block, the first row of a block
    carrying the total so far.
    """
    n_samples, n_features = X.shape
    kernels = _kernels()
    if n_features == 1 or (X.flags.c_contiguous and kernels is None):
        return X.mean(axis=0)
    total = np.empty(n_features, X.dtype)
    if kernels is not None:
        kernels.column_sums(X, total, False, total)
        return _divide_as_numpy(total, n_samples)
    reader = _BlockReader(X, None)
    for rows, block in reader.blocks(0, n_samples, reader.buffer(n_samples), copy=True):
        if rows.start > 0:
            block[0] += total
        total = block.sum(axis=0)
    return _divide_as_numpy(total, n_samples)


def _tolerance(X, mean, tol):
    """``np.mean(np.var(X, axis=0)) * tol`` (sklearn's ``_tolerance``) without a copy of X.

    ``np.var`` sums the squared deviations down each column row after row
    (see :func:`_column_mean`); so do the compiled loop and the blocks here.
    """
    if tol == 0:
        return 0
    n_samples, n_features = X.shape
    kernels = _kernels()
    total = np.empty(n_features, X.dtype)
    if kernels is not None:
        kernels.column_sums(X, mean, True, total)
    else:
        reader = _BlockReader(X, mean)
        for rows, block in reader.blocks(0, n_samples, reader.buffer(n_samples)):
            np.square(block, out=block)
            if rows.start > 0:
                block[0] += total
            total = block.sum(axis=0)
    return np.mean(_divide_as_numpy(total, n_samples)) * tol


def _divide_as_numpy(total, count):
    """``total / count`` as ``np.mean`` and ``np.var`` divide (in float64, rounded to total's type)."""
    return np.true_divide(total, np.intp(count), out=total, casting="unsafe")


# -- the seeding ---------------------------------------------------------------


class _Seeding:
    """Distances of blocks of rows to a few rows, as sklearn's ``_euclidean_distances``."""

    def __init__(self, X, offset, n_local_trials, weight):
        self.reader = _BlockReader(X, offset)
        self.n_local_trials = n_local_trials
        self.weight = weight
        self.upcast = X.dtype == np.float32
        # Compiled path: the running sums of weight * distance at the end of
        # each block of the first share (rows from 0 on, in order), one row
        # per centre of the last pass; see _search_cumulative.
        self.block_ends = None
        self.running_sums = None
        # float64: the rows' squared norms (sklearn's x_squared_norms), from the
        # first pass on; float32: recomputed per block in float64 (sklearn
        # ignores float32 norms and upcasts blocks of rows).
        self.row_sq_norms = None if self.upcast else np.empty(X.shape[0], X.dtype)
        self.kernels = _kernels()
        self._scratch: dict = {}

    def _buffers(self, share):
        if share not in self._scratch:
            rows = min(self.reader.block_rows, share[1] - share[0])
            buffers = {
                # float32 rows are read as float64 (their float32 differences, upcast)
                "block": self.reader.buffer(rows, np.float64),
                "products": np.empty(self.n_local_trials * rows, np.float64),
            }
            if self.upcast:
                buffers["row_sq_norms"] = np.empty(rows, np.float64)
                buffers["distances"] = np.empty(self.n_local_trials * rows, np.float32)
            self._scratch[share] = buffers
        return self._scratch[share]

    def distances(self, share, centers, closest, out):
        """Squared distances of rows ``share`` to ``centers``.

        With ``out`` None (the first seed) they are written into ``closest``,
        else their minimum with ``closest`` into ``out[:, rows]``.
        """
        buffers = self._buffers(share)
        n_centers = len(centers)
        if self.upcast:
            centers = centers.astype(np.float64)
        center_sq_norms = np.einsum("ij,ij->i", centers, centers)
        running = np.zeros(n_centers, dtype=closest.dtype)
        block_ends, running_sums = [], []
        unit = running[:0]
        for rows, block in self.reader.blocks(*share, buffers["block"]):
            m = len(block)
            products = buffers["products"][: n_centers * m].reshape(n_centers, m)
            if self.upcast:
                row_sq_norms = np.einsum("ij,ij->i", block, block, out=buffers["row_sq_norms"][:m])
                np.matmul(centers, block.T, out=products)
            else:
                if out is None:
                    np.einsum("ij,ij->i", block, block, out=self.row_sq_norms[rows])
                row_sq_norms = self.row_sq_norms[rows]
                np.matmul(centers, block.T, out=products)
            if self.kernels is not None:
                self.kernels.seed_distances(
                    products,
                    center_sq_norms,
                    row_sq_norms,
                    closest[rows],
                    closest[np.newaxis, rows] if out is None else out[:, rows],
                    out is not None,
                    unit if self.weight is None else self.weight[rows],
                    self.weight is not None,
                    running,
                )
                block_ends.append(rows.stop)
                running_sums.append(running.copy())
                continue
            products *= -2
            products += center_sq_norms[:, np.newaxis]
            products += row_sq_norms
            distances = products
            if self.upcast:
                distances = buffers["distances"][: n_centers * m].reshape(n_centers, m)
                np.copyto(distances, products, casting="same_kind")
            np.maximum(distances, 0, out=distances)
            if out is None:
                closest[rows] = distances[0]
            else:
                np.minimum(closest[rows], distances, out=out[:, rows])
        if share[0] == 0 and block_ends:
            self.block_ends = np.array(block_ends)
            self.running_sums = np.array(running_sums).T

    def known_sums(self, center):
        """(block ends, running sums there) of ``weight * closest`` if ``closest`` became ``center``'s row."""
        if self.block_ends is None:
            return None, None
        return self.block_ends, self.running_sums[center]


def _sklearn_threads():
    """The number of OpenMP threads of KMeans, which fixes its order of summation."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()


# -- threads and compiled kernels ------------------------------------------------


def _thread_count(X, n_threads):
    """Threads for passes over X: ``n_threads`` (None: sklearn's count), one for small X."""
    if X.size < THREADED_MIN_ENTRIES:
        return 1
    return _sklearn_threads() if n_threads is None else max(1, int(n_threads))


class _Threads:
    """``runner(fn, items) == [fn(item) for item in items]``, the items spread over threads.

    The engine's pool runs the groups (the calling thread runs the first);
    callers hold BLAS to one thread meanwhile: its threads only add wake-ups
    to block-sized products.
    """

    def __init__(self, n_threads):
        self.n_threads = max(1, n_threads)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def __call__(self, fn, items):
        groups = split_evenly(list(items), min(self.n_threads, len(items)))
        if len(groups) <= 1:
            return [fn(item) for item in items]
        return [
            result
            for group in map_groups(lambda group: [fn(item) for item in group], groups)
            for result in group
        ]


def _kernels():
    """The compiled loops (:mod:`skgmm._kmeans_kernels`), or None (not built, or switched off)."""
    return _compiled.kmeans_kernels()

"""Dask driver: EM over a row-chunked Dask array on whatever scheduler is active.

The estimator hands over here when ``X`` is a Dask collection, *before*
scikit-learn's input validation (which would silently compute the whole array
into the client).  The work runs on the scheduler Dask would use anyway: the
default ``distributed.Client`` if there is one, else the local threaded
scheduler.  Dask itself is imported only on this path.

One fit is:

1. ``persist`` X (and the weights) once, so that passes do not recompute it.
2. One *scan* pass that checks the data (finite values, non-negative weights),
   counts rows and weight, and draws the initialisation sample on the workers
   (the top keys of a random ordering per chunk, merged in a tree, so only the
   sample reaches the client).
3. Initialisation on that sample with the in-memory initialisers.
4. Per EM iteration, one task per chunk runs the engine's blocked pass
   (:func:`skgmm._drivers.em_pass`, hence :func:`skgmm._em.block_em_stats`) and
   returns :class:`~skgmm._stats.SufficientStats` centred on the current means;
   a tree of :func:`~skgmm._stats.merge_stats` sums them on the workers, one
   ``compute`` brings the small total back, and :func:`~skgmm._em.m_step` runs
   on the client.  Nothing of size ``n_samples`` leaves the workers.

Post-fit methods map the same kernel over the chunks lazily.
"""

from __future__ import annotations

import functools
import uuid
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from skgmm._callbacks import monitor_for
from skgmm._covariance import get_covariance_model
from skgmm._degenerate import (
    EmptyComponentGuard,
    FeatureMoments,
    block_moments,
    check_feature_scale,
    merge_moments,
    summarise_moments,
)
from skgmm._drivers import BlockRunner, choose_block_size, em_pass, estimate_log_prob_resp
from skgmm._em import prepare_pass
from skgmm._stats import merge_stats

#: Rows drawn (uniformly among rows of positive weight) for the 'kmeans',
#: 'k-means++' and 'random' initialisations of a Dask fit.
INIT_SAMPLE_SIZE = 100_000
#: Fan-in of the reduction trees (statistics and init samples).
SPLIT_EVERY = 8

_MISSING_DASK = (
    "Fitting or predicting on Dask collections needs the optional dependencies "
    "dask[array] and distributed. Install them with: pip install 'skgmm[dask]'"
)


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a Dask collection (duck-typed: Dask is not imported)."""
    return not isinstance(X, type) and callable(getattr(X, "__dask_graph__", None))


def _import_dask():
    """``(dask, dask.array)``, or an ImportError naming the ``dask`` extra."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised only without dask
        raise ImportError(_MISSING_DASK) from exc
    return dask, da


# -- input ------------------------------------------------------------------
def _as_dask_array(estimator, X, reset):
    """A 2-D float Dask array with one column chunk; sets/checks feature names.

    ``validate_data(..., skip_check_array=True)`` records or checks
    ``n_features_in_`` and ``feature_names_in_`` from the shape and columns only.
    """
    _, da = _import_dask()
    if getattr(X, "ndim", 2) != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead. Reshape your data "
            "either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample."
        )
    # A Dask DataFrame's empty pandas ``_meta`` carries its columns: feature
    # names are recorded or checked without touching the data.
    validate_data(estimator, X if isinstance(X, da.Array) else X._meta, reset=reset, skip_check_array=True)
    if not isinstance(X, da.Array):
        if not hasattr(X, "to_dask_array"):
            raise TypeError(f"Expected a Dask array or Dask DataFrame, got {type(X).__name__}.")
        X = X.to_dask_array()
    if X.dtype not in (np.float64, np.float32):
        X = X.astype(np.float64)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _as_dask_weights(sample_weight, X, da):
    """Weights as a 1-D Dask array chunked like the rows of ``X`` (or None)."""
    if sample_weight is None:
        return None
    if is_dask_collection(sample_weight):
        if not isinstance(sample_weight, da.Array):
            sample_weight = sample_weight.to_dask_array(lengths=True)
    elif np.ndim(sample_weight) == 0:
        sample_weight = da.full(X.shape[0], sample_weight, chunks=(X.chunks[0],))
    else:
        sample_weight = np.asarray(sample_weight)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != X.shape[0]:
        raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected ({X.shape[0]},)!")
    if isinstance(sample_weight, np.ndarray):
        sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    sample_weight = sample_weight.astype(X.dtype)
    if sample_weight.chunks[0] != X.chunks[0]:
        sample_weight = sample_weight.rechunk((X.chunks[0],))
    return sample_weight


def _chunk_delayed(array):
    """One ``Delayed`` per row chunk of a persisted array (None stays None)."""
    if array is None:
        return None
    return list(array.to_delayed().ravel())


def _tree_reduce(dask, parts, combine):
    """Sum ``parts`` (Delayed) with ``combine`` in a tree of fan-in SPLIT_EVERY."""
    while len(parts) > 1:
        parts = [
            dask.delayed(combine, pure=True)(parts[start : start + SPLIT_EVERY])
            for start in range(0, len(parts), SPLIT_EVERY)
        ]
    return parts[0]


# -- scan pass: checks, counts and the initialisation sample -----------------
class ScanSummary(NamedTuple):
    """What the scan pass reduces: counts plus the best-keyed rows per sample.

    ``samples`` holds one ``(keys, rows, weights)`` triple per requested sample,
    sorted by decreasing key; the rows with the largest keys form the sample.
    """

    n_rows: int
    weight_sum: float
    n_positive: int
    sample_size: int
    samples: tuple
    moments: FeatureMoments  # for the data-scale checks of skgmm._degenerate


def _top(keys, rows, weights, size):
    if len(keys) > size:
        take = np.argpartition(-keys, size - 1)[:size]
        keys, rows, weights = keys[take], rows[take], weights[take]
    order = np.argsort(-keys, kind="stable")
    return keys[order], rows[order], weights[order]


def _scan_chunk(X_chunk, weight_chunk, seed, n_samples, sample_size, by_weight, n_total=None):
    """Check a chunk and draw its candidates for every requested sample.

    A row's key is ``log(u) / w`` (``u`` uniform, ``w`` its weight) when
    drawing by weight, else ``log(u)``: the rows with the largest keys over all
    chunks are a draw without replacement, by weight or uniform
    (Efraimidis & Spirakis, 2006).  Rows of weight zero are never drawn.

    For a uniform draw over all ``n_total`` rows, a chunk holds on average
    ``mu = sample_size * n_rows / n_total`` of the sample, and it sends at most
    ``2 mu + 64`` candidates (more than 8 standard deviations above ``mu``), not
    ``sample_size``: at 1e10 rows in 2,500 chunks this cuts what the scan moves
    from 32 GB to 50 MB, and changes the sample with probability below 1e-15.
    """
    if not np.isfinite(X_chunk).all():
        raise ValueError(
            "Input X contains NaN or infinity. Missing values (NaN) are supported for NumPy "
            "input only: compute the Dask array (X.compute()) if it fits in memory, or impute "
            "or drop the incomplete rows first."
        )
    n_rows = X_chunk.shape[0]
    if weight_chunk is None:
        weight = np.ones(n_rows, dtype=np.float64)
    else:
        weight = np.asarray(weight_chunk, dtype=np.float64)
        if not np.isfinite(weight).all():
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if (weight < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
    rng = np.random.default_rng(seed)
    positive = weight > 0
    candidates = sample_size
    if n_total is not None:
        candidates = min(sample_size, 2 * int(np.ceil(sample_size * n_rows / n_total)) + 64)
    samples = []
    for _ in range(n_samples):
        keys = np.log(rng.random(n_rows))
        if by_weight:
            with np.errstate(divide="ignore"):
                keys = keys / weight
        keys[~positive] = -np.inf
        samples.append(_top(keys, X_chunk, weight, candidates))
    moments = block_moments(X_chunk, None if weight_chunk is None else weight)
    return ScanSummary(n_rows, float(weight.sum()), int(positive.sum()), sample_size, tuple(samples), moments)


def _merge_scans(parts):
    size = parts[0].sample_size
    samples = []
    for i in range(len(parts[0].samples)):
        triples = [part.samples[i] for part in parts]
        samples.append(_top(*(np.concatenate(column) for column in zip(*triples)), size))
    return ScanSummary(
        sum(part.n_rows for part in parts),
        float(sum(part.weight_sum for part in parts)),
        sum(part.n_positive for part in parts),
        size,
        tuple(samples),
        functools.reduce(merge_moments, (part.moments for part in parts)),
    )


# -- EM pass -------------------------------------------------------------------
def _chunk_em_stats(X_chunk, weight_chunk, pk):
    """Statistics of one chunk, processed in cache-sized blocks by the engine."""
    n_rows, n_features = X_chunk.shape
    if n_rows == 0:
        return None
    n_components = pk.log_weights.shape[0]
    block_size = choose_block_size(n_rows, n_components, n_features)
    # Dask already runs one task per worker thread: no threads inside a task.
    with BlockRunner(n_rows, block_size, n_threads=1) as runner:
        return em_pass(runner, X_chunk, weight_chunk, pk)


def _merge_chunk_stats(parts):
    """Merge statistics in chunk order (all share the pass's shift)."""
    total = None
    for part in parts:
        if part is not None:
            total = part if total is None else merge_stats(total, part)
    return total


class _DaskPass:
    """Builds and computes one EM pass over persisted chunks.

    The per-pass graph is written as a task dict (one task per chunk, then a
    merge tree of fan-in SPLIT_EVERY) rather than through ``dask.delayed``,
    whose per-call cost (about 0.5 ms) would add seconds per iteration on the
    client at thousands of chunks.
    """

    def __init__(self, dask, X, sample_weight):
        from dask.core import flatten

        self.dask = dask
        self.X = X
        self.sample_weight = sample_weight
        self.X_keys = list(flatten(X.__dask_keys__()))
        self.weight_keys = (
            [None] * len(self.X_keys)
            if sample_weight is None
            else list(flatten(sample_weight.__dask_keys__()))
        )

    def __call__(self, pk):
        from dask.delayed import Delayed
        from dask.highlevelgraph import HighLevelGraph

        name = f"skgmm-em-pass-{uuid.uuid4().hex}"
        pk_node = self.dask.delayed(pk, traverse=False)
        tasks = {}
        level = []
        for i, (X_key, weight_key) in enumerate(zip(self.X_keys, self.weight_keys)):
            tasks[(name, 0, i)] = (_chunk_em_stats, X_key, weight_key, pk_node.key)
            level.append((name, 0, i))
        depth = 0
        while len(level) > 1:
            depth += 1
            groups = [level[start : start + SPLIT_EVERY] for start in range(0, len(level), SPLIT_EVERY)]
            level = []
            for j, group in enumerate(groups):
                tasks[(name, depth, j)] = (_merge_chunk_stats, group)
                level.append((name, depth, j))
        dependencies = [self.X, pk_node] + ([] if self.sample_weight is None else [self.sample_weight])
        graph = HighLevelGraph.from_collections(name, tasks, dependencies=dependencies)
        (stats,) = self.dask.compute(Delayed(level[0], graph, layer=name))
        return stats


# -- fit -------------------------------------------------------------------------
def fit_predict(estimator, X, sample_weight=None):
    """Fit ``estimator`` on a Dask array or DataFrame; return lazy labels.

    Parameters
    ----------
    estimator : GaussianMixtureEM
        Its hyper-parameters are already validated.
    X : dask.array.Array of shape (n_samples, n_features) or dask DataFrame
        Training data, chunked by rows.
    sample_weight : dask.array.Array or array-like of shape (n_samples,), default=None
        Row weights; rechunked like the rows of ``X`` if they differ.

    Returns
    -------
    labels : dask.array.Array of shape (n_samples,)
        Lazy component labels of ``X`` (also stored as ``labels_``).
    """
    dask, da = _import_dask()
    X_source = X
    X = _as_dask_array(estimator, X, reset=True)
    X = X.persist()
    if any(np.isnan(size) for size in X.chunks[0]):
        X.compute_chunk_sizes()  # cheap on persisted chunks (DataFrame input)
    sample_weight = _as_dask_weights(sample_weight, X, da)
    if sample_weight is not None:
        sample_weight = sample_weight.persist()

    n_samples, n_features = X.shape
    K = estimator.n_components
    if n_samples < 2:
        raise ValueError(f"Found array with {n_samples} sample(s) while a minimum of 2 is required.")
    if n_samples < K:
        raise ValueError(
            f"Expected n_samples >= n_components but got n_components = {K}, n_samples = {n_samples}"
        )
    model = get_covariance_model(estimator.covariance_type)
    inits = estimator._check_initial_parameters(model, n_features)
    do_init = not (estimator.warm_start and hasattr(estimator, "converged_"))
    n_init = estimator.n_init if do_init else 0  # 0: continue from the fitted model
    random_state = check_random_state(estimator.random_state)
    monitor = monitor_for(estimator.verbose, estimator.verbose_interval)

    # Tasks run one per worker thread; on the local threaded scheduler they run
    # in this process, where BLAS threads would oversubscribe the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        X_chunks = _chunk_delayed(X)
        weight_chunks = _chunk_delayed(sample_weight)
        need_init = do_init and any(value is None for value in inits.values())
        init_params = estimator.init_params if need_init else None
        scan = _scan(dask, X_chunks, weight_chunks, init_params, n_init, K, random_state, n_samples)
        _, variance, spread = summarise_moments(scan.moments)
        check_feature_scale(variance, spread, n_samples, X.dtype, estimator.reg_covar)
        guard = DaskEmptyComponentGuard(
            dask, X, sample_weight, model, estimator.reg_covar, variance, scan.weight_sum, K
        )
        if sample_weight is not None and scan.n_positive < K:
            raise ValueError(
                f"sample_weight has {scan.n_positive} positive entries but n_components = "
                f"{K}: each component needs data. Give positive weight to "
                "more samples or decrease n_components."
            )

        def start(init):
            # The initialisers run in memory on the sample drawn by the scan pass
            # (nothing is drawn when every *_init is given: only X.dtype is read).
            _, rows, weights = scan.samples[init % len(scan.samples)] if scan.samples else (None, X, None)
            runner = None if not scan.samples else _SampleRunner(rows)
            weights = None if sample_weight is None else weights
            return estimator._initial_params(runner, rows, weights, model, inits, random_state)

        run_pass = _DaskPass(dask, X, sample_weight)
        estimator._fit_best(
            start,
            lambda p: run_pass(prepare_pass(model, p, X.dtype)),
            model,
            n_init,
            monitor,
            X.dtype,
            guard,
        )
    # Lazy, and built on the caller's collection rather than on the persisted
    # copy, so that the fitted model does not pin X in the cluster's memory.
    estimator.labels_ = estimate(estimator, X_source, "labels")
    return estimator.labels_


class _SampleRunner(BlockRunner):
    """A single-threaded block runner over the in-memory initialisation sample."""

    def __init__(self, rows):
        n_rows, n_features = rows.shape
        super().__init__(n_rows, choose_block_size(n_rows, 1, n_features), n_threads=1)


def _scan(dask, X_chunks, weight_chunks, init_params, n_init, n_components, random_state, n_total):
    """Run the scan pass: checks, counts, and the sample(s) ``init_params`` needs.

    'random_from_data' draws ``n_components`` rows by weight from all of X for
    every initialisation; the other methods share one uniform sample of up to
    :data:`INIT_SAMPLE_SIZE` rows of positive weight (kept with their weights).
    """
    if init_params is None:
        n_samples, sample_size, by_weight = 0, 1, False
    elif init_params == "random_from_data":
        n_samples, sample_size, by_weight = n_init, n_components, True
    else:
        n_samples, sample_size, by_weight = 1, INIT_SAMPLE_SIZE, False
    seeds = random_state.randint(np.iinfo(np.int32).max, size=len(X_chunks))
    scan_chunk = dask.delayed(_scan_chunk, pure=True)
    # The cap on candidates per chunk holds for uniform draws over all rows.
    cap_total = n_total if weight_chunks is None and not by_weight else None
    weight_chunks = weight_chunks or [None] * len(X_chunks)
    parts = [
        scan_chunk(X, w, int(seed), n_samples, sample_size, by_weight, cap_total)
        for X, w, seed in zip(X_chunks, weight_chunks, seeds)
    ]
    (scan,) = dask.compute(_tree_reduce(dask, parts, _merge_scans))
    # Rows of weight zero fill a sample only when too few rows have weight.
    samples = tuple((k[k > -np.inf], r[k > -np.inf], w[k > -np.inf]) for k, r, w in scan.samples)
    return scan._replace(samples=samples)


# -- empty components ------------------------------------------------------------
class DaskEmptyComponentGuard(EmptyComponentGuard):
    """:class:`~skgmm._degenerate.EmptyComponentGuard` over persisted Dask chunks.

    What the guard needs from the data is computed on the workers, and only
    when a component has lost its data:

    * the worst-explained rows: each chunk sends its ``n_components + 8``
      worst rows (with their global index, so ties break as on NumPy input)
      and the client merges them;
    * whether the data has at least ``n_components`` distinct rows: each chunk
      sends at most that many of its distinct rows (once per fit).
    """

    def __init__(self, dask, X, sample_weight, model, reg_covar, data_variance, weight_total, n_components):
        self.dask = dask
        self.X_chunks = _chunk_delayed(X)
        self.weight_chunks = _chunk_delayed(sample_weight) or [None] * len(self.X_chunks)
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
        self.dtype = X.dtype
        self.model = model
        self.reg_covar = reg_covar
        self.data_variance = data_variance
        self.weight_total = float(weight_total)
        self.n_components = n_components
        self.reseeded: set[int] = set()

    @property
    def n_distinct(self):
        """The number of distinct rows if below ``n_components``, else None (enough)."""
        if not hasattr(self, "_n_distinct_below"):
            limit = self.n_components
            distinct = self.dask.delayed(_chunk_distinct_rows, pure=True)
            with threadpool_limits(limits=1, user_api="blas"):
                parts = self.dask.compute(*(distinct(X, w, limit) for X, w in zip(self.X_chunks, self.weight_chunks)))
            count = len(np.unique(np.concatenate(parts), axis=0))
            # Below the limit every chunk sent all its distinct rows: the count is exact.
            self._n_distinct_below = count if count < limit else None
        return self._n_distinct_below

    def worst_rows(self, params):
        pk = prepare_pass(self.model, params, self.dtype)
        n_candidates = len(params.weights) + 8
        worst = self.dask.delayed(_chunk_worst_rows, pure=True)
        parts = [
            worst(X, w, pk, int(offset), n_candidates)
            for X, w, offset in zip(self.X_chunks, self.weight_chunks, self.offsets)
        ]
        with threadpool_limits(limits=1, user_api="blas"):
            parts = self.dask.compute(*parts)
        log_prob, index, rows = (np.concatenate(column) for column in zip(*parts))
        for position in np.lexsort((index, log_prob)):
            yield tuple(rows[position])


def _chunk_distinct_rows(X_chunk, weight_chunk, limit):
    """At most ``limit`` distinct rows of positive weight of a chunk."""
    rows = np.asarray(X_chunk, np.float64)
    if weight_chunk is not None:
        rows = rows[np.asarray(weight_chunk) > 0]
    return np.unique(rows, axis=0)[:limit]


def _chunk_worst_rows(X_chunk, weight_chunk, pk, offset, n_candidates):
    """The ``n_candidates`` rows of a chunk with the lowest finite log-likelihood."""
    log_prob = np.asarray(_estimate_chunk(X_chunk, pk, None), np.float64)
    usable = np.isfinite(log_prob)
    if weight_chunk is not None:
        usable &= np.asarray(weight_chunk) > 0
    candidates = np.flatnonzero(usable)
    chosen = candidates[np.lexsort((candidates, log_prob[candidates]))[:n_candidates]]
    return log_prob[chosen], chosen + offset, np.asarray(X_chunk[chosen], np.float64)


# -- inference -------------------------------------------------------------------
def _estimate_chunk(X_chunk, pk, want):
    """Per-row results of one chunk: labels, probabilities or log-likelihoods."""
    n_rows, n_features = X_chunk.shape
    n_components = pk.log_weights.shape[0]
    block_size = max(1, choose_block_size(n_rows, n_components, n_features))
    kind = "log_resp" if want == "proba" else want
    with BlockRunner(n_rows, block_size, n_threads=1) as runner:
        log_prob_norm, extra = estimate_log_prob_resp(runner, X_chunk, pk, want=kind)
    if want is None:
        return log_prob_norm
    if want == "proba":
        return np.exp(extra, out=extra)
    return extra


def estimate(estimator, X, want):
    """Lazy per-row results for a Dask input, one task per row chunk.

    Parameters
    ----------
    estimator : GaussianMixtureEM
        A fitted mixture.
    X : dask.array.Array of shape (n_samples, n_features) or dask DataFrame
    want : {'labels', 'proba', None}
        Labels, posterior probabilities, or per-row log-likelihoods (None).

    Returns
    -------
    result : dask.array.Array
        Of shape (n_samples,) or (n_samples, n_components), chunked like the rows of ``X``.
    """
    dask, _ = _import_dask()
    check_is_fitted(estimator)
    X = _as_dask_array(estimator, X, reset=False)
    dtype = np.result_type(X.dtype, estimator.means_.dtype)
    X = X.astype(dtype)
    model = get_covariance_model(estimator.covariance_type)
    pk = dask.delayed(prepare_pass(model, estimator._fitted_params(dtype), dtype), traverse=False)
    if want == "labels":
        return X.map_blocks(_estimate_chunk, pk, want, drop_axis=1, dtype=np.intp, meta=np.empty(0, np.intp))
    if want == "proba":
        chunks = (X.chunks[0], (estimator.n_components,))
        return X.map_blocks(
            _estimate_chunk, pk, want, chunks=chunks, dtype=dtype, meta=np.empty((0, 0), dtype)
        )
    return X.map_blocks(_estimate_chunk, pk, None, drop_axis=1, dtype=dtype, meta=np.empty(0, dtype))


def score(estimator, X, sample_weight=None):
    """Weighted mean log-likelihood of a Dask input, as a float (one compute)."""
    dask, da = _import_dask()
    log_prob = estimate(estimator, X, None).astype(np.float64)
    if sample_weight is None:
        return float(log_prob.mean().compute())
    if any(np.isnan(size) for size in log_prob.chunks[0]):
        log_prob = log_prob.persist()
        log_prob.compute_chunk_sizes()
    weight = _as_dask_weights(sample_weight, log_prob[:, None], da).astype(np.float64)
    total, weight_sum = dask.compute((log_prob * weight).sum(), weight.sum())
    return float(total / weight_sum)

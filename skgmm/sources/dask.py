"""Dask collections as a data source: EM over row chunks on whatever scheduler is active.

:func:`skgmm.sources.open_source` hands over here when ``X`` is a Dask collection, *before*
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
4. Per EM iteration, one task per chunk runs the pass of the in-memory source
   (:class:`~skgmm.sources.memory.InMemorySource`) and returns
   :class:`~skgmm.engine.stats.SufficientStats` centred on the current means;
   a tree of :func:`~skgmm.engine.stats.merge_stats` sums them on the workers,
   one ``compute`` brings the small total back, and the M-step runs on the
   client.  Nothing of size ``n_samples`` leaves the workers.

Post-fit methods map the in-memory source's E-step over the chunks lazily, so
rows with NaN are marginalised and infinite values raise, as on NumPy input.
"""

from __future__ import annotations

import functools
import uuid
from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import validate_data

from skgmm.engine.degenerate import FeatureMoments, block_moments, merge_moments, summarise_moments
from skgmm.engine.stats import merge_stats
from skgmm.engine.threads import single_threaded_blas
from skgmm.sources.base import DataSource
from skgmm.sources.memory import InMemorySource
from skgmm.sources.missing import MissingValuesSource, has_missing

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
    moments: FeatureMoments  # for the data-scale checks of skgmm.engine.degenerate


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
def _chunk_em_stats(X_chunk, weight_chunk, model, params, n_components, origin=None):
    """Statistics of one chunk, processed in cache-sized blocks by the engine."""
    if X_chunk.shape[0] == 0:
        return None
    # Dask already runs one task per worker thread: no threads inside a task.
    with InMemorySource(X_chunk, weight_chunk, n_components, n_threads=1) as source:
        source.origin = origin  # the whole data's mean, as for NumPy input
        return source.em_pass(model, params)


def _chunk_em_stats_of(X_chunk, weight_chunk, arguments):
    return _chunk_em_stats(X_chunk, weight_chunk, *arguments)


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

    def __call__(self, model, params, origin=None):
        from dask.delayed import Delayed
        from dask.highlevelgraph import HighLevelGraph

        name = f"skgmm-em-pass-{uuid.uuid4().hex}"
        pk_node = self.dask.delayed((model, params, len(params.weights), origin), traverse=False)
        tasks = {}
        level = []
        for i, (X_key, weight_key) in enumerate(zip(self.X_keys, self.weight_keys)):
            tasks[(name, 0, i)] = (_chunk_em_stats_of, X_key, weight_key, pk_node.key)
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


def _chunk_distinct_rows(X_chunk, weight_chunk, limit):
    """At most ``limit`` distinct rows of positive weight of a chunk."""
    rows = np.asarray(X_chunk, np.float64)
    if weight_chunk is not None:
        rows = rows[np.asarray(weight_chunk) > 0]
    return np.unique(rows, axis=0)[:limit]


def _chunk_worst_rows(X_chunk, weight_chunk, model, params, offset, n_candidates):
    """The ``n_candidates`` rows of a chunk with the lowest finite log-likelihood."""
    log_prob = np.asarray(_estimate_chunk(X_chunk, model, params, None), np.float64)
    usable = np.isfinite(log_prob)
    if weight_chunk is not None:
        usable &= np.asarray(weight_chunk) > 0
    candidates = np.flatnonzero(usable)
    chosen = candidates[np.lexsort((candidates, log_prob[candidates]))[:n_candidates]]
    return log_prob[chosen], chosen + offset, np.asarray(X_chunk[chosen], np.float64)


def _estimate_chunk(X_chunk, model, params, want):
    """Per-row results of one chunk, by the in-memory source NumPy input would get."""
    if np.isinf(X_chunk).any():
        raise ValueError(
            f"Input X contains infinity or a value too large for dtype({X_chunk.dtype.name!r}). "
            "NaN entries are missing values; infinite ones are not supported."
        )
    n_components = len(params.weights)
    if has_missing(X_chunk):
        source = MissingValuesSource(X_chunk, None, n_components, model, n_threads=1, n_required=0)
    else:
        source = InMemorySource(X_chunk, None, n_components, n_threads=1)
    with source:
        return source.estimate(model, params, want)


def _check_chunk_weights(weight_chunk):
    weight = np.asarray(weight_chunk, dtype=np.float64)
    if not np.isfinite(weight).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (weight < 0).any():
        raise ValueError(
            f"Negative values in data passed to `sample_weight` (minimum {weight.min():g}): weights "
            "count how many times each row is seen, so they must be >= 0. Use 0 to ignore a row."
        )
    return weight


def _weighted_log_prob_sums(X_chunk, weight_chunk, model, params):
    log_prob = np.asarray(_estimate_chunk(X_chunk, model, params, None), np.float64)
    if weight_chunk is None:
        return np.array([log_prob.sum(), float(len(log_prob))])
    weight = _check_chunk_weights(weight_chunk)
    return np.array([weight @ log_prob, weight.sum()])


class DaskSource(DataSource):
    """A row-chunked Dask array or DataFrame, on whatever scheduler is active.

    Parameters
    ----------
    estimator : GaussianMixtureEM
        Records (``fit=True``) or checks the feature names and count.
    X : dask.array.Array or dask DataFrame of shape (n_samples, n_features)
    sample_weight : dask.array.Array or array-like of shape (n_samples,) or None
    n_components : int
    fit : bool
        Whether the source feeds a fit: then X is persisted on entry.
    dtype : numpy dtype or None
        The dtype to compute in (a fitted model's, for predictions).
    """

    def __init__(self, estimator, X, sample_weight, n_components, fit, reset=None, dtype=None):
        self.dask, self.da = _import_dask()
        X = _as_dask_array(estimator, X, reset=fit if reset is None else reset)
        self.n_samples = X.shape[0]  # nan for a DataFrame until persisted
        if dtype is not None:
            X = X.astype(np.result_type(X.dtype, dtype))
        self.X = X
        self.dtype = X.dtype
        self.n_features = X.shape[1]
        self.n_components = n_components
        self.fit = fit
        self.sample_weight = sample_weight
        self._scan = None
        self._n_distinct_below = -1
        self.origin = None

    def __enter__(self):
        if self.fit:
            X = self.X.persist()
            if any(np.isnan(size) for size in X.chunks[0]):
                X.compute_chunk_sizes()  # cheap on persisted chunks (DataFrame input)
            self.X = X
            self.sample_weight = _as_dask_weights(self.sample_weight, X, self.da)
            if self.sample_weight is not None:
                self.sample_weight = self.sample_weight.persist()
            self.n_samples = X.shape[0]
            if self.n_samples < 2:
                raise ValueError(
                    f"Found array with {self.n_samples} sample(s) while a minimum of 2 is required."
                )
            self._X_chunks = _chunk_delayed(X)
            self._weight_chunks = _chunk_delayed(self.sample_weight) or [None] * len(self._X_chunks)
            self._pass = _DaskPass(self.dask, X, self.sample_weight)
        # Tasks run one per worker thread; on the local threaded scheduler they run
        # in this process, where BLAS threads would oversubscribe the cores.
        single_threaded_blas.__enter__()
        return self

    def __exit__(self, *exc_info):
        return single_threaded_blas.__exit__(*exc_info)

    # -- fitting ------------------------------------------------------------
    def prepare_starts(self, init_params, n_init, random_state):
        """The scan pass: checks, counts, moments, and the samples the initialisers see."""
        weights = None if self.sample_weight is None else self._weight_chunks
        self._scan = _scan(
            self.dask,
            self._X_chunks,
            weights,
            init_params,
            n_init,
            self.n_components,
            random_state,
            self.n_samples,
        )
        self.n_rows = self.n_samples
        self.weight_total = self._scan.weight_sum
        if self.sample_weight is not None and self._scan.n_positive < self.n_components:
            raise ValueError(
                f"sample_weight has {self._scan.n_positive} positive entries but n_components = "
                f"{self.n_components}: each component needs data. Give positive weight to "
                "more samples or decrease n_components."
            )

    def feature_moments(self):
        mean, variance, spread = summarise_moments(self._scan.moments)
        if np.all(np.isfinite(mean)):
            self.origin = mean
        return mean, variance, spread

    def init_source(self, init):
        # The initialisers run in memory on the sample drawn by the scan pass.
        _, rows, weights = self._scan.samples[init % len(self._scan.samples)]
        weights = None if self.sample_weight is None else weights.astype(self.dtype)
        return InMemorySource(np.asarray(rows, self.dtype), weights, self.n_components, n_threads=1)

    def em_pass(self, model, params):
        return self._pass(model, params, self.origin)

    def n_distinct(self, limit):
        if self._n_distinct_below == -1:
            distinct = self.dask.delayed(_chunk_distinct_rows, pure=True)
            parts = self.dask.compute(
                *(distinct(X, w, limit) for X, w in zip(self._X_chunks, self._weight_chunks))
            )
            count = len(np.unique(np.concatenate(parts), axis=0))
            # Below the limit every chunk sent all its distinct rows: the count is exact.
            self._n_distinct_below = count if count < limit else None
        return self._n_distinct_below

    def worst_rows(self, model, params):
        # Each chunk sends its n_components + 8 worst rows, with their global
        # index so that ties break as on NumPy input.
        offsets = np.concatenate([[0], np.cumsum(self.X.chunks[0])[:-1]]).astype(int)
        n_candidates = len(params.weights) + 8
        worst = self.dask.delayed(_chunk_worst_rows, pure=True)
        parts = [
            worst(X, w, model, params, int(offset), n_candidates)
            for X, w, offset in zip(self._X_chunks, self._weight_chunks, offsets)
        ]
        parts = self.dask.compute(*parts)
        log_prob, index, rows = (np.concatenate(column) for column in zip(*parts))
        for position in np.lexsort((index, log_prob)):
            yield tuple(rows[position])

    # -- inference ------------------------------------------------------------
    def estimate(self, model, params, want):
        """Lazy per-row results, one task per row chunk (``want`` as the protocol says)."""
        X = self.X
        meta_args = (model, params, want)
        if want == "labels":
            return X.map_blocks(
                _estimate_chunk, *meta_args, drop_axis=1, dtype=np.intp, meta=np.empty(0, np.intp)
            )
        if want == "proba":
            chunks = (X.chunks[0], (len(params.weights),))
            return X.map_blocks(
                _estimate_chunk,
                *meta_args,
                chunks=chunks,
                dtype=self.dtype,
                meta=np.empty((0, 0), self.dtype),
            )
        return X.map_blocks(
            _estimate_chunk, model, params, None, drop_axis=1, dtype=self.dtype, meta=np.empty(0, self.dtype)
        )

    def score(self, model, params, sample_weight):
        """Weighted mean log-likelihood, as a float (one compute)."""
        X = self.X
        if sample_weight is not None and any(np.isnan(size) for size in X.chunks[0]):
            X = X.persist()
            X.compute_chunk_sizes()
        weights = _as_dask_weights(sample_weight, X, self.da)
        parts = [
            self.dask.delayed(_weighted_log_prob_sums, pure=True)(x, w, model, params)
            for x, w in zip(_chunk_delayed(X), _chunk_delayed(weights) or [None] * X.numblocks[0])
        ]
        total, weight_sum = np.sum(self.dask.compute(*parts), axis=0)
        if not weight_sum > 0:
            raise ValueError("sample_weight sums to 0: the weighted mean log-likelihood is not defined.")
        return float(total / weight_sum)

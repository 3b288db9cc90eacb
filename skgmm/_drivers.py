"""Drivers: feed row blocks to the EM engine and reduce what comes back.

A pass splits the rows into blocks sized to stay in cache, gives contiguous
runs of blocks to worker threads (BLAS limited to one thread each, which on
tall-skinny products beats BLAS's own threading), and merges the per-block
sufficient statistics in a fixed order, so results do not depend on timing.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from skgmm._covariance import exp_above_floor, log_normalise_rows
from skgmm._em import (
    MixtureParams,
    PassKernel,
    block_em_stats,  # noqa: F401  (re-exported for drivers built on this module)
    block_resp_stats,  # noqa: F401  (re-exported)
    estimate_weighted_log_prob,  # noqa: F401  (re-exported)
    group_em_stats,
    group_resp_stats,
    prepare_pass,
)
from skgmm._stats import SufficientStats, merge_stats

#: Elements of the largest per-block temporary (n_rows x n_components x
#: n_features for 'full'); 2**20 float64 values is 8 MiB.  Measured on a
#: 2-core Zen 4: blocks of 2k-8k rows beat L2-sized ones (fewer Python calls
#: per row; the products run at the same rate), 3640 rows beat 1820 at
#: d=K=16 for every covariance type (2-15 %).
BLOCK_ELEMENTS = 2**20
#: The same for float32 blocks (6 MiB): 5000-5500 rows at d=K=16 beat both
#: 3640 and 7300 by 5-10 %.
FLOAT32_BLOCK_ELEMENTS = 3 * 2**19
MIN_BLOCK_ROWS = 256


#: Passes smaller than this many elements of work run as one block in the
#: calling thread: handing a few milliseconds to a worker thread costs more
#: than it saves (and much more on a loaded machine).
SINGLE_BLOCK_ELEMENTS = 2**20


def choose_block_size(n_samples: int, n_components: int, n_features: int, dtype=None) -> int:
    """Rows per block so the block's temporaries stay within the cache budget.

    ``dtype`` is the data's floating type (None: float64).
    """
    per_row = n_components * (n_features + 2)
    if n_samples * per_row <= SINGLE_BLOCK_ELEMENTS:
        return int(n_samples)
    budget = BLOCK_ELEMENTS
    if dtype is not None and np.dtype(dtype).itemsize <= 4:
        budget = FLOAT32_BLOCK_ELEMENTS
    rows = max(MIN_BLOCK_ROWS, budget // per_row)
    if rows >= n_samples:
        return int(n_samples)
    # Blocks of (nearly) equal size: a short last block would otherwise need
    # scratch buffers of its own shape, and unbalances the threads.
    n_blocks = -(-n_samples // rows)
    return int(-(-n_samples // n_blocks))


def block_slices(n_samples: int, block_size: int) -> list[slice]:
    """Contiguous row slices of at most ``block_size`` rows."""
    return [slice(start, min(start + block_size, n_samples)) for start in range(0, n_samples, block_size)]


@functools.lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    # Finding the loaded libraries costs about a millisecond: do it once.
    return ThreadpoolController()


def _effective_n_threads() -> int:
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()


class BlockRunner:
    """Runs a function over row blocks, in parallel threads when it pays.

    Use as a context manager around a whole fit so the thread pool and the
    BLAS thread limit are set up once, not per pass.
    """

    def __init__(self, n_samples: int, block_size: int, n_threads: int | None = None):
        self.slices = block_slices(n_samples, block_size)
        n_threads = _effective_n_threads() if n_threads is None else n_threads
        self.n_threads = max(1, min(n_threads, len(self.slices)))
        self._stack = contextlib.ExitStack()
        self._executor = None
        self._work: dict = {}

    def __enter__(self):
        # Block-sized, tall-skinny products: BLAS's own threads only add
        # synchronisation (and collapse on a loaded machine).
        self._stack.enter_context(_blas_controller().limit(limits=1, user_api="blas"))
        if self.n_threads > 1:
            # the calling thread runs the first group itself (see _map)
            self._executor = self._stack.enter_context(ThreadPoolExecutor(self.n_threads - 1))
        return self

    def __exit__(self, *exc_info):
        self._executor = None
        self._work.clear()
        return self._stack.__exit__(*exc_info)

    def work_for(self, blocks: list[slice]) -> dict:
        """Scratch buffers of the thread that runs ``blocks``, kept for the runner's life."""
        return self._work.setdefault(blocks[0].start, {})

    def _groups(self) -> Iterator[list[slice]]:
        bounds = np.linspace(0, len(self.slices), self.n_threads + 1).round().astype(int)
        return [self.slices[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def _map(self, fn, groups) -> list:
        """``[fn(group) for group in groups]``, the groups run in parallel.

        The calling thread runs the first group while the workers run the
        others: handing every group to the pool let one worker take two
        groups in a row before the other woke up (measured: passes of a
        few milliseconds ran no faster on 2 threads than on 1).
        """
        if self._executor is None or len(groups) == 1:
            return [fn(group) for group in groups]
        futures = [self._executor.submit(fn, group) for group in groups[1:]]
        first = fn(groups[0])
        return [first] + [future.result() for future in futures]

    def reduce(self, block_fn: Callable[[slice], SufficientStats]) -> SufficientStats:
        """Apply ``block_fn`` to every block and merge the results in row order."""

        def run(group):
            result = block_fn(group[0])
            for block in group[1:]:
                result = merge_stats(result, block_fn(block))
            return result

        results = self._map(run, self._groups())
        total = results[0]
        for result in results[1:]:
            total = merge_stats(total, result)
        return total

    def reduce_groups(self, group_fn: Callable[[list[slice]], SufficientStats]) -> SufficientStats:
        """Apply ``group_fn`` to each thread's run of blocks; merge in row order."""
        results = self._map(group_fn, self._groups())
        total = results[0]
        for result in results[1:]:
            total = merge_stats(total, result)
        return total

    def for_each_group(self, group_fn: Callable[[list[slice]], None]) -> None:
        """Apply ``group_fn`` to each thread's run of blocks (it writes its own output)."""
        self._map(group_fn, self._groups())

    def for_each(self, block_fn: Callable[[slice], None]) -> None:
        """Apply ``block_fn`` to every block (it writes its own output)."""

        def run(group):
            for block in group:
                block_fn(block)

        self._map(run, self._groups())


def _weight_block(sample_weight, block):
    return None if sample_weight is None else sample_weight[block]


def em_pass(runner: BlockRunner, X, sample_weight, pk: PassKernel) -> SufficientStats:
    """One EM iteration's pass: log-likelihood and statistics of all rows."""
    return runner.reduce_groups(
        lambda blocks: group_em_stats(pk, X, sample_weight, blocks, work=runner.work_for(blocks))
    )


def resp_block(resp, block, n_components, dtype):
    """Dense responsibilities of a block from labels (one-hot; -1 = none) or an array."""
    if resp.ndim == 2:
        return resp[block]
    labels = resp[block]
    dense = np.zeros((len(labels), n_components), dtype=dtype)
    rows = np.flatnonzero(labels >= 0)
    dense[rows, labels[rows]] = 1
    return dense


def stats_from_resp(runner, X, sample_weight, resp, model, n_components) -> SufficientStats:
    """Statistics of given responsibilities, centred exactly on their means.

    Two passes: the first finds the means, the second centres on them.
    """
    n_features = X.shape[1]
    dtype = X.dtype
    identity = model.identity_precisions_cholesky(n_components, n_features, dtype)

    def run_pass(means):
        params = MixtureParams(np.ones(n_components), means, None, identity)
        pk = prepare_pass(model, params, dtype)
        return runner.reduce_groups(
            lambda blocks: group_resp_stats(
                pk,
                X,
                sample_weight,
                blocks,
                lambda block: resp_block(resp, block, n_components, dtype),
                work=runner.work_for(blocks),
            )
        )

    first = run_pass(np.zeros((n_components, n_features)))
    means = first.shift + first.resp_x_sum / np.maximum(first.resp_sum, np.finfo(np.float64).tiny)[:, None]
    return run_pass(means)


def _log_normalise_columns(log_prob):
    """Log-normaliser per column of (n_components, n_rows); normalises in place."""
    col_max = log_prob.max(axis=0)
    impossible = col_max == -np.inf  # no component can produce the row
    col_max[~np.isfinite(col_max)] = 0
    log_prob -= col_max
    log_norm = np.log(exp_above_floor(log_prob).sum(axis=0))
    log_prob -= log_norm
    log_norm += col_max
    log_norm[impossible] = -np.inf
    return log_norm


def estimate_log_prob_resp(runner, X, pk: PassKernel, want="log_resp"):
    """Per-row log-likelihood and, as asked, log-responsibilities or labels.

    Parameters
    ----------
    want : {'log_resp', 'labels', 'weighted_log_prob', None}

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
    extra : ndarray of shape (n_samples, n_components) or (n_samples,) or None
    """
    n_samples = X.shape[0]
    n_components = pk.log_weights.shape[0]
    log_prob_norm = np.empty(n_samples, dtype=X.dtype)
    if want in ("log_resp", "weighted_log_prob"):
        extra = np.empty((n_samples, n_components), dtype=X.dtype)
    elif want == "labels":
        extra = np.empty(n_samples, dtype=np.intp)
    else:
        extra = None

    def run(blocks):
        work = runner.work_for(blocks)
        for block in blocks:
            weighted = pk.model.weighted_log_prob_block(pk.kernel, X[block], pk.origin, pk.log_weights, work)
            if want == "weighted_log_prob":
                extra[block] = weighted
            if weighted.T.flags.c_contiguous:
                # component-major block: reduce over components along contiguous rows
                by_component = weighted.T
                if want == "labels":
                    extra[block] = by_component.argmax(axis=0)
                log_prob_norm[block] = _log_normalise_columns(by_component)
            else:
                if want == "labels":
                    extra[block] = weighted.argmax(axis=1)
                log_prob_norm[block], _ = log_normalise_rows(weighted)
            if want == "log_resp":
                extra[block] = weighted

    runner.for_each_group(run)
    return log_prob_norm, extra

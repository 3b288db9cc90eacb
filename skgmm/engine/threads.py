"""Row blocks and the threads that run them: one pool, one BLAS limiter.

A pass splits the rows into blocks sized to stay in cache and gives
contiguous runs of blocks to threads, with BLAS limited to one thread (on
tall-skinny products that beats BLAS's own threading).  Data that fits in one
block runs in the calling thread with no pool and no BLAS-limit call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

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
#: The budget never exceeds this fraction of the data's values (nor falls
#: below MIN_BUDGET_ELEMENTS), so that the threads' buffers stay a small share
#: of X on mid-sized data: at 100k x 16, K=8, 2**18 values per block ran as
#: fast as 2**20 for 'full', 'diag' and 'tied' and the default fit's extra
#: memory fell from 1.6 to 0.57 x X (benchmarks/RESULTS.md, run J).
BUDGET_SHARE_OF_DATA = 1 / 8
MIN_BUDGET_ELEMENTS = 2**18


def choose_block_size(n_samples: int, n_components: int, n_features: int, dtype=None) -> int:
    """Rows per block so the block's temporaries stay within the cache budget.

    ``dtype`` is the data's floating type (None: float64).
    """
    per_row = n_components * (n_features + 2)
    if n_samples * per_row <= SINGLE_BLOCK_ELEMENTS:
        return int(max(n_samples, 1))
    budget = BLOCK_ELEMENTS
    if dtype is not None and np.dtype(dtype).itemsize <= 4:
        budget = FLOAT32_BLOCK_ELEMENTS
    budget = min(budget, max(MIN_BUDGET_ELEMENTS, int(n_samples * n_features * BUDGET_SHARE_OF_DATA)))
    rows = max(MIN_BLOCK_ROWS, budget // per_row)
    if rows >= n_samples:
        return int(n_samples)
    # Blocks of (nearly) equal size: a short last block would otherwise need
    # scratch buffers of its own shape, and unbalances the threads.
    n_blocks = -(-n_samples // rows)
    return int(-(-n_samples // n_blocks))


def block_shares(n_samples: int, n_parts: int, block_rows: int) -> list[tuple[int, int]]:
    """``n_parts`` contiguous row ranges ``(start, stop)`` of (nearly) equal numbers of whole blocks."""
    n_blocks = -(-n_samples // block_rows)
    bounds = np.linspace(0, n_blocks, max(1, min(n_parts, n_blocks)) + 1).round().astype(int)
    return [(a * block_rows, min(b * block_rows, n_samples)) for a, b in zip(bounds[:-1], bounds[1:])]


def block_slices(n_samples: int, block_size: int) -> list[slice]:
    """Contiguous row slices of at most ``block_size`` rows."""
    return [slice(start, min(start + block_size, n_samples)) for start in range(0, n_samples, block_size)]


def effective_n_threads() -> int:
    """The threads scikit-learn would use (OMP_NUM_THREADS, cgroup CPU quota)."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    return _openmp_effective_n_threads()


class _SingleThreadedBlas:
    """A process-wide BLAS limit of one thread, reference counted.

    BLAS thread limits are global to the process.  The first holder saves the
    limits in force and sets one thread; the last one to leave restores what
    the first saw.  (A limit restored by each holder would leave BLAS at one
    thread for good when holders in several threads overlap.)
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._limit = None
        self._controller = None

    def __enter__(self):
        with self._lock:
            if self._holders == 0:
                if self._controller is None:
                    # Finding the loaded libraries costs about a millisecond: once.
                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._holders += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                limit, self._limit = self._limit, None
                limit.restore_original_limits()
        return False


#: Use as ``with single_threaded_blas: ...``.
single_threaded_blas = _SingleThreadedBlas()

_pool_lock = threading.Lock()
_pool: dict = {}


def _shared_pool(n_workers: int) -> ThreadPoolExecutor:
    """The process's pool for block work (grown when more workers are asked for)."""
    with _pool_lock:
        pool = _pool.get("executor")
        if pool is None or _pool["size"] < n_workers:
            pool = ThreadPoolExecutor(n_workers, thread_name_prefix="skgmm-blocks")
            _pool.update(executor=pool, size=n_workers)
        return pool


def map_groups(fn: Callable, groups: list) -> list:
    """``[fn(group) for group in groups]``, the groups run in parallel.

    The calling thread runs the first group while pool threads run the
    others: handing every group to the pool let one worker take two groups
    in a row before the other woke up (measured: passes of a few
    milliseconds ran no faster on 2 threads than on 1).
    """
    if len(groups) <= 1:
        return [fn(group) for group in groups]
    pool = _shared_pool(len(groups) - 1)
    futures = [pool.submit(fn, group) for group in groups[1:]]
    first = fn(groups[0])
    return [first] + [future.result() for future in futures]


def split_evenly(items: list, n_groups: int) -> list[list]:
    """``items`` in at most ``n_groups`` contiguous, nearly equal, non-empty runs."""
    if n_groups <= 1 or len(items) <= 1:  # one run: no linspace (tens of microseconds)
        return [items] if items else []
    bounds = np.linspace(0, len(items), max(1, n_groups) + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class BlockRunner:
    """Runs a function over row blocks, in parallel threads when there are several.

    Use as a context manager around a whole fit (or prediction): the BLAS
    limit is taken once, not per pass, and only when there is more than one
    block.  Each thread's run of blocks keeps its scratch buffers
    (:meth:`work_for`) for the runner's life.
    """

    def __init__(self, n_samples: int, block_size: int, n_threads: int | None = None):
        self.slices = block_slices(n_samples, block_size)
        if len(self.slices) == 1:
            n_threads = 1
        elif n_threads is None:
            n_threads = effective_n_threads()
        self.n_threads = max(1, min(n_threads, len(self.slices)))
        self.groups = split_evenly(self.slices, self.n_threads)
        self._work: dict = {}
        self._blas = None

    def __enter__(self):
        if len(self.slices) > 1:
            self._blas = single_threaded_blas.__enter__()
        return self

    def __exit__(self, *exc_info):
        self._work.clear()
        if self._blas is not None:
            self._blas, blas = None, self._blas
            blas.__exit__(*exc_info)
        return False

    def work_for(self, blocks: list[slice]) -> dict:
        """Scratch buffers of the thread that runs ``blocks``."""
        return self._work.setdefault(blocks[0].start, {})

    def map(self, group_fn: Callable[[list[slice]], object]) -> list:
        """``group_fn`` of each thread's run of blocks, in row order."""
        if self.n_threads == 1:
            return [group_fn(group) for group in self.groups]
        return map_groups(group_fn, self.groups)

"""Where the k-means++ draws land: searches of the weighted cumulative distances.

Part of :mod:`skgmm._kmeans`: the draws of scikit-learn's ``_kmeans_plusplus``
(``searchsorted`` on a stable cumulative sum), found block by block, and the
bound that says when a draw cannot depend on how the potential was summed.
"""

from __future__ import annotations

import numpy as np

from skgmm import _kmeans


def _search_cumulative(weight, closest, values, block_ends=None, running_sums=None):
    """``np.searchsorted(np.cumsum(weight * closest), values)`` without an n-sized temporary.

    The cumulative sum runs block by block, each block's first entry carrying
    the total so far (the same additions in the same order); the sum does
    not decrease, so a value's position is its count of smaller entries,
    added up over the blocks.  ``weight`` None stands for ones.  Given the
    sums at ``block_ends`` (the seeding kernel's, the same additions), only
    the block that holds a value is summed again, and the rows past the last
    block end.

    Returns
    -------
    positions : ndarray of shape (n_values,), intp
    below, above : ndarray of shape (n_values,), float64
        The cumulative sums on either side of each value (``below < value <=
        above``): at ``positions - 1`` and ``positions``, -inf and +inf past
        the ends.
    """
    if block_ends is None:
        return _search_rows(weight, closest, values, 0, None)
    positions = np.empty(len(values), dtype=np.intp)
    below = np.empty(len(values))
    above = np.empty(len(values))
    blocks = np.searchsorted(running_sums, values)
    for i in np.flatnonzero(blocks < len(block_ends)):
        b = blocks[i]
        start = block_ends[b - 1] if b else 0
        total = running_sums[b - 1] if b else None
        result = _search_rows(weight, closest, values[i : i + 1], start, total, stop=block_ends[b])
        positions[i], below[i], above[i] = (part[0] for part in result)
    past = blocks == len(block_ends)
    if past.any():
        result = _search_rows(weight, closest, values[past], block_ends[-1], running_sums[-1])
        positions[past], below[past], above[past] = result
    return positions, below, above


def _search_rows(weight, closest, values, start, total, stop=None):
    """:func:`_search_cumulative` over rows ``start:stop``, after a total of ``total`` (or None)."""
    stop = len(closest) if stop is None else stop
    positions = np.full(len(values), start, dtype=np.intp)
    below = np.full(len(values), -np.inf if total is None else total, dtype=np.float64)
    above = np.full(len(values), np.inf)
    pending = np.ones(len(values), dtype=bool)
    for first in range(start, stop, _kmeans.SEARCH_BLOCK):
        rows = slice(first, min(first + _kmeans.SEARCH_BLOCK, stop))
        running = closest[rows].copy() if weight is None else weight[rows] * closest[rows]
        if total is not None:
            running[0] += total
        np.cumsum(running, out=running)
        local = np.searchsorted(running, values)
        positions += local
        here = pending & (local < len(running))
        if here.any():
            above[here] = running[local[here]]
            previous = running[np.maximum(local[here] - 1, 0)]
            below[here] = np.where(local[here] > 0, previous, -np.inf if total is None else total)
            pending &= ~here
        total = running[-1]
    below[pending] = -np.inf if total is None else total
    return positions, below, above


def _draws_stand(uniform, potential, below, above, n_terms):
    """Whether ``uniform * p`` falls between the same cumulative sums for any sum ``p`` of the potential.

    Two orders of summation of ``n_terms`` non-negative float64 terms differ
    by at most ``(n_terms - 1) * eps`` times the sum: twice that is allowed.
    """
    margin = potential * (2 * n_terms * np.finfo(np.float64).eps)
    return bool(
        np.all(below < uniform * (potential - margin)) and np.all(uniform * (potential + margin) <= above)
    )


# -- Lloyd's steps -------------------------------------------------------------

"""k-means++ seeds of float64 data from direct distances, each decision checked against scikit-learn's rounding.

scikit-learn's ``_kmeans_plusplus`` forms each row's squared distance to a
candidate as ``|x|^2 - 2 x.c + |c|^2`` from matrix products, searches the
cumulative sum of the closest distances for its random draws and keeps the
candidate of the smallest potential.  Reproducing those bits
(:func:`skgmm._kmeans.kmeans_plusplus`'s exact seeding) means centring X and
forming the products again at every seed.  Here one compiled pass per seed
(:func:`skgmm._kmeans_kernels.seed_pass`) forms the distances directly,
``sum_k ((x_k - mean_k) - c_k)^2``, their minima and per-block sums, and a
draw is found by a search of one block.

The seeds are scikit-learn's because every decision is checked: a draw stands
only if it lies further from the two running sums around it, and the best
candidate only if its potential lies further below every other's, than the
two libraries' sums can differ by.  That bound is the forward error of each
side's arithmetic against exact distances, in the unit roundoff ``u``:

- a distance ``|x|^2 - 2 x.c + |c|^2`` (dot products of ``d`` terms in any
  order, then three additions) is within ``(2d + 5) u (|x|^2 + |c|^2)`` of
  the exact one, and ``sum_k (x_k - c_k)^2`` within ``(2d + 4) u (|x|^2 +
  |c|^2)``; a minimum moves no more than its arguments, and weights add one
  rounding; summed over the rows, ``(2d + 8) u (sum w |x|^2 + W max|c|^2)``
  bounds either side (``W`` the total weight, ``max|c|^2`` over every seed
  and candidate so far);
- a sum of ``n`` non-negative terms in any order (numpy's cumulative sum, a
  BLAS product, the blocks here) is within ``(n + 2) u`` of its value.

Where a decision is closer than twice that (ties, many repeated rows, a
draw on a boundary), :func:`seed` gives up and the caller seeds again
exactly from the same random state.  The random draws are the same calls
as scikit-learn's, so the state is left as it leaves it.
"""

from __future__ import annotations

import numpy as np

from skgmm.engine.threads import block_shares

#: Rows per block of the running sums: a draw's search reads one block.
BLOCK_ROWS = 2048
#: The most features seeded this way (wider rows: the exact seeding's
#: matrix products cost less than these loops).
MAX_FEATURES = 64
_U = np.finfo(np.float64).epsneg  # 2 ** -53, the unit roundoff


class _Uncertain(Exception):
    """A decision too close to call: scikit-learn's rounding could have made another."""


def seed(X, sample_weight, n_clusters, random_state, offset, n_local_trials, kernels, runner):
    """Row indices of scikit-learn's k-means++ seeds of ``X - offset``, or None where a decision is too close.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    sample_weight : ndarray of shape (n_samples,) or None
    n_clusters : int
    random_state : RandomState
        Advanced as scikit-learn advances it.  After None, its state is
        undefined: the caller restores it.
    offset : ndarray of shape (n_features,) or None
    n_local_trials : int
    kernels : module
        :mod:`skgmm._kmeans_kernels`.
    runner : callable
        ``runner(fn, shares)`` calls ``fn`` on each share of rows, maybe on
        several threads (:class:`skgmm._kmeans._Threads`).

    Returns
    -------
    indices : ndarray of shape (n_clusters,), intp, or None
    """
    try:
        return _Seeding(X, sample_weight, offset, kernels, runner).run(
            n_clusters, random_state, n_local_trials
        )
    except _Uncertain:
        return None


class _Seeding:
    def __init__(self, X, sample_weight, offset, kernels, runner):
        n_samples, n_features = X.shape
        self.X = X
        self.offset = np.zeros(n_features) if offset is None else np.asarray(offset, np.float64)
        self.weight = None if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.kernels = kernels
        self.runner = runner
        self.shares = block_shares(n_samples, runner.n_threads, BLOCK_ROWS)
        # touched here: fresh pages first written by two threads at once cost about 3 ms per
        # 100,000 rows on a 2-core VM (against 0.2 ms on one thread)
        self.closest = np.empty(n_samples)
        self.closest.fill(0.0)
        self.total_weight = float(n_samples if self.weight is None else self.weight.sum())
        # the bound's terms: (2d + 8) u and (n + 2) u; sum w |x|^2 comes with the first pass
        self.entry_unit = (2 * n_features + 8) * _U
        self.sum_unit = (n_samples + 2) * _U
        self.norm_sum = 0.0
        self.largest_center = 0.0

    def rows(self, indices):
        return self.X[indices] - self.offset

    def run(self, n_clusters, random_state, n_local_trials):
        n_samples = len(self.X)
        weight = np.ones(n_samples) if self.weight is None else self.weight
        indices = np.full(n_clusters, -1, dtype=np.intp)
        indices[0] = random_state.choice(n_samples, p=weight / weight.sum())
        best_row = self.rows(indices[:1])
        block_sums = self.first_pass(best_row)
        current_pot = float(block_sums.sum())
        update = None  # the seed that closest does not hold yet
        column = 0
        for c in range(1, n_clusters):
            rand_vals = random_state.uniform(size=n_local_trials) * current_pot
            candidate_ids = self.draw(rand_vals, block_sums[:, column], update)
            candidates = self.rows(candidate_ids)
            block_sums = self.candidate_pass(update, candidates)
            pots = block_sums.sum(axis=0)
            column = self.best(pots)
            current_pot = float(pots[column])
            indices[c] = candidate_ids[column]
            update = candidates[column]
        return indices

    def bound(self, value):
        """How far either library's sum of ``value`` can lie from the exact one (see the module docstring)."""
        return (
            self.entry_unit * (self.norm_sum + self.total_weight * self.largest_center)
            + self.sum_unit * value
        )

    def note_centers(self, centers):
        self.largest_center = max(self.largest_center, float(np.einsum("ij,ij->i", centers, centers).max()))

    def first_pass(self, first_row):
        self.note_centers(first_row)
        block_sums = np.empty((-(-len(self.X) // BLOCK_ROWS), 1))
        norm_sums = self.runner(
            lambda share: self._pass(share, None, first_row, True, block_sums), self.shares
        )
        self.norm_sum = float(sum(norm_sums))
        return block_sums

    def candidate_pass(self, update, candidates):
        self.note_centers(candidates)
        block_sums = np.empty((-(-len(self.X) // BLOCK_ROWS), len(candidates)))
        self.runner(lambda share: self._pass(share, update, candidates, False, block_sums), self.shares)
        return block_sums

    def _pass(self, share, update, centers, first, block_sums):
        a, b = share
        return self.kernels.seed_pass(
            self.X[a:b],
            self.offset,
            None if self.weight is None else self.weight[a:b],
            self.closest[a:b],
            update,
            centers,
            first,
            BLOCK_ROWS,
            block_sums[a // BLOCK_ROWS : -(-b // BLOCK_ROWS)],
        )

    def draw(self, rand_vals, block_sums, update):
        """The rows scikit-learn's search of its cumulative sum finds for ``rand_vals``, or _Uncertain."""
        n_samples = len(self.X)
        ends = np.cumsum(block_sums)
        blocks = np.searchsorted(ends, rand_vals)
        candidate_ids = np.empty(len(rand_vals), np.intp)
        below = np.empty(len(rand_vals))
        above = np.empty(len(rand_vals))
        for block in np.unique(blocks):
            chosen = blocks == block
            if block == len(ends):
                # past the end: scikit-learn clips its index to the last row
                candidate_ids[chosen], below[chosen], above[chosen] = n_samples - 1, ends[-1], np.inf
                continue
            start = 0.0 if block == 0 else ends[block - 1]
            a, b = block * BLOCK_ROWS, min((block + 1) * BLOCK_ROWS, n_samples)
            index, local_below, local_above = self.kernels.seed_search(
                self.X[a:b],
                self.offset,
                None if self.weight is None else self.weight[a:b],
                self.closest[a:b],
                update,
                rand_vals[chosen] - start,
            )
            if (index < 0).any():
                raise _Uncertain
            candidate_ids[chosen] = a + index
            below[chosen], above[chosen] = start + local_below, start + local_above
        margin_below = 2 * self.bound(rand_vals)
        margin_above = self.bound(rand_vals) + self.bound(np.minimum(above, np.finfo(np.float64).max))
        if not ((rand_vals - below > margin_below).all() and (above - rand_vals > margin_above).all()):
            raise _Uncertain
        return candidate_ids

    def best(self, pots):
        """scikit-learn's ``argmin`` of the candidates' potentials, or _Uncertain."""
        column = int(np.argmin(pots))
        others = np.delete(pots, column)
        if not (others - pots[column] > 2 * self.bound(others)).all():
            raise _Uncertain
        return column

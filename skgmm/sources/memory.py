"""In-memory arrays (NumPy, memory-mapped): blocks are row slices of ``X``."""

from __future__ import annotations

import numpy as np

from skgmm.engine import blocks
from skgmm.engine.degenerate import feature_variances
from skgmm.engine.logsumexp import impossible_rows
from skgmm.engine.mstep import prepare_pass
from skgmm.engine.threads import BlockRunner, choose_block_size
from skgmm.sources.base import DataSource


def check_estimable_rows(log_prob_norm) -> None:
    """Raise ValueError for rows that no component can produce (log-likelihood -inf).

    Their responsibilities (and so their label) are not defined: every
    component's density underflows, typically because the row lies about
    1e150 standard deviations (1e19 in float32) from every component.
    """
    rows = impossible_rows(log_prob_norm)
    if rows.size:
        raise ValueError(
            f"Rows {rows[:10].tolist()}{' ...' if rows.size > 10 else ''} are so far from every "
            "component that their density is 0 in floating point (score_samples gives -inf): "
            "their responsibilities and labels are not defined. Check these rows for "
            "unscaled or corrupted values, or scale the data before fitting."
        )


class InMemorySource(DataSource):
    """Complete rows of a validated in-memory array, fed in cache-sized row blocks.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        float64 or float32, validated, no NaN.
    sample_weight : ndarray of shape (n_samples,) or None
        Validated weights.
    n_components : int
        Sizes the blocks.
    n_threads : int or None, default=None
        Threads for block work (None: as many as scikit-learn would use;
        ``partial_fit`` batches use 1).
    """

    def __init__(self, X, sample_weight, n_components, n_threads=None):
        self.X = X
        self.sample_weight = sample_weight
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.n_components = n_components
        self.n_rows = self.n_samples
        self.weight_total = float(
            self.n_samples if sample_weight is None else sample_weight.sum(dtype=np.float64)
        )
        block_size = choose_block_size(self.n_samples, n_components, self.n_features, self.dtype)
        self.runner = BlockRunner(self.n_samples, block_size, n_threads)
        self._n_distinct = None
        #: What fitting passes centre the rows on (see prepare_pass): the data's
        #: mean once :meth:`feature_moments` has been asked for.
        self.origin = None

    def __enter__(self):
        self.runner.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.runner.__exit__(*exc_info)

    def feature_moments(self):
        mean, variance, spread = feature_variances(self.X, self.sample_weight)
        if np.all(np.isfinite(mean)):
            self.origin = mean
        return mean, variance, spread

    def init_source(self, init):
        return self

    def resp_stats(self, model, resp, n_components):
        return blocks.resp_stats(self.runner, self.X, self.sample_weight, resp, model, n_components)

    def em_pass(self, model, params):
        pk = prepare_pass(model, params, self.dtype, self.origin)
        return blocks.em_pass(self.runner, self.X, self.sample_weight, pk)

    def _estimate(self, model, params, want):
        """``(log_prob_norm, extra)`` of the E-step; ``want`` as in :func:`skgmm.engine.blocks.estimate`."""
        return blocks.estimate(self.runner, self.X, prepare_pass(model, params, self.dtype), want=want)

    def estimate(self, model, params, want):
        if want is None:
            return self._estimate(model, params, None)[0]
        log_prob_norm, extra = self._estimate(model, params, "labels" if want == "labels" else "log_resp")
        check_estimable_rows(log_prob_norm)
        if want == "proba":
            return np.exp(extra, out=extra)
        if want == "log_resp":
            return log_prob_norm, extra
        return extra

    def score(self, model, params, sample_weight):
        log_prob = self.estimate(model, params, None).astype(np.float64)
        return float(np.average(log_prob, weights=sample_weight))

    def worst_rows(self, model, params):
        log_prob = np.asarray(self.estimate(model, params, None), np.float64)
        # Rows that cannot carry a component (zero weight, no observed value) go last.
        log_prob = np.where(np.isnan(log_prob), np.inf, log_prob)
        if self.sample_weight is not None:
            log_prob = np.where(self.sample_weight > 0, log_prob, np.inf)
        for index in np.argsort(log_prob, kind="stable"):
            row = tuple(np.asarray(self.X[index], np.float64))
            if np.isfinite(log_prob[index]) and np.all(np.isfinite(row)):
                yield row

    def n_distinct(self, limit):
        if self._n_distinct is None:
            rows = self.X if self.sample_weight is None else self.X[self.sample_weight > 0]
            self._n_distinct = len(np.unique(rows, axis=0))
        return self._n_distinct if self._n_distinct < limit else None

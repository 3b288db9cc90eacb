"""Missing values (NaN): exact EM over the observed coordinates of each row.

This is the EM of Ghahramani & Jordan (1994, "Supervised learning from
incomplete data via an EM approach") for Gaussian mixtures, written as a
data source that returns the engine's ``SufficientStats``, so that the
M-step (``skgmm.engine.mstep.m_step``) is reused unchanged.  The maths of the
pattern groups is in ``skgmm.sources._patterns``.

* E-step: a row's responsibilities use the *marginal* density of its observed
  coordinates, ``N(x_o | mu_o, Sigma_oo)``.
* Statistics: the missing coordinates are replaced by their conditional
  expectation ``mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o)`` under each
  component, and the conditional covariance ``Sigma_mm - Sigma_mo Sigma_oo^-1
  Sigma_om`` is added to that component's scatter.  The sums are centred on the
  component means, as the engine's are.

For 'full' and 'tied' covariances rows are grouped by missingness pattern: the
factorisations of ``Sigma_oo`` are computed once per pattern and pass, and each
group is processed with batched matrix products, so the cost stays close to the
complete-data cost when patterns are few.  For 'diag' and 'spherical' the
coordinates are independent given the component, so no grouping is needed: the
missing coordinates simply drop out of the density and contribute their
variance to the scatter.  Complete rows always go through the engine's own
kernel (``skgmm.engine.blocks.em_stats``); rows with every value missing have
no observed density, get the mixture weights as responsibilities and are left
out of fitting.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from skgmm.covariance import CovarianceModel
from skgmm.engine import blocks
from skgmm.engine.logsumexp import normalise
from skgmm.engine.mstep import prepare_pass
from skgmm.engine.stats import merge_stats
from skgmm.engine.threads import map_groups, single_threaded_blas, split_evenly
from skgmm.sources._patterns import missing_unit_stats, prepare_missing_pass, unit_log_prob, uses_patterns
from skgmm.sources.memory import InMemorySource


def has_missing(X) -> bool:
    """Whether ``X`` holds a NaN, without an (n_samples, n_features) temporary.

    ``X`` has already been checked for infinities, so a finite sum means no NaN
    (an overflow to inf in the sum falls back to a blockwise check).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X)):
            return False
    step = max(1, 2**20 // max(1, X.shape[1]))
    return any(np.isnan(X[start : start + step]).any() for start in range(0, X.shape[0], step))


@dataclass(frozen=True)
class MissingLayout:
    """Where the missing values of one data set are, computed once per fit.

    Attributes
    ----------
    n_samples : int
    complete_units : list of (slice, ndarray or None)
        Row blocks holding complete rows, with the block-local indices of those
        rows (None when every row of the block is complete).
    missing_units : list of (int, ndarray)
        Groups of incomplete rows: a pattern index into ``observed`` (or -1 for
        'diag'/'spherical', where rows of any pattern are mixed) and the rows.
    observed : ndarray of shape (n_patterns, n_features), bool
        The observed coordinates of each pattern.
    empty_rows : ndarray of int
        Rows with no observed value.
    """

    n_samples: int
    complete_units: list
    missing_units: list
    observed: np.ndarray
    empty_rows: np.ndarray

    @classmethod
    def from_data(cls, X, model: CovarianceModel, block_size: int) -> MissingLayout:
        """Find the missing entries of ``X`` and group its incomplete rows."""
        n_samples, n_features = X.shape
        complete_units = []
        incomplete = []
        for start in range(0, n_samples, block_size):
            block = slice(start, min(start + block_size, n_samples))
            row_missing = np.isnan(X[block]).any(axis=1)
            if not row_missing.any():
                complete_units.append((block, None))
                continue
            local = np.flatnonzero(~row_missing)
            if local.size:
                complete_units.append((block, local))
            incomplete.append(start + np.flatnonzero(row_missing))
        rows = np.concatenate(incomplete) if incomplete else np.empty(0, np.intp)
        observed_rows = ~np.isnan(X[rows])
        nonempty = observed_rows.any(axis=1)
        empty_rows = rows[~nonempty]
        rows, observed_rows = rows[nonempty], observed_rows[nonempty]

        missing_units = []
        if uses_patterns(model) and rows.size:
            observed, inverse = np.unique(observed_rows, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(observed) + 1))
            for pattern in range(len(observed)):
                group = rows[order[bounds[pattern] : bounds[pattern + 1]]]
                for start in range(0, group.size, block_size):
                    missing_units.append((pattern, group[start : start + block_size]))
        else:
            observed = np.ones((0, n_features), dtype=bool)
            for start in range(0, rows.size, block_size):
                missing_units.append((-1, rows[start : start + block_size]))
        return cls(n_samples, complete_units, missing_units, observed, empty_rows)

    @property
    def n_nonempty(self) -> int:
        """Number of rows with at least one observed value."""
        return self.n_samples - self.empty_rows.size

    def initialisation_data(self, X, sample_weight):
        """Data for the initialisers (see :func:`initialisation_data`)."""
        return initialisation_data(X, sample_weight, self.empty_rows)


def initialisation_data(X, sample_weight, empty_rows=None):
    """Data for the initialisers: ``X`` with NaN replaced by column means.

    Initialisers (k-means and friends) need complete data; the column means
    of the observed values are a neutral fill, and the EM iterations that
    follow use the exact missing-data likelihood.  Rows with no observed
    value (``empty_rows``, found if None) get weight 0, so they do not move
    the starting point.
    """
    if empty_rows is None:
        empty_rows = np.flatnonzero(np.isnan(X).all(axis=1)) if X.shape[1] else np.array([], dtype=np.intp)
    column_means = np.nanmean(X, axis=0) if X.shape[0] else np.zeros(X.shape[1])
    X_filled = np.where(np.isnan(X), column_means.astype(X.dtype), X)
    if empty_rows.size:
        sample_weight = np.ones(len(X), dtype=X.dtype) if sample_weight is None else sample_weight.copy()
        sample_weight[empty_rows] = 0
    return X_filled, sample_weight


def check_missing_layout(layout: MissingLayout, X, n_components: int) -> None:
    """Raise ValueError if the missing values leave too little to fit."""
    if layout.n_nonempty < n_components:
        raise ValueError(
            f"Only {layout.n_nonempty} samples have an observed value but "
            f"n_components = {n_components}: rows whose values are all missing (NaN) "
            "carry no information. Drop them or decrease n_components."
        )
    check_observed_features(X)


def check_observed_features(X) -> None:
    """Raise ValueError if a feature has no observed value."""
    unobserved = np.flatnonzero([np.isnan(X[:, j]).all() for j in range(X.shape[1])] if X.shape[0] else [])
    if unobserved.size:
        raise ValueError(
            f"Features {unobserved.tolist()} have no observed value (all NaN): their "
            "distribution cannot be estimated. Drop these columns."
        )


def _complete_rows(X, unit):
    block, local = unit
    return X[block] if local is None else X[block][local]


def _complete_weights(sample_weight, unit):
    if sample_weight is None:
        return None
    block, local = unit
    return sample_weight[block] if local is None else sample_weight[block][local]


class MissingValuesSource(InMemorySource):
    """An in-memory array with NaN entries: exact EM over each row's observed coordinates.

    Complete rows go through the engine's block kernels; incomplete rows in
    groups (per missingness pattern for 'full' and 'tied'), through the
    conditional Gaussians of :mod:`skgmm.sources._patterns`.  The statistics
    of all groups are merged in a fixed order.  Rows with every value missing
    have no observed density: they get the mixture weights as
    responsibilities and are left out of fitting.
    """

    def __init__(self, X, sample_weight, n_components, model, n_threads=None, n_required=None):
        super().__init__(X, sample_weight, n_components, n_threads)
        block_size = self.runner.slices[0].stop - self.runner.slices[0].start
        self.layout = MissingLayout.from_data(X, model, max(block_size, 1))
        if n_required is None or n_required > 0:
            check_missing_layout(self.layout, X, n_components if n_required is None else n_required)
        self.n_rows = self.layout.n_nonempty
        if self.layout.empty_rows.size:
            empty_weight = self.layout.empty_rows.size
            if sample_weight is not None:
                empty_weight = float(sample_weight[self.layout.empty_rows].sum(dtype=np.float64))
            self.weight_total -= empty_weight
        self._units = self.layout.complete_units + self.layout.missing_units
        # Pattern groups are units of work even when the rows fit in one block.
        self._n_threads = self.runner.n_threads if n_threads is None else n_threads
        self._init_source = None

    def init_source(self, init):
        if self._init_source is None:
            X_filled, weights = self.layout.initialisation_data(self.X, self.sample_weight)
            self._init_source = InMemorySource(X_filled, weights, self.n_components, self.runner.n_threads)
        return self._init_source

    def _map_units(self, unit_fn):
        """``unit_fn(i)`` of every unit, in contiguous groups on threads; results in unit order."""
        groups = split_evenly(list(range(len(self._units))), self._n_threads)
        with single_threaded_blas:  # tiny per-pattern products: BLAS threads only add latency
            results = map_groups(lambda group: [unit_fn(index) for index in group], groups)
        return [result for group in results for result in group]

    def em_pass(self, model, params):
        n_complete = len(self.layout.complete_units)
        mk = prepare_missing_pass(model, params, self.layout.observed)
        pk = prepare_pass(model, params, self.dtype, self.origin)

        def run(index):
            unit = self._units[index]
            if index < n_complete:
                rows = _complete_rows(self.X, unit)
                return blocks.em_stats(
                    pk, rows, _complete_weights(self.sample_weight, unit), [slice(None)], {}
                )
            return missing_unit_stats(mk, unit, self.X, self.sample_weight)

        # Merged in unit order, so the result does not depend on the threads.
        return functools.reduce(merge_stats, self._map_units(run))

    def _estimate(self, model, params, want):
        n_complete = len(self.layout.complete_units)
        mk = prepare_missing_pass(model, params, self.layout.observed)
        pk = prepare_pass(model, params, self.dtype)
        weighted = np.empty((self.n_samples, len(mk.means)), dtype=np.float64)
        weighted[self.layout.empty_rows] = mk.log_weights

        def run(index):
            unit = self._units[index]
            if index < n_complete:
                rows = _complete_rows(self.X, unit)
                log_prob = model.weighted_log_prob_block(pk.kernel, rows, pk.origin, pk.log_weights, {})
                weighted[unit[0] if unit[1] is None else unit[0].start + unit[1]] = log_prob
            else:
                weighted[unit[1]] = unit_log_prob(mk, unit[0], self.X[unit[1]])[0]

        self._map_units(run)
        extra = weighted.argmax(axis=1) if want == "labels" else None
        log_prob_norm = normalise(weighted, 1)
        if want == "log_resp":
            extra = weighted.astype(self.dtype, copy=False)
        return log_prob_norm.astype(self.dtype, copy=False), extra

"""The data-source protocol: what the EM loop asks of the data, whatever holds it.

A fit turns ``(X, sample_weight)`` into one source (:func:`skgmm.sources.open_source`)
and from then on talks only to it.  Sources differ in how they feed blocks to
the engine — an in-memory array, one with missing values, a Dask collection —
never in the EM loop above them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from skgmm.engine.stats import SufficientStats


class DataSource(ABC):
    """Validated rows (and weights) that the engine can pass over.

    Attributes
    ----------
    n_samples, n_features : int
    dtype : numpy dtype
        float64 or float32: the dtype of the fit.
    n_rows : int
        Rows that carry information (rows with no observed value excluded).
    weight_total : float
        Sum of the weights of those rows.
    """

    n_samples: int
    n_features: int
    dtype: np.dtype
    n_rows: int
    weight_total: float

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def prepare_starts(self, init_params, n_init, random_state) -> None:
        """Get ready for ``n_init`` starts by ``init_params`` (None: no initialiser runs).

        In-memory sources have nothing to do; a Dask source draws the rows the
        initialisers will see in one scan pass (with the data checks).
        """
        return None

    @abstractmethod
    def feature_moments(self):
        """``(mean, variance, spread)`` of every feature, for the data-scale checks."""

    @abstractmethod
    def init_source(self, init: int):
        """The in-memory rows (an ``InMemorySource``) that initialisation number ``init`` sees.

        Its ``X`` and ``sample_weight`` are what the initialisers get, and its
        ``resp_stats`` turns their responsibilities into statistics.
        """

    @abstractmethod
    def em_pass(self, model, params) -> SufficientStats:
        """One fused E+M pass: the statistics of every row under ``params``."""

    @abstractmethod
    def estimate(self, model, params, want):
        """Per-row results of an E-step under ``params``.

        ``want`` is None (the log-likelihood of each row), ``'labels'`` or
        ``'proba'`` (responsibilities), or ``'log_resp'``, which also returns
        the log-likelihoods: ``(log_prob_norm, log_resp)``.
        """

    @abstractmethod
    def score(self, model, params, sample_weight) -> float:
        """Weighted mean log-likelihood (``sample_weight`` validated by the source)."""

    @abstractmethod
    def worst_rows(self, model, params):
        """Rows of positive weight and finite log-likelihood, worst first (tuples of floats)."""

    @abstractmethod
    def n_distinct(self, limit: int) -> int | None:
        """The number of distinct rows of positive weight if below ``limit``, else None."""

"""Sufficient statistics of a Gaussian mixture over a set of rows.

Every driver (in-memory, blocked, online, distributed) reduces data to these
values; the M-step maps them to parameters.  Sums are kept *centred* on a
per-component ``shift`` (the means in force when they were accumulated), so
that the M-step never subtracts two large uncentred moments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from skgmm._typing import FloatArray


@dataclass(frozen=True)
class SufficientStats:
    """Weighted, centred sufficient statistics of a mixture.

    Attributes
    ----------
    resp_sum : ndarray of shape (n_components,)
        Sum over rows of ``w * r``, the weighted responsibilities.
    resp_x_sum : ndarray of shape (n_components, n_features)
        Sum over rows of ``w * r * (x - shift_k)``.
    scatter : ndarray
        Sum over rows of ``w * r * (x - shift_k)(x - shift_k)^T``, reduced as
        ``scatter_kind`` says: ``'full'`` (n_components, n_features, n_features),
        ``'tied'`` (n_features, n_features) summed over components, ``'diag'``
        (n_components, n_features), the diagonal only.
    shift : ndarray of shape (n_components, n_features)
        Point each component's sums are centred on.
    log_likelihood : float
        Sum over rows of ``w * log p(x)`` under the parameters used to compute
        the responsibilities (0 when they were given, as at initialisation).
    weight_sum : float
        Sum of the row weights.
    scatter_kind : {'full', 'tied', 'diag'}
        How ``scatter`` is reduced.
    n_rows : int
        Number of rows summarised (of any weight); ``weight_sum / n_rows`` is
        the weight of a typical row, the unit of the M-step's safety margins.
    """

    resp_sum: FloatArray
    resp_x_sum: FloatArray
    scatter: FloatArray
    shift: FloatArray
    log_likelihood: float
    weight_sum: float
    scatter_kind: str
    n_rows: int

    def recentred(self, shift: FloatArray) -> SufficientStats:
        """Return the same statistics centred on another ``shift``."""
        if shift is self.shift or np.array_equal(shift, self.shift):
            return self
        offset = self.shift - shift  # (x - new) = (x - old) + offset
        resp_x_sum = self.resp_x_sum + self.resp_sum[:, None] * offset
        # sum r (x-old+o)(x-old+o)^T = S + o a^T + a o^T + n o o^T, a = resp_x_sum
        cross = self.resp_x_sum[:, :, None] * offset[:, None, :]
        outer = self.resp_sum[:, None, None] * offset[:, :, None] * offset[:, None, :]
        full_change = cross + cross.transpose(0, 2, 1) + outer
        if self.scatter_kind == "full":
            scatter = self.scatter + full_change
        elif self.scatter_kind == "tied":
            scatter = self.scatter + full_change.sum(axis=0)
        else:
            scatter = self.scatter + np.diagonal(full_change, axis1=1, axis2=2)
        return replace(self, resp_x_sum=resp_x_sum, scatter=scatter, shift=shift)

    @property
    def row_weight(self) -> float:
        """The mean weight of a row: what "a row's worth" of responsibility weighs."""
        return self.weight_sum / max(self.n_rows, 1)

    def scaled(self, factor: float) -> SufficientStats:
        """Return the statistics with every sum multiplied by ``factor``."""
        return replace(
            self,
            resp_sum=self.resp_sum * factor,
            resp_x_sum=self.resp_x_sum * factor,
            scatter=self.scatter * factor,
            log_likelihood=self.log_likelihood * factor,
            weight_sum=self.weight_sum * factor,
        )


def merge_stats(first: SufficientStats, second: SufficientStats) -> SufficientStats:
    """Sum two sets of statistics over disjoint rows.

    The result is centred on ``first.shift``; ``second`` is recentred first when
    it was accumulated around other means (the Chan-Golub-LeVeque update).
    """
    if first.scatter_kind != second.scatter_kind:
        raise ValueError(
            f"Cannot merge {first.scatter_kind!r} statistics with {second.scatter_kind!r} statistics."
        )
    second = second.recentred(first.shift)
    return replace(
        first,
        resp_sum=first.resp_sum + second.resp_sum,
        resp_x_sum=first.resp_x_sum + second.resp_x_sum,
        scatter=first.scatter + second.scatter,
        log_likelihood=first.log_likelihood + second.log_likelihood,
        weight_sum=first.weight_sum + second.weight_sum,
        n_rows=first.n_rows + second.n_rows,
    )

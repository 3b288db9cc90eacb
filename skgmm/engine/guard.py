"""Empty components: found, re-seeded on the worst-explained rows, or reported."""

from __future__ import annotations

import numpy as np

from skgmm._warnings import warn_user
from skgmm.engine.degenerate import DegenerateDataWarning
from skgmm.engine.mstep import MixtureParams

#: A component holding fewer rows' worth of responsibility than this many eps is empty.
EMPTY_MASS = 1e3


def empty_components(weights, n_rows, dtype):
    """Indices of components whose responsibility mass is at rounding level.

    An empty component keeps the ``10 * eps`` rows' worth of mass the M-step
    adds (:func:`~skgmm.engine.mstep.estimate_parameters`), so its weight
    times the number of rows is tiny; 1000 eps leaves a margin.  Counted in
    rows, the test does not depend on the scale of the sample weights.
    """
    mass = np.asarray(weights, np.float64) * n_rows
    return np.flatnonzero(mass < EMPTY_MASS * np.finfo(dtype).eps)


class EmptyComponentGuard:
    """Re-seeds components that lost all their data during EM.

    A component is re-seeded on the sample with the lowest log-likelihood
    under the current mixture, with the weighted mean covariance of the
    other components and weight ``1 / n_components``; each component is
    re-seeded at most once per EM run.  When the data has fewer distinct
    (positively weighted) rows than components, no re-seeding can help and
    the component is left as scikit-learn leaves it, with a warning at the
    end of the fit.

    Parameters
    ----------
    source : DataSource
        The data: it finds the worst-explained rows and counts distinct rows.
    model : CovarianceModel
    reg_covar : float
        The estimator's regularisation.
    data_variance : ndarray of shape (n_features,) or None
        Variance of every feature; with it, components that collapsed onto
        one point (covariance ``reg_covar`` only) are reported too.
    """

    def __init__(self, source, model, reg_covar, data_variance=None):
        self.source = source
        self.model = model
        self.reg_covar = reg_covar
        self.data_variance = data_variance
        self.dtype = source.dtype
        self.reseeded: set[int] = set()
        self._empty_mass = EMPTY_MASS * float(
            np.finfo(self.dtype).eps
        )  # what recover() tests every iteration

    def start_run(self):
        """Forget the re-seeds of the previous initialisation."""
        self.reseeded = set()

    def n_distinct(self, n_components):
        """Distinct rows of positive weight if fewer than ``n_components``, else None."""
        return self.source.n_distinct(n_components)

    def recover(self, params: MixtureParams) -> tuple[MixtureParams, list[int]]:
        """Re-seed the empty components of ``params`` that may be re-seeded.

        Returns
        -------
        params : MixtureParams
            Unchanged when nothing was re-seeded.
        reseeded : list of int
            The components re-seeded now.
        """
        dtype = self.dtype
        if float(np.minimum.reduce(params.weights)) * self.source.n_rows >= self._empty_mass:
            return params, []  # the usual case, tested once as empty_components would
        empty = [
            k for k in empty_components(params.weights, self.source.n_rows, dtype) if k not in self.reseeded
        ]
        n_components = len(params.weights)
        if not empty or self.n_distinct(n_components) is not None:
            return params, []

        weights = np.asarray(params.weights, np.float64).copy()
        means = np.asarray(params.means, np.float64).copy()
        covariances = np.asarray(params.covariances, np.float64).copy()
        kept = np.setdiff1d(np.arange(n_components), empty)
        kept_weights = weights[kept] / weights[kept].sum()
        taken = [np.asarray(row) for row in means[kept]]
        # A row "at" a mean: equal up to the rounding of a mean of duplicated rows.
        scale = np.ones(means.shape[1]) if self.data_variance is None else np.sqrt(self.data_variance)
        tolerance = np.sqrt(np.finfo(dtype).eps) * np.nan_to_num(scale, nan=0.0)
        candidates = self.source.worst_rows(self.model, params)
        done = []
        for k in empty:
            # The worst-explained rows, skipping any already at a component's mean.
            for row in candidates:
                if not any(np.all(np.abs(np.subtract(row, mean)) <= tolerance) for mean in taken):
                    break
            else:
                break
            taken.append(np.asarray(row))
            means[k] = row
            if not self.model.shared:
                covariances[k] = np.tensordot(kept_weights, covariances[kept], axes=1)
            weights[k] = 1.0 / n_components
            self.reseeded.add(int(k))
            done.append(int(k))
        if not done:
            return params, []
        weights /= weights.sum()
        covariances = covariances.astype(dtype)
        params = MixtureParams(
            weights=weights.astype(dtype),
            means=means.astype(dtype),
            covariances=covariances,
            precisions_cholesky=np.asarray(self.model.compute_precisions_cholesky(covariances), dtype),
        )
        return params, done

    def collapsed_components(self, params: MixtureParams, empty=()):
        """Non-empty components whose covariance is ``reg_covar`` alone.

        Such a component sits on one point (an outlier, or a group of
        duplicated samples): the data contributes no variance to it.
        """
        if self.data_variance is None or self.model.shared:
            return np.array([], dtype=int)
        n_components, n_features = np.shape(params.means)
        variances = self.model.component_variances(params.covariances, n_components, n_features)
        # Identical points leave a scatter of rounding size only.  The engine's
        # raw sums are float64: 'diag'/'tied' ones about the mixture mean (their
        # rounding is about eps64 * |mean - origin|^2), 'full' ones about each
        # component's mean (identical rows whiten to identical values).  The
        # covariances are then stored in the data's dtype (eps * reg_covar).
        weights = np.asarray(params.weights, np.float64)
        means = np.asarray(params.means, np.float64)
        origin = weights @ means / weights.sum()
        eps, eps64 = np.finfo(self.dtype).eps, np.finfo(np.float64).eps
        tolerance = 100 * (eps * self.reg_covar + eps64 * (means - origin) ** 2)
        collapsed = np.all(variances - self.reg_covar <= tolerance, axis=1)
        if not collapsed.any():  # the usual case, without setdiff1d's tens of microseconds
            return np.array([], dtype=int)
        return np.setdiff1d(np.flatnonzero(collapsed), empty)

    def warn_if_empty(self, params: MixtureParams) -> None:
        """Warn about components of the final model that hold no data or one point."""
        empty = empty_components(params.weights, self.source.n_rows, self.dtype)
        collapsed = self.collapsed_components(params, empty)
        if collapsed.size:
            warn_user(
                f"Components {collapsed.tolist()} of the fitted mixture collapsed onto a "
                "single point (an outlier or a group of duplicated samples): their "
                f"covariance is reg_covar={self.reg_covar:g} alone. Their weights and "
                "log-likelihoods depend on reg_covar; remove outliers or duplicates, or "
                "decrease n_components, if this is not wanted.",
                DegenerateDataWarning,
            )
        if empty.size:
            n_distinct = self.n_distinct(len(params.weights))
            distinct = (
                ""
                if n_distinct is None
                else f"; the data has {n_distinct} distinct samples for {len(params.weights)} components"
            )
            warn_user(
                f"Components {empty.tolist()} of the fitted mixture received no data "
                f"(weight ~0){distinct}. Decrease n_components or check the "
                "data for duplicated points.",
                DegenerateDataWarning,
            )

    @staticmethod
    def warn_reseeded(components) -> None:
        """Tell the user that EM re-seeded components."""
        warn_user(
            f"Components {list(components)} lost all their data during EM and were "
            "re-seeded on the worst-explained samples; lower_bounds_ may decrease at "
            "that iteration. A smaller n_components or another initialisation may fit "
            "the data better.",
            DegenerateDataWarning,
        )

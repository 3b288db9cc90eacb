"""mclust's parsimonious models as covariance strategies, with general (K, d, d) covariances.

Four of mclust's fourteen names are scikit-learn's types under another name
and are registered as aliases of their strategies (``'VII'`` is
``'spherical'``, ``'VVI'`` ``'diag'``, ``'EEE'`` ``'tied'``, ``'VVV'``
``'full'``).  The ten others, and ``'E'`` and ``'V'`` for one feature, are
:class:`ParsimoniousCovariance` strategies: their covariances are a
(n_components, n_features, n_features) stack like ``'full'``'s, so they share
its E-step kernels, its precision maps and its ``'full'`` scatter; only the
M-step (:func:`skgmm.covariance.mclust_mstep.estimate_mclust_covariances`) and
the parameter count differ.

The M-steps of VEI, VEV, EVE and VVE iterate.  Each starts from the
covariances of the E-step (``previous``), decomposed into volumes, shapes
and orientations, as mclust's ``me`` continues from its previous M-step; so
every M-step starts where the last one ended and EM's log-likelihood never
decreases (beyond the inner tolerance).  Without them (the first M-step,
from the initial responsibilities) they start as mclust's first M-step does.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from skgmm.covariance.base import (
    add_to_diagonals,
    diagonal_scatter_about_means,
    filled,
    identity_stack,
    scatter_about_means,
    symmetric_eigh,
)
from skgmm.covariance.diagonal import DiagCovariance
from skgmm.covariance.full import FullCovariance
from skgmm.covariance.mclust_mstep import mclust_m_step
from skgmm.covariance.parsimonious import (
    ITERATIVE_MODELS,
    MULTIVARIATE_MODELS,
    UNIVARIATE_MODELS,
    MclustCovariances,
    check_model,
    n_covariance_parameters,
)

#: mclust's names of scikit-learn's four types.
MCLUST_ALIASES = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}
#: The mclust models that are strategies of their own (covariances of shape (K, d, d)).
PARSIMONIOUS_MODELS = tuple(m for m in MULTIVARIATE_MODELS if m not in MCLUST_ALIASES) + UNIVARIATE_MODELS
#: Those whose covariances are diagonal (orientation the identity), whose M-steps
#: read only the diagonals of the scatter: :class:`DiagonalParsimoniousCovariance`.
DIAGONAL_MODELS = ("EII", "EEI", "VEI", "EVI", "E", "V")

# Fixed, distinct weights that mix the components' matrices into one with
# (generically) distinct eigenvalues, whose eigenvectors are a common orientation.
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_TINY = np.finfo(np.float64).tiny


def _log_normalised(values):
    """``log`` of positive ``values`` (..., d) less their mean over the last axis (a shape, in logs)."""
    logs = np.log(np.maximum(values, _TINY))
    return logs - np.add.reduce(logs, axis=-1, keepdims=True) / values.shape[-1]


@functools.lru_cache(maxsize=32)
def _mixing_weights(n_components: int):
    weights = 1.0 + (np.arange(1, n_components + 1) * _GOLDEN) % 1.0
    weights.flags.writeable = False
    return weights


def common_orientation(covariances):
    """Orthogonal axes (columns) shared by covariances (K, d, d) of one common orientation.

    The eigenvectors of a mix of the matrices with fixed, distinct weights
    over their volumes: exact within the family, whose members commute.
    """
    n_components, n_features = covariances.shape[:2]
    _, log_det = np.linalg.slogdet(covariances)
    volumes = np.exp(log_det / n_features)
    mixed = (_mixing_weights(n_components) / volumes) @ covariances.reshape(n_components, -1)
    return symmetric_eigh(mixed.reshape(n_features, n_features))[1]


def decompose(model: str, covariances) -> MclustCovariances | None:
    """The decomposition of ``model``'s covariances an iterative M-step continues from.

    Inside the family the decomposition is exact (up to the order and signs
    of the common axes, which the M-steps do not depend on); for other
    covariances (for instance a re-seeded component's) it is a valid start.
    (Means over small axes are sums over counts: ``mean``'s wrapper costs
    more than the sum, and every iterative M-step calls this.)
    """
    if model not in ITERATIVE_MODELS or model == "VEE":  # VEE restarts every M-step, as in mclust
        return None
    covariances = np.asarray(covariances, np.float64)
    if not np.isfinite(covariances).all():
        return None
    n_components, n_features = covariances.shape[:2]
    if model in ("VEI", "VEV"):
        if model == "VEI":
            axis_variances = np.diagonal(covariances, axis1=1, axis2=2)
        else:
            axis_variances = np.linalg.eigvalsh(covariances)[:, ::-1]
        shape = np.exp(np.add.reduce(_log_normalised(axis_variances), axis=0) / n_components)
        shape /= np.exp(np.add.reduce(np.log(shape)) / n_features)
        shapes = filled(shape, (n_components, n_features))
        return MclustCovariances(
            covariances, np.ones(n_components), shapes, identity_stack(n_components, n_features), 0
        )
    # EVE, VVE: a common orientation, then the variances along it.
    orientation = common_orientation(covariances)
    axis_variances = np.einsum("ji,kjl,li->ki", orientation, covariances, orientation)
    scale = np.exp(np.add.reduce(np.log(np.maximum(axis_variances, _TINY)), axis=1) / n_features)
    shape = axis_variances / scale[:, None]
    return MclustCovariances(covariances, scale, shape, filled(orientation, covariances.shape), 0)


class ParsimoniousCovariance(FullCovariance):
    """One of mclust's models ``Sigma_k = lambda_k D_k A_k D_k^T``, stored as full matrices.

    Parameters
    ----------
    mclust_name : str
        One of :data:`PARSIMONIOUS_MODELS`.  With one feature, every
        three-letter model is the univariate model of its volume letter
        (``'E'`` or ``'V'``); ``'E'`` and ``'V'`` need one feature.
    vve_orientation : {'mclust', 'likelihood'}, default='mclust'
        How VVE's common orientation is chosen (see
        :func:`~skgmm.covariance.mclust_mstep.estimate_mclust_covariances`).
    """

    scatter_kind = "full"

    def __init__(self, mclust_name: str, vve_orientation: str = "mclust"):
        if mclust_name not in PARSIMONIOUS_MODELS:
            raise ValueError(f"{mclust_name!r} is not one of {PARSIMONIOUS_MODELS}.")
        self.name = mclust_name
        self.vve_orientation = vve_orientation
        self.warm_m_step = mclust_name in ITERATIVE_MODELS

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"

    def mclust_model(self, n_features: int) -> str:
        """The mclust model fitted to ``n_features`` features (raises ValueError if none)."""
        if n_features == 1 and len(self.name) == 3:
            return self.name[0]  # one feature: only the volume is left
        check_model(self.name, n_features)
        return self.name

    def n_covariance_parameters(self, n_components, n_features):
        return n_covariance_parameters(self.mclust_model(n_features), n_components, n_features)

    def m_step_scatter(self, stats, nk):
        """The scatter matrices (K, d, d) about the new means that the M-step reads (a new array)."""
        return scatter_about_means(stats, nk)  # as FullCovariance computes it

    def estimate_covariances(self, stats, nk, reg_covar, previous=None):
        return self._estimate(
            stats, nk, reg_covar, None if previous is None else (None, previous)
        ).covariances

    def estimate_covariances_and_state(self, stats, nk, reg_covar, previous=None):
        warm = previous is not None and self.warm_m_step and previous.covariances is not None
        estimate = self._estimate(
            stats, nk, reg_covar, (previous.m_step_state, previous.covariances) if warm else None
        )
        # the state: the decomposition the next M-step continues from, and the precision factors (below)
        return estimate.covariances, estimate

    def precisions_cholesky_of(self, covariances, state):
        factors = getattr(state, "precisions_cholesky", None)
        if factors is None or covariances.dtype != np.float64:
            # float32 covariances were rounded after the M-step: factor what is stored
            return self.compute_precisions_cholesky(covariances)
        return factors  # the compiled M-step's, of these very covariances

    def _estimate(self, stats, nk, reg_covar, previous):
        """The M-step's :class:`MclustCovariances`; ``previous`` is ``(state, covariances)`` or None.

        The previous M-step's own decomposition (``state``) is continued from
        when it is there, as mclust's ``me`` does; covariances from elsewhere
        (a start, a re-seed) are decomposed first.
        """
        scatter = self.m_step_scatter(stats, nk)  # a new array, which the M-step may overwrite
        model = self.mclust_model(stats.resp_x_sum.shape[1])
        start = None
        if previous is not None:
            state, covariances = previous
            start = state if isinstance(state, MclustCovariances) else decompose(model, covariances)
        return mclust_m_step(model, nk, scatter, reg_covar, start, vve_orientation=self.vve_orientation)


#: The kernels of the diagonal models' E-step and sums.
_DIAGONAL_KERNELS = DiagCovariance()


def _whitened(kernel) -> bool:
    """Whether ``kernel`` was prepared by :class:`FullCovariance` (rather than the diagonal kernels)."""
    return "cov_chol" in kernel.arrays


class DiagonalParsimoniousCovariance(ParsimoniousCovariance):
    """A diagonal mclust model (EII, EEI, VEI, EVI; 'E', 'V'): full-matrix parameters, diagonal kernels.

    The parameters keep the (n_components, n_features, n_features) layout of
    every :class:`ParsimoniousCovariance`, but the E-step and the sums are the
    'diag' strategy's (:class:`~skgmm.covariance.diagonal.DiagCovariance`):
    one product for all log-densities and one for ``[sum r x^2, sum r x, sum
    r]``, the statistics ``'diag'``, since these M-steps read only the
    diagonals of the scatter.  Precision factors outside the family (a
    ``precisions_init`` with off-diagonal terms) are whitened in full, as by
    :class:`FullCovariance`, and their scatter reduced to its diagonal.
    """

    scatter_kind = "diag"

    def __init__(self, mclust_name: str, vve_orientation: str = "mclust"):
        if mclust_name not in DIAGONAL_MODELS:
            raise ValueError(f"{mclust_name!r} is not one of {DIAGONAL_MODELS}.")
        super().__init__(mclust_name, vve_orientation)

    def prepare(self, means_c, precisions_cholesky, dtype):
        # The factors' diagonals are positive (K d entries): anything else nonzero is off the diagonal.
        if np.count_nonzero(precisions_cholesky) > means_c.size:
            return super().prepare(means_c, precisions_cholesky, dtype)
        return _DIAGONAL_KERNELS.prepare(means_c, np.diagonal(precisions_cholesky, axis1=1, axis2=2), dtype)

    def block_log_densities(self, kernel, X_block, origin, log_weights, work):
        if _whitened(kernel):
            return super().block_log_densities(kernel, X_block, origin, log_weights, work)
        return _DIAGONAL_KERNELS.block_log_densities(kernel, X_block, origin, log_weights, work)

    def block_sums(self, kernel, block, resp, sample_weight):
        if _whitened(kernel):
            return super().block_sums(kernel, block, resp, sample_weight)
        return _DIAGONAL_KERNELS.block_sums(kernel, block, resp, sample_weight)

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        if _whitened(kernel):
            return super().resp_block_sums(kernel, X_block, origin, wresp, sample_weight, work)
        return _DIAGONAL_KERNELS.resp_block_sums(kernel, X_block, origin, wresp, sample_weight, work)

    def finish_sums(self, kernel, raw):
        if not _whitened(kernel):
            return _DIAGONAL_KERNELS.finish_sums(kernel, raw)
        resp_sum, resp_x_sum, scatter = super().finish_sums(kernel, raw)
        return resp_sum, resp_x_sum, np.diagonal(scatter, axis1=1, axis2=2).copy()

    def compute_precisions_cholesky(self, covariances):
        dense = np.asarray(covariances, np.float64)  # as FullCovariance computes them
        diagonals = np.diagonal(dense, axis1=1, axis2=2)
        # Positive finite diagonals and no more nonzero entries than they have: diagonal matrices.
        if not (
            np.minimum.reduce(diagonals, axis=None) > 0
            and math.isfinite(np.add.reduce(diagonals, axis=None))
            and np.count_nonzero(dense) == diagonals.size
        ):  # outside the family, or failing: the Cholesky factors (and their error message)
            return super().compute_precisions_cholesky(covariances)
        # What a Cholesky factor and its triangular inverse give a positive
        # diagonal matrix, without them: 1 / sqrt on the diagonal.
        prec_chol = np.zeros(dense.shape)
        add_to_diagonals(prec_chol, 1.0 / np.sqrt(diagonals))
        return prec_chol

    def m_step_scatter(self, stats, nk):
        # The diagonals (K, d) alone: the M-steps of these models read nothing else.
        return diagonal_scatter_about_means(stats, nk)

"""mclust's parsimonious models as covariance strategies, with general (K, d, d) covariances.

Four of mclust's fourteen names are scikit-learn's types under another name
and are registered as aliases of their strategies (``'VII'`` is
``'spherical'``, ``'VVI'`` ``'diag'``, ``'EEE'`` ``'tied'``, ``'VVV'``
``'full'``).  The ten others, and ``'E'`` and ``'V'`` for one feature, are
:class:`ParsimoniousCovariance` strategies: their covariances are a
(n_components, n_features, n_features) stack like ``'full'``'s, so they share
its E-step kernels, its precision maps and its ``'full'`` scatter; only the
M-step (:func:`skgmm.covariance.parsimonious.estimate_mclust_covariances`) and
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

import numpy as np

from skgmm.covariance.base import filled, identity_stack, scatter_about_means, symmetric_eigh
from skgmm.covariance.full import FullCovariance
from skgmm.covariance.parsimonious import (
    ITERATIVE_MODELS,
    MULTIVARIATE_MODELS,
    UNIVARIATE_MODELS,
    MclustCovariances,
    check_model,
    estimate_mclust_covariances,
    n_covariance_parameters,
)

#: mclust's names of scikit-learn's four types.
MCLUST_ALIASES = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}
#: The mclust models that are strategies of their own (covariances of shape (K, d, d)).
PARSIMONIOUS_MODELS = tuple(m for m in MULTIVARIATE_MODELS if m not in MCLUST_ALIASES) + UNIVARIATE_MODELS

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
        :func:`~skgmm.covariance.parsimonious.estimate_mclust_covariances`).
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

    def estimate_covariances(self, stats, nk, reg_covar, previous=None):
        # The scatter about the new means, as FullCovariance computes it, then mclust's M-step.
        scatter = scatter_about_means(stats, nk)
        model = self.mclust_model(scatter.shape[-1])
        start = None if previous is None else decompose(model, previous)
        estimate = estimate_mclust_covariances(
            model, nk, scatter, reg_covar=reg_covar, previous=start, vve_orientation=self.vve_orientation
        )
        return estimate.covariances  # symmetric

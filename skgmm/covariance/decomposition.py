"""Volume, shape and orientation of fitted covariances, as mclust reports them.

``Sigma_k = lambda_k D_k diag(A_k) D_k^T`` (Celeux and Govaert 1995): the
volume ``lambda_k = det(Sigma_k) ** (1 / d)``, the shape ``A_k`` (positive,
product 1) and the orientation ``D_k`` (orthogonal, columns the axes).  The
model's family says which axes: the features for the diagonal models, one
common set for the models whose orientation letter is E, each component's
own (decreasing shape) otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from skgmm._typing import FloatArray
from skgmm.covariance.mclust import MCLUST_ALIASES, common_orientation

#: scikit-learn's four names by their mclust names' letters.
_MCLUST_NAMES = {sklearn: mclust for mclust, sklearn in MCLUST_ALIASES.items()}


def orientation_letter(covariance_type: str) -> str:
    """The orientation letter of a covariance type: I (the features), E (common) or V (per component)."""
    name = _MCLUST_NAMES.get(covariance_type, covariance_type)
    return name[2] if len(name) == 3 else "I"  # 'E' and 'V' (one feature) are diagonal


class Decomposition(NamedTuple):
    """``volumes`` (K,), ``shapes`` (K, d) and ``orientations`` (K, d, d) of K covariances."""

    volumes: FloatArray
    shapes: FloatArray
    orientations: FloatArray


def decompose_covariances(covariance_type: str, covariances: FloatArray) -> Decomposition:
    """The volume-shape-orientation decomposition of dense covariances (K, d, d) of a model.

    Parameters
    ----------
    covariance_type : str
        A covariance type of :class:`~skgmm.GaussianMixtureEM`.
    covariances : ndarray of shape (n_components, n_features, n_features)

    Returns
    -------
    Decomposition
        Shapes along the features for the diagonal models, along the common
        axes (ordered by the mean shape, decreasing) for common orientations,
        decreasing for variable orientations.
    """
    covariances = np.asarray(covariances, np.float64)
    n_components, n_features = covariances.shape[:2]
    kind = orientation_letter(covariance_type)
    if kind == "I":
        axes = np.broadcast_to(np.eye(n_features), covariances.shape)
        variances = np.diagonal(covariances, axis1=1, axis2=2)
    elif kind == "E":
        shared = common_orientation(covariances)
        variances = np.einsum("ji,kjl,li->ki", shared, covariances, shared)
        order = np.argsort(-np.log(variances).mean(axis=0), kind="stable")
        shared, variances = shared[:, order], variances[:, order]
        axes = np.broadcast_to(shared, covariances.shape)
    else:
        variances, axes = np.linalg.eigh(covariances)
        variances, axes = variances[:, ::-1], axes[:, :, ::-1]
    volumes = np.exp(np.log(variances).mean(axis=1))
    return Decomposition(volumes, variances / volumes[:, None], np.array(axes))

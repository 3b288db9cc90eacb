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
from skgmm.covariance.mclust import common_orientation

#: Orientation letter of each covariance type: I (the features), E (common), V (per component).
_ORIENTATION = {
    "spherical": "I", "diag": "I", "tied": "E", "full": "V",
    "EII": "I", "VII": "I", "EEI": "I", "VEI": "I", "EVI": "I", "VVI": "I",
    "EEE": "E", "VEE": "E", "EVE": "E", "VVE": "E",
    "EEV": "V", "VEV": "V", "EVV": "V", "VVV": "V", "E": "I", "V": "I",
}  # fmt: skip


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
    kind = _ORIENTATION[covariance_type]
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

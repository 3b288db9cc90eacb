"""Geometry of fitted components: full covariance matrices, principal axes, ellipses."""

from __future__ import annotations

import numpy as np

from skgmm.covariance import COVARIANCE_MODELS

#: Every covariance type, from the registry: scikit-learn's four, mclust's 14 names.
_COVARIANCE_TYPES = tuple(COVARIANCE_MODELS)


def full_covariances(covariances, covariance_type: str, n_components: int, n_features: int) -> np.ndarray:
    """Expand fitted covariances of any type to one full matrix per component.

    Parameters
    ----------
    covariances : array-like
        The ``covariances_`` of a fitted mixture, shaped by its covariance type.
    covariance_type : str
        The covariance type the array is shaped for: scikit-learn's or mclust's names.
    n_components : int
        Number of mixture components.
    n_features : int
        Number of features.

    Returns
    -------
    covariances : ndarray of shape (n_components, n_features, n_features)
        The covariance matrix of each component.

    Examples
    --------
    >>> from skgmm.plotting import full_covariances
    >>> full_covariances([1.0, 4.0], "spherical", 2, 2)[1]
    array([[4., 0.],
           [0., 4.]])
    """
    cov = np.asarray(covariances, dtype=np.float64)
    model = COVARIANCE_MODELS.get(covariance_type)
    if model is None:
        raise ValueError(
            f"covariance_type must be one of {', '.join(map(repr, _COVARIANCE_TYPES))}; "
            f"got {covariance_type!r}."
        )
    full = model.dense_covariances(cov, n_components, n_features)
    return np.array(full, dtype=np.float64).reshape(n_components, n_features, n_features)


def _mixture_moments(weights, means, covariances):
    """Mean and covariance of the whole mixture (the law of total covariance).

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray of shape (n_components, n_features, n_features)

    Returns
    -------
    mean : ndarray of shape (n_features,)
    covariance : ndarray of shape (n_features, n_features)
    """
    mean = weights @ means
    deviation = means - mean
    covariance = np.einsum("k,kij->ij", weights, covariances) + (weights * deviation.T) @ deviation
    return mean, covariance


def _principal_axes(covariance, n_axes: int = 2):
    """The ``n_axes`` leading eigenvectors of ``covariance``, as columns, largest first.

    Parameters
    ----------
    covariance : ndarray of shape (n_features, n_features)

    Returns
    -------
    axes : ndarray of shape (n_features, n_axes)
    """
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    return eigenvectors[:, np.argsort(eigenvalues)[::-1][:n_axes]]


def _ellipse_axes(covariance):
    """The 1-sigma ellipse of a 2 x 2 covariance: semi-axes and the major axis's angle.

    Parameters
    ----------
    covariance : ndarray of shape (2, 2)

    Returns
    -------
    major, minor : float
        Semi-axes (square roots of the eigenvalues, negative rounding clipped to 0).
    angle : float
        Angle of the major axis to the first coordinate, in degrees.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    minor, major = np.sqrt(np.clip(eigenvalues, 0.0, None))
    angle = np.degrees(np.arctan2(eigenvectors[1, 1], eigenvectors[0, 1]))
    return major, minor, angle

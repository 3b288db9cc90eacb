"""When a fitted mixture is singular: the one definition used by GaussianMixtureIC and the command line.

A component that sits on a point, a line or a plane (duplicated or
discretised values: the 29 setosa rows of iris whose petal width is exactly
0.2) has no spread in some direction; only ``reg_covar`` keeps its covariance
invertible, and its density, hence the likelihood and every information
criterion, is spuriously large.  R's mclust reports no BIC for such fits (it
fits without ``reg_covar`` and stops on the singular covariance); skgmm
fits them, and passes over them when it chooses a model.
"""

from __future__ import annotations

import numpy as np

#: A direction is singular when its variance less ``reg_covar`` is at most
#: ``100 * n_features * eps`` times the component's scale: its largest variance
#: plus the squared distance of its mean from the mixture's mean (the data's
#: mean, at a fixed point of EM).  The data's share of a direction with no
#: spread is 0 up to rounding, and that rounding is relative to this scale:
#: the M-step accumulates second moments around the data's mean, so a
#: component of 20 duplicated rows 8 away from it comes out with a variance of
#: 1e-14, not 0 (about ``eps`` times the squared distance); storing the
#: covariances in their dtype and the eigendecomposition move an eigenvalue by
#: at most ``n_features * eps`` times the largest (Weyl's inequality); the
#: factor 100 leaves room for the accumulation over the rows.  A direction
#: flagged has a standard deviation below ``10 * sqrt(n_features * eps)`` of
#: that scale (3e-7 in float64 with 4 features): below the precision of the
#: data's own values relative to their spread or their distance from the
#: mean, far below the ratio of features measured in different units, so
#: sound fits of unscaled data are not flagged.
SINGULAR_RTOL_FACTOR = 100.0

#: A component whose weight is below one row's worth (``weight * n < 1``) is
#: held by no sample: its parameters come from fractions of rows.
MIN_COMPONENT_ROWS = 1.0


def _dense_covariances(model) -> np.ndarray:
    from skgmm.covariance import get_covariance_model

    n_components, n_features = model.means_.shape
    cov = np.asarray(model.covariances_, dtype=np.float64)
    dense = get_covariance_model(model.covariance_type).dense_covariances(cov, n_components, n_features)
    return np.asarray(dense, dtype=np.float64).reshape(n_components, n_features, n_features)


def singular_components(model, n_samples: float | None = None) -> list[int]:
    """Components of a fitted mixture that make it singular.

    A component is singular when some direction of its covariance is
    ``reg_covar`` alone relative to its largest variance::

        eigmin(cov_k) - reg_covar <= 100 * n_features * eps * (eigmax(cov_k) + |mean_k - mean|**2)

    (``eps`` of the model's dtype, ``mean`` the mixture's mean; see the
    notes), or, when
    ``n_samples`` is given, when its weight is below one row's worth:
    ``weights_[k] * n_samples < 1``.

    Parameters
    ----------
    model : fitted GaussianMixtureEM
        The mixture (any covariance type, scikit-learn's or mclust's names).
    n_samples : float, default=None
        Number of training rows (total weight with ``sample_weight``); None
        skips the weight test.

    Returns
    -------
    components : list of int
        The singular components (empty for a sound fit).

    Notes
    -----
    The data's share of a direction with no spread is 0 up to rounding, and
    that rounding is relative to the component's largest variance plus its
    squared distance from the data's mean, around which the M-step
    accumulates its sums (20 duplicated rows 8 away from it come out with a
    variance of 1e-14, not 0). Storing the covariances and their
    eigendecomposition move an eigenvalue by at most ``n_features * eps``
    times the largest (Weyl's inequality); the factor 100 leaves room for
    the accumulation. A direction flagged has a standard deviation below
    ``10 * sqrt(n_features * eps)`` of that scale (3e-7 in float64 with 4
    features), far below the ratio of features measured in different units.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmm import GaussianMixtureEM, singular_components
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(150, 2)), np.tile([6.0, 6.0], (20, 1))])
    >>> gm = GaussianMixtureEM(2, covariance_type="diag", random_state=0).fit(X)
    >>> [bool(np.allclose(gm.means_[k], 6.0)) for k in singular_components(gm)]
    [True]
    """
    return sorted(set().union(*_singular_sets(model, n_samples)))


def _singular_sets(model, n_samples):
    means = np.asarray(model.means_, dtype=np.float64)
    weights = np.asarray(model.weights_, dtype=np.float64)
    n_features = means.shape[1]
    eigenvalues = np.linalg.eigvalsh(_dense_covariances(model))
    eps = np.finfo(np.asarray(model.means_).dtype).eps
    rtol = SINGULAR_RTOL_FACTOR * n_features * eps
    distance2 = np.sum((means - weights @ means / weights.sum()) ** 2, axis=1)
    scale = np.maximum(eigenvalues[:, -1], 0.0) + distance2
    flat = np.flatnonzero(eigenvalues[:, 0] - model.reg_covar <= rtol * scale)
    light = np.array([], dtype=int)
    if n_samples is not None:
        light = np.flatnonzero(np.asarray(model.weights_) * n_samples < MIN_COMPONENT_ROWS)
    return {int(k) for k in flat}, {int(k) for k in light}


def singular_reason(model, n_samples: float | None = None) -> str:
    """Why a fitted mixture is singular, as a sentence; '' when it is sound.

    Same definition as :func:`singular_components`.

    Parameters
    ----------
    model : fitted GaussianMixtureEM
        The mixture.
    n_samples : float, default=None
        Number of training rows (total weight); None skips the weight test.

    Returns
    -------
    reason : str
        '' for a sound fit.
    """
    flat, light = _singular_sets(model, n_samples)
    reasons = []
    if flat:
        reasons.append(
            f"component{'s' if len(flat) > 1 else ''} {', '.join(map(str, sorted(flat)))} "
            "with no spread in some direction (held up by reg_covar alone)"
        )
    if light:
        reasons.append(
            f"component{'s' if len(light) > 1 else ''} {', '.join(map(str, sorted(light)))} "
            "with less than one row's weight"
        )
    return "singular: " + "; ".join(reasons) if reasons else ""

"""The M-step of any of mclust's models: the public function and the one the strategies call.

:func:`estimate_mclust_covariances` checks its arguments and calls
:func:`mclust_m_step`, which runs the model's M-step in one compiled call
(``skgmm/_ckernels/mstep.c``) or, without the C libraries and for the cases
they leave to it, in numpy (:mod:`skgmm.covariance.parsimonious`, the
reference), then checks the estimate's volume.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from skgmm._typing import FloatArray
from skgmm.covariance import _mstep_kernels as _compiled
from skgmm.covariance.base import add_to_diagonals, filled, identity_stack
from skgmm.covariance.kernels import compiled_kernels
from skgmm.covariance.mclust_names import check_model
from skgmm.covariance.parsimonious import (
    _EPS,
    _M_STEPS,
    _MAX_INNER,
    _VVE_LIKELIHOOD,
    INNER_TOL,
    MclustCovariances,
)


def estimate_mclust_covariances(
    model: str,
    nk: FloatArray,
    scatter: FloatArray,
    *,
    reg_covar: float = 1e-6,
    previous: MclustCovariances | None = None,
    tol: float = INNER_TOL,
    max_iter: int = _MAX_INNER,
    vve_orientation: str = "mclust",
) -> MclustCovariances:
    """Maximise the expected complete log-likelihood over one covariance model.

    Parameters
    ----------
    model : str
        One of ``MULTIVARIATE_MODELS``, or ``'E'``, ``'V'`` for one feature.
    nk : ndarray of shape (n_components,)
        Component weights, the sums of the responsibilities.
    scatter : ndarray of shape (n_components, n_features, n_features)
        Weighted scatter matrices ``W_k`` about the components' new means.
    reg_covar : float, default=1e-6
        Added as ``reg_covar * nk_k`` to the diagonal of each ``W_k`` before the
        M-step.  For VII, VVI, EEE and VVV (also EII, EEI, EEV) this adds
        ``reg_covar`` to the diagonal of the covariances, as scikit-learn does;
        for every model it keeps them inside the model's family.
    previous : MclustCovariances, optional
        The previous M-step's result.  VEI, VEV, EVE and VVE continue from its
        shape (and orientation), as they do in mclust's ``me``; VEE and the
        closed forms ignore it.  Without it, each starts as mclust's first
        M-step does.
    tol : float, default=sqrt(machine epsilon)
        Inner tolerance of the iterative models (``emControl()$tol[2]``).
    max_iter : int, default=2**31 - 1
        Inner iteration limit of the iterative models (``emControl()$itmax[2]``).
    vve_orientation : {'mclust', 'likelihood'}, default='mclust'
        VVE's common orientation: by EVE's criterion, as mclust 6 computes it,
        or by the MM steps that raise VVE's own expected log-likelihood.

    Returns
    -------
    MclustCovariances
        The covariances, their decomposition and the inner iteration count.

    Raises
    ------
    ValueError
        If the model is unknown, or its estimate is singular (a scatter
        matrix, or the part of it the model divides by, has no volume).

    Examples
    --------
    >>> import numpy as np
    >>> from skgmm.covariance.mclust_mstep import estimate_mclust_covariances
    >>> nk = np.array([10.0, 30.0])
    >>> scatter = np.array([[[4.0, 1.0], [1.0, 2.0]], [[30.0, 0.0], [0.0, 15.0]]])
    >>> estimate = estimate_mclust_covariances("EEV", nk, scatter, reg_covar=0.0)
    >>> estimate.scale.round(4)  # one volume
    array([0.5973, 0.5973])
    >>> estimate.shape.round(4)  # one shape, in decreasing order
    array([[1.4405, 0.6942],
           [1.4405, 0.6942]])
    """
    nk = np.asarray(nk, dtype=np.float64)
    scatter = np.asarray(scatter, dtype=np.float64)
    n_components, n_features = scatter.shape[:2]
    if nk.shape != (n_components,) or scatter.shape != (n_components, n_features, n_features):
        raise ValueError(
            f"nk and scatter must have shapes (K,) and (K, d, d); got {nk.shape} and {scatter.shape}."
        )
    check_model(model, n_features)
    if vve_orientation not in ("mclust", "likelihood"):
        raise ValueError(f"vve_orientation must be 'mclust' or 'likelihood', got {vve_orientation!r}.")
    return mclust_m_step(
        model,
        nk,
        scatter.copy() if reg_covar else scatter,
        reg_covar,
        previous,
        tol,
        max_iter,
        vve_orientation,
    )


def mclust_m_step(
    model, nk, scatter, reg_covar, previous=None, tol=INNER_TOL, max_iter=_MAX_INNER, vve_orientation="mclust"
):
    """:func:`estimate_mclust_covariances` without its checks, for the strategies' M-steps.

    ``nk`` and ``scatter`` are float64 arrays the call may overwrite (the
    regularisation is added in place); the diagonal models (EII, EEI, VEI,
    EVI, 'E', 'V') may be given the diagonals (K, d) of the scatter matrices
    alone, which is all they read.  The C path leaves them unchanged; a case
    it leaves to numpy (non-finite input, a factorisation it cannot reproduce)
    runs the numpy code from the start.
    """
    weigh_volumes = model == "VVE" and vve_orientation == "likelihood"
    if _compiled.LIBRARY is not None and compiled_kernels() is not None:
        estimate = _compiled.mclust_m_step(
            model, nk, scatter, reg_covar, previous, tol, max_iter, weigh_volumes
        )
        if estimate is not None:  # else a case left to numpy, from the start (scatter is unchanged)
            covariances, scale, shape, orientation, n_iter, singular, factors = estimate
            if singular:
                _check_nonsingular(model, covariances, scale, shape)
            if orientation is None:
                orientation = _identities(*shape.shape)
            return MclustCovariances(covariances, scale, shape, orientation, n_iter, factors)
    n_components, n_features = scatter.shape[:2]
    if reg_covar:
        if scatter.ndim == 2:
            scatter += reg_covar * nk[:, None]
        else:
            add_to_diagonals(scatter, reg_covar * nk[:, None])
    m_step = _VVE_LIKELIHOOD if weigh_volumes else _M_STEPS[model]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale, shape, orientation, n_iter = m_step(nk, scatter, previous, tol, max_iter)
        scale = filled(scale, (n_components,))
        shape = filled(shape, (n_components, n_features))
        if orientation is None:  # the diagonal models: Sigma_k = diag(lambda_k A_k)
            orientation = _identities(n_components, n_features)
            covariances = np.zeros((n_components, n_features, n_features))
            add_to_diagonals(covariances, scale[:, None] * shape)
        else:
            orientation = filled(orientation, (n_components, n_features, n_features))
            variances = scale[:, None] * shape  # along the axes
            covariances = (orientation * variances[:, None, :]) @ orientation.transpose(0, 2, 1)
            covariances += covariances.transpose(0, 2, 1)  # symmetric to the last bit
            covariances *= 0.5
    _check_nonsingular(model, covariances, scale, shape)
    return MclustCovariances(covariances, scale, shape, orientation, n_iter)


@functools.lru_cache(maxsize=64)
def _identities(n_components: int, n_features: int) -> FloatArray:
    """The diagonal models' orientations: a read-only stack of identities, made once per shape."""
    identities = identity_stack(n_components, n_features)
    identities.flags.writeable = False
    return identities


def _check_nonsingular(model, covariances, scale, shape):
    """Raise ValueError naming the model and components whose estimate has no volume."""
    # The rounding error of an eigen-decomposition, relative to the largest eigenvalue, is
    # about eps: a smaller axis is zero to working precision.
    ratio = 10 * shape.shape[1] * _EPS
    # The usual case in a few reductions (NaNs fail every comparison); the
    # components are looked for only when it fails.
    low, high = np.minimum.reduce(shape, axis=1), np.maximum.reduce(shape, axis=1)
    if (
        math.isfinite(np.add.reduce(covariances, axis=None))
        and 0 < np.minimum.reduce(scale)
        and np.maximum.reduce(scale) < math.inf
        and (low > ratio * high).all()
    ):
        return
    finite = np.isfinite(covariances).all(axis=(1, 2)) & np.isfinite(shape).all(axis=1)
    finite &= np.isfinite(scale) & (scale > 0)
    # On the shape: the smallest axis relative to the largest, the model's own conditioning.
    conditioned = np.zeros_like(finite)
    conditioned[finite] = shape[finite].min(axis=1) > ratio * shape[finite].max(axis=1)
    failed = np.flatnonzero(~(finite & conditioned))
    if failed.size:
        raise ValueError(
            f"The {model} M-step failed: the estimated covariance of component(s) "
            f"{failed.tolist()} is singular (a component with too few points, or collinear "
            "ones). Try fewer components, a larger reg_covar, or another model."
        )

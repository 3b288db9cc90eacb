"""M-steps of mclust's fourteen parsimonious covariance models (and 'E', 'V' for one feature).

Each model constrains ``Sigma_k = lambda_k D_k diag(A_k) D_k^T``: the volume
``lambda_k`` (``det Sigma_k = lambda_k ** d``), the shape ``A_k`` (positive,
product 1) and the orientation ``D_k`` (orthogonal) are each equal across
components (E), variable (V) or, for shape and orientation, the identity (I);
the three letters of the name say which, in that order.  Given the component
weights ``nk`` and the scatter matrices ``W_k = sum_i r_ik (x_i - mu_k)(x_i -
mu_k)^T`` about the new means, the M-step maximises
``-1/2 sum_k (nk_k log det Sigma_k + tr(W_k Sigma_k^-1))`` within the family.

Nine models have closed forms (Celeux and Govaert 1995, "Gaussian parsimonious
clustering models", Pattern Recognition 28:781-793).  VEI, VEE and VEV
alternate the volumes and the common shape (or shape and orientation) to a
fixed point (the same paper); EVE and VVE update their common orientation with
the majorisation-minimisation steps of Browne and McNicholas (2014),
"Estimating common principal components in high dimensions", ADAC 8:217-226.

The inner loops start, stop and count their iterations as mclust 6.0's do, as
observed from its outputs (its documentation gives only the tolerance), so
that an EM loop built on them retraces ``mclust::me`` (``tests/fixtures/mclust``):
VEI starts from a spherical shape, VEV from EEV's shape, VEE from equal
volumes, EVE and VVE from the identity orientation; within ``me`` every M-step
after the first continues from the previous one's shape (and orientation),
except VEE's, which starts afresh.  Pass the previous result as ``previous``
to do the same.  mclust's VVE chooses its common orientation by EVE's
criterion, which ignores the volumes and so does not maximise VVE's
likelihood; ``vve_orientation`` selects that or the likelihood's own update.
Where the C library is built and the compiled kernels are on,
:func:`~skgmm.covariance.mclust_mstep.mclust_m_step`, which calls these M-steps, is one
C call for every model (the regularisation, the
model's closed form or inner loop, the covariances and the non-singularity
test: :func:`skgmm.covariance._mstep_kernels.mclust_m_step`); the numpy code
here is the reference, and runs the cases the C leaves to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack

from skgmm._typing import FloatArray
from skgmm.covariance import _mstep_kernels as _compiled
from skgmm.covariance.base import symmetric_eigh
from skgmm.covariance.mclust_names import (  # noqa: F401 (re-exported: the models' names and counts)
    MULTIVARIATE_MODELS,
    UNIVARIATE_MODELS,
    check_model,
    n_covariance_parameters,
    n_parameters,
)

#: Models whose M-step iterates; their inner loops stop on ``tol`` and ``max_iter``.
ITERATIVE_MODELS = ("VEI", "VEE", "EVE", "VVE", "VEV")
#: mclust's default inner tolerance, ``emControl()$tol[2]``.
INNER_TOL = math.sqrt(np.finfo(np.float64).eps)
_EPS = float(np.finfo(np.float64).eps)
#: mclust's default inner iteration limit, ``emControl()$itmax[2]``.
_MAX_INNER = int(np.iinfo(np.int32).max)


class MclustCovariances(NamedTuple):
    """Covariances from one M-step and their volume-shape-orientation decomposition.

    Attributes
    ----------
    covariances : ndarray of shape (n_components, n_features, n_features)
        ``Sigma_k = scale[k] * orientation[k] @ diag(shape[k]) @ orientation[k].T``, symmetrised.
    scale : ndarray of shape (n_components,)
        Volumes ``lambda_k = det(Sigma_k) ** (1 / n_features)``.
    shape : ndarray of shape (n_components, n_features)
        Shapes, positive with product 1: in feature order for the diagonal
        models, in the order of the common axes for EVE and VVE, decreasing
        otherwise.
    orientation : ndarray of shape (n_components, n_features, n_features)
        Orthogonal matrices whose columns are the principal axes.
    n_iter : int
        Inner iterations, counted as mclust counts them (0 for closed forms).
    precisions_cholesky : ndarray of shape (n_components, n_features, n_features) or None
        The upper-triangular Cholesky factors of the precisions, when the
        compiled M-step computed them with the covariances (None otherwise).
    """

    covariances: FloatArray
    scale: FloatArray
    shape: FloatArray
    orientation: FloatArray
    n_iter: int
    precisions_cholesky: FloatArray | None = None


# The M-steps run inside the errstate context of mclust_mstep.mclust_m_step
# (a context costs microseconds, and the inner loops are made of
# microsecond-sized operations on (K, d) arrays): a component without volume
# gives infinities and NaNs quietly, which mclust_mstep's _check_nonsingular reports.  Sums
# over small axes call np.add.reduce, which skips ndarray.sum's wrapper.


def _geometric_mean(values: FloatArray) -> FloatArray:
    """Geometric mean over the last axis, by logarithms so that products neither over- nor underflow."""
    return np.exp(np.add.reduce(np.log(values), axis=-1) / values.shape[-1])


def _descending_eigh(matrices: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Eigenvalues (decreasing) and eigenvectors (columns) of symmetric matrices."""
    values, vectors = np.linalg.eigh(matrices) if matrices.ndim > 2 else symmetric_eigh(matrices)
    return values[..., ::-1], vectors[..., ::-1]


def _polar_factor(matrix: FloatArray) -> FloatArray:
    """``P R^T`` for the SVD ``matrix = P S R^T`` (LAPACK's gesdd, as ``np.linalg.svd``); overwrites it."""
    left, _, right, info = lapack.dgesdd(matrix, overwrite_a=1)
    if info != 0:
        left, _, right = np.linalg.svd(matrix)
    return left @ right


def _volume_and_shape(eigenvalues: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Split positive axis variances ``(..., d)`` into volume ``(...)`` and a shape of product 1."""
    volume = _geometric_mean(eigenvalues)
    return volume, eigenvalues / volume[..., None]


def _relative_change(new, old) -> float:
    """mclust's inner stopping measure: the largest ``|new - old| / (1 + |new|)`` (NaN if any is)."""
    change = np.subtract(new, old)
    np.abs(change, out=change)
    scale = np.abs(new)
    scale += 1.0
    change /= scale
    return float(np.maximum.reduce(change, axis=None))


def _diagonals(scatter: FloatArray) -> FloatArray:
    """The diagonals (K, d) of scatter matrices (K, d, d); the diagonal models may be given them alone."""
    return scatter if scatter.ndim == 2 else np.diagonal(scatter, axis1=-2, axis2=-1)


# Each model maps (nk, scatter, previous, tol, max_iter) to (scale, shape, orientation, n_iter),
# arrays broadcastable to (K,), (K, d), (K, d, d); orientation None is the identity.


def _spherical(nk, scatter, equal):
    traces = np.add.reduce(_diagonals(scatter), axis=1)
    scale = np.add.reduce(traces) / np.add.reduce(nk) if equal else traces / nk
    return scale / scatter.shape[1], 1.0, None


def _m_step_eii(nk, scatter, previous, tol, max_iter):
    return (*_spherical(nk, scatter, equal=True), 0)


def _m_step_vii(nk, scatter, previous, tol, max_iter):
    return (*_spherical(nk, scatter, equal=False), 0)


def _m_step_eei(nk, scatter, previous, tol, max_iter):
    volume, shape = _volume_and_shape(np.add.reduce(_diagonals(scatter), axis=0))
    return volume / np.add.reduce(nk), shape, None, 0


def _m_step_evi(nk, scatter, previous, tol, max_iter):
    volumes, shapes = _volume_and_shape(_diagonals(scatter))
    return np.add.reduce(volumes) / np.add.reduce(nk), shapes, None, 0


def _m_step_vvi(nk, scatter, previous, tol, max_iter):
    volumes, shapes = _volume_and_shape(_diagonals(scatter) / nk[:, None])
    return volumes, shapes, None, 0


@_compiled.compiled_loop(_compiled.common_shape_fixed_point)
def _common_shape_fixed_point(nk, axis_scatter, shape, tol, max_iter):
    """Volumes and one common shape for variances ``axis_scatter`` (K, d) along known axes.

    Alternates ``lambda_k = sum_j axis_scatter_kj / A_j / (d nk_k)`` and ``A``
    proportional to ``sum_k axis_scatter_k / lambda_k`` (Celeux and Govaert's
    VEI and VEV steps).  As in mclust, the loop stops when neither changes by
    more than ``tol`` (``_relative_change``), the first iteration never stops
    it, and the volumes returned are those the returned shape was computed from.
    """
    n_components, n_features = axis_scatter.shape
    weight = n_features * nk
    # [volumes, shape] of an iteration in one vector: one change test for both;
    # two buffers, swapped, hold the current and the previous iteration.
    state, previous = np.empty(n_components + n_features), np.empty(n_components + n_features)
    change, n_iter = math.inf, 0
    while change >= tol and n_iter < max_iter:
        n_iter += 1
        previous, state = state, previous
        scale, shape_new = state[:n_components], state[n_components:]
        np.divide(axis_scatter @ (1.0 / shape), weight, out=scale)
        totals = (1.0 / scale) @ axis_scatter
        np.divide(totals, _geometric_mean(totals), out=shape_new)
        shape = shape_new
        if n_iter == 1:
            if not np.isfinite(state).all():
                break  # a component without volume: the non-singularity check reports it
        else:
            change = _relative_change(state, previous)  # NaN, which stops, if one is not finite
    return scale, shape, n_iter


def _m_step_vei(nk, scatter, previous, tol, max_iter):
    start = np.ones(scatter.shape[1]) if previous is None else previous.shape[0]
    scale, shape, n_iter = _common_shape_fixed_point(nk, _diagonals(scatter), start, tol, max_iter)
    return scale, shape, None, n_iter


def _m_step_vev(nk, scatter, previous, tol, max_iter):
    # D_k are the eigenvectors of W_k whatever the volumes and the (decreasing) common shape.
    eigenvalues, orientation = _descending_eigh(scatter)
    if previous is None:
        start = _volume_and_shape(np.add.reduce(eigenvalues, axis=0))[1]
    else:
        start = previous.shape[0]
    scale, shape, n_iter = _common_shape_fixed_point(nk, eigenvalues, start, tol, max_iter)
    return scale, shape, orientation, n_iter


def _m_step_eee(nk, scatter, previous, tol, max_iter):
    eigenvalues, orientation = _descending_eigh(np.add.reduce(scatter, axis=0) / np.add.reduce(nk))
    volume, shape = _volume_and_shape(eigenvalues)
    return volume, shape, orientation, 0


@_compiled.compiled_loop(_compiled.m_step_vee)
def _m_step_vee(nk, scatter, previous, tol, max_iter):
    """Volumes and one common shape-and-orientation matrix ``C`` (det 1).

    Alternates ``C`` proportional to ``sum_k W_k / lambda_k`` and ``lambda_k =
    tr(W_k C^-1) / (d nk_k)``, from ``lambda_k = 1``; like mclust it stops on the
    relative change of ``sum_k nk_k log det Sigma_k + tr(W_k Sigma_k^-1)``.
    """
    n_components, n_features = scatter.shape[:2]
    weight, total = n_features * nk, np.add.reduce(nk)
    # Each W_k as a row: the sums over components are products.
    scatter_rows = scatter.reshape(n_components, n_features * n_features)
    scale = np.ones(n_components)  # mclust restarts VEE each M-step: ``previous`` is not used
    objective_old, change, n_iter = math.inf, math.inf, 0
    while change >= tol and n_iter < max_iter:
        n_iter += 1
        pooled = ((1.0 / scale) @ scatter_rows).reshape(n_features, n_features)
        eigenvalues, orientation = symmetric_eigh(pooled)  # increasing; reversed once, at the end
        shape = eigenvalues / _geometric_mean(eigenvalues)
        inverse = (orientation / shape) @ orientation.T
        scale = (scatter_rows @ inverse.T.ravel()) / weight
        objective = n_features * (nk @ np.log(scale) + total)
        change = abs(objective - objective_old) / (1.0 + abs(objective))
        objective_old = objective
        if not np.isfinite(objective):
            break
    return scale, shape[::-1], orientation[:, ::-1], n_iter


def _orientation_step(scatter_rows, orientation, rotated, inverse_shapes, largest):
    """Two majorisation-minimisation updates of a common orientation D (Browne and McNicholas 2014).

    Each lowers ``f(D) = sum_k tr(W_k D B_k D^T)`` (``B_k = diag(inverse_shapes[k])``)
    over orthogonal D: it minimises the linear term ``tr(D^T G)`` of a quadratic
    majoriser, at ``-P R^T`` for ``G = P S R^T``, the polar factor of ``-G``.  The first bounds ``W_k`` by
    its largest eigenvalue ``w_k`` (``largest``), the second ``B_k`` by its
    largest entry ``b_k``.  ``scatter_rows`` is the (K d, d) stack of the
    ``W_k``, ``rotated`` the (K, d, d) stack of the ``W_k D``; returns the new
    D and the ``W_k D`` for it.
    """
    n_components, n_features = inverse_shapes.shape
    # -G = -sum_k (W_k - w_k I) D B_k: column j is D_:j sum_k w_k B_k,jj less sum_k [W_k D]_:j B_k,jj
    negative_gradient = orientation * (largest @ inverse_shapes)
    negative_gradient -= np.einsum("kij,kj->ij", rotated, inverse_shapes)
    orientation = _polar_factor(negative_gradient)
    # -G = sum_k W_k D (b_k I - B_k)
    shifted_shapes = np.maximum.reduce(inverse_shapes, axis=1)[:, None] - inverse_shapes
    rotated = (scatter_rows @ orientation).reshape(n_components, n_features, n_features)
    orientation = _polar_factor(np.einsum("kij,kj->ij", rotated, shifted_shapes))
    return orientation, (scatter_rows @ orientation).reshape(n_components, n_features, n_features)


@_compiled.compiled_loop(_compiled.common_orientation)
def _common_orientation(nk, scatter, previous, tol, max_iter, weigh_volumes):
    """Common orientation D and, along it, the variances ``diag(D^T W_k D)`` (K, d).

    mclust starts from the identity (here: from ``previous`` when given) and
    stops on the relative change of ``f(D) = sum_k tr(W_k D B_k D^T)`` with
    ``B_k`` the inverse shapes; its first iteration only evaluates f.  With
    ``weigh_volumes`` the ``B_k`` include the inverse volumes, which makes each
    step raise VVE's likelihood rather than EVE's.
    """
    n_components, n_features = scatter.shape[:2]
    # The W_k D of all components in one product; the step reuses those of its start.
    scatter_rows = scatter.reshape(n_components * n_features, n_features)
    largest = np.linalg.eigvalsh(scatter)[:, -1]
    if previous is None:
        orientation, inverse_shapes, first = np.eye(n_features), None, 1
        rotated = scatter
    else:
        orientation = previous.orientation[0]
        variances = previous.scale[:, None] * previous.shape if weigh_volumes else previous.shape
        inverse_shapes, first = 1.0 / variances, 0
        rotated = (scatter_rows @ orientation).reshape(n_components, n_features, n_features)
    weights = nk[:, None]
    objective_old, change, n_iter = math.inf, math.inf, 0
    while change >= tol and n_iter < max_iter:
        n_iter += 1
        if n_iter > first:
            orientation, rotated = _orientation_step(
                scatter_rows, orientation, rotated, inverse_shapes, largest
            )
        axis_scatter = np.einsum("kji,ji->ki", rotated, orientation)
        if weigh_volumes:
            inverse_shapes = weights / axis_scatter
            objective = float(nk @ np.add.reduce(np.log(axis_scatter / weights), axis=1))
        else:
            # (A component without volume makes f NaN, which stops the loop.)
            inverse_shapes = _geometric_mean(axis_scatter)[:, None] / axis_scatter
            objective = float(np.add.reduce(axis_scatter * inverse_shapes, axis=None))
        change = abs(objective - objective_old) / (1.0 + abs(objective))
        objective_old = objective
        if not math.isfinite(objective):
            break
    return orientation, axis_scatter, n_iter


def _m_step_eve(nk, scatter, previous, tol, max_iter):
    orientation, axis_scatter, n_iter = _common_orientation(nk, scatter, previous, tol, max_iter, False)
    volumes, shapes = _volume_and_shape(axis_scatter)
    return np.add.reduce(volumes) / np.add.reduce(nk), shapes, orientation, n_iter


def _vve(weigh_volumes):
    def m_step(nk, scatter, previous, tol, max_iter):
        orientation, axis_scatter, n_iter = _common_orientation(
            nk, scatter, previous, tol, max_iter, weigh_volumes
        )
        volumes, shapes = _volume_and_shape(axis_scatter / nk[:, None])
        return volumes, shapes, orientation, n_iter

    return m_step


def _m_step_eev(nk, scatter, previous, tol, max_iter):
    eigenvalues, orientation = _descending_eigh(scatter)
    volume, shape = _volume_and_shape(np.add.reduce(eigenvalues, axis=0))
    return volume / np.add.reduce(nk), shape, orientation, 0


def _m_step_evv(nk, scatter, previous, tol, max_iter):
    eigenvalues, orientation = _descending_eigh(scatter)
    volumes, shapes = _volume_and_shape(eigenvalues)
    return np.add.reduce(volumes) / np.add.reduce(nk), shapes, orientation, 0


def _m_step_vvv(nk, scatter, previous, tol, max_iter):
    eigenvalues, orientation = _descending_eigh(scatter / nk[:, None, None])
    volumes, shapes = _volume_and_shape(eigenvalues)
    return volumes, shapes, orientation, 0


_M_STEPS: dict[str, Callable] = {
    "EII": _m_step_eii, "VII": _m_step_vii, "EEI": _m_step_eei, "VEI": _m_step_vei,
    "EVI": _m_step_evi, "VVI": _m_step_vvi, "EEE": _m_step_eee, "VEE": _m_step_vee,
    "EVE": _m_step_eve, "VVE": _vve(weigh_volumes=False), "EEV": _m_step_eev,
    "VEV": _m_step_vev, "EVV": _m_step_evv, "VVV": _m_step_vvv,
    "E": _m_step_eii, "V": _m_step_vii,
}  # fmt: skip
_VVE_LIKELIHOOD = _vve(weigh_volumes=True)

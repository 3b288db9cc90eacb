"""The covariance strategy protocol and the linear algebra the strategies share.

Conventions follow scikit-learn: ``precisions_cholesky`` ``L`` satisfies
``precision = L @ L.T`` and is upper triangular, so that ``y = (x - mu) @ L``
whitens a row.  Blocks arrive with the pass's ``origin`` (the mixture mean)
still to subtract, and ``Kernel.means_c`` are the means centred on it, which
keeps the quadratic forms well conditioned.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from skgmm._typing import FloatArray
from skgmm.covariance.kernels import fused
from skgmm.engine.logsumexp import normalise, weighted_sum
from skgmm.engine.stats import SufficientStats

LOG_2PI = math.log(2 * math.pi)


class Kernel(NamedTuple):
    """Quantities derived once per pass from the parameters, used per block."""

    means_c: FloatArray  # (n_components, n_features), centred on the origin
    arrays: dict[str, Any]
    #: A :class:`~skgmm.covariance.kernels.fused.FusedKernel` when the blocks
    #: run the fused row kernel (then ``arrays`` is empty), else None.
    fused: Any = None


class CovarianceModel(ABC):
    """Strategy for one covariance structure.

    Everything that depends on the structure lives in its strategy: shapes and
    parameter counts, the per-block kernels of the E and M steps, the M-step
    from statistics to covariances, and the maps between covariances,
    precisions and their Cholesky factors.  The engine looks a strategy up
    once (:func:`skgmm.covariance.get_covariance_model`) and never branches on
    the structure again.
    """

    name: str
    #: How the scatter of :class:`~skgmm.engine.stats.SufficientStats` is reduced.
    scatter_kind: str
    #: One covariance shared by all components.
    shared: bool = False
    #: ``estimate_covariances`` takes ``previous=`` (the covariances of the
    #: E-step) to warm-start an iterative M-step.
    warm_m_step: bool = False

    @abstractmethod
    def covariance_shape(self, n_components: int, n_features: int) -> tuple:
        """Shape of ``covariances_`` (and ``precisions_``)."""

    @abstractmethod
    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free parameters of the covariances."""

    # -- per-block kernels ------------------------------------------------
    @abstractmethod
    def prepare(self, means_c, precisions_cholesky, dtype) -> Kernel:
        """Precompute what the block kernels need, once per pass."""

    @abstractmethod
    def block_log_densities(self, kernel: Kernel, X_block, origin, log_weights, work: dict):
        """``log p(x | k) + log w_k`` of one block, component-major: (n_components, n_rows).

        Parameters
        ----------
        kernel : Kernel
        X_block : ndarray of shape (n_rows, n_features)
            Rows, not yet centred on ``origin``.
        origin : ndarray of shape (n_features,)
        log_weights : ndarray of shape (n_components,)
        work : dict
            Scratch buffers owned by the calling thread, reused across blocks.

        Returns
        -------
        block : object
            What :meth:`block_sums` needs of the block (the centred rows, the
            whitened rows...); it may live in ``work``.
        log_prob : ndarray of shape (n_components, n_rows)
            In ``work``: valid until the next call with the same ``work``.
        """

    @abstractmethod
    def block_sums(self, kernel: Kernel, block, resp, sample_weight) -> tuple:
        """The strategy's raw sums (float64) of weighted responsibilities ``resp`` (K, n_rows).

        They are added up over blocks and mapped to centred statistics by
        :meth:`finish_sums`; ``resp`` may be overwritten.
        """

    def em_block_sums(self, kernel: Kernel, X_block, origin, log_weights, sample_weight, work: dict):
        """Fused E-step and raw M-step sums of one block.

        Returns ``(log_likelihood, raw)``: the sum over rows of
        ``w * log p(x)``, and the :meth:`block_sums` of the responsibilities
        (with a fused kernel, the statistics themselves).
        """
        if kernel.fused is not None:
            return fused.em_sums(kernel.fused, kernel.means_c, X_block, origin, log_weights, sample_weight)
        block, resp = self.block_log_densities(kernel, X_block, origin, log_weights, work)
        log_norm = normalise(resp, 0, responsibilities=True, sample_weight=sample_weight)
        return weighted_sum(log_norm, sample_weight), self.block_sums(kernel, block, resp, sample_weight)

    def weighted_log_prob_block(self, kernel: Kernel, X_block, origin, log_weights, work: dict):
        """``log p(x | k) + log w_k`` of a block, shape (n_rows, n_components) (a view of ``work``)."""
        if kernel.fused is not None:
            return fused.log_prob(kernel.fused, kernel.means_c, X_block, origin, log_weights)
        return self.block_log_densities(kernel, X_block, origin, log_weights, work)[1].T

    def block_labels(self, kernel: Kernel, X_block, origin, log_weights, work: dict):
        """``(labels, peak)`` of a block: each row's component of largest ``log p(x | k) + log w_k``
        (the first, as ``argmax``: NaN counts as largest) and that term."""
        if kernel.fused is not None:
            return fused.labels(kernel.fused, kernel.means_c, X_block, origin, log_weights)
        weighted = self.block_log_densities(kernel, X_block, origin, log_weights, work)[1]  # (K, n_rows)
        labels = weighted.argmax(axis=0)
        return labels, np.take_along_axis(weighted, labels[None], axis=0)[0]

    def block_log_likelihood(self, kernel: Kernel, X_block, origin, log_weights, work: dict):
        """Each row's ``log p(x)`` of a block (the engine's log-sum-exp)."""
        if kernel.fused is not None:
            return fused.row_log_likelihood(kernel.fused, kernel.means_c, X_block, origin, log_weights)
        return normalise(self.block_log_densities(kernel, X_block, origin, log_weights, work)[1], 0)

    @abstractmethod
    def resp_block_sums(self, kernel: Kernel, X_block, origin, wresp, sample_weight, work: dict) -> tuple:
        """Raw sums (as :meth:`block_sums`) for given weighted responsibilities.

        ``wresp`` has shape (n_rows, n_components) and includes the row
        weights; ``sample_weight`` is passed for strategies that also sum over
        rows (``'tied'``).
        """

    def resp_sums(self, kernel: Kernel, X_block, origin, wresp, sample_weight, work: dict) -> tuple:
        """:meth:`resp_block_sums`, or with a fused kernel the statistics themselves."""
        if kernel.fused is not None:
            return fused.resp_sums(kernel.fused, kernel.means_c, X_block, origin, wresp)
        return self.resp_block_sums(kernel, X_block, origin, wresp, sample_weight, work)

    def statistics(self, kernel: Kernel, raw: tuple):
        """``resp_sum, resp_x_sum, scatter`` of a pass's summed raw sums (:meth:`finish_sums`)."""
        return tuple(raw) if kernel.fused is not None else self.finish_sums(kernel, raw)

    @abstractmethod
    def finish_sums(self, kernel: Kernel, raw: tuple):
        """``resp_sum, resp_x_sum, scatter`` (float64, centred on the kernel's means).

        ``raw`` may hold views of a thread's scratch buffers (the sums of a
        pass of one block): the statistics returned must not be views of them.
        """

    # -- M-step and parameter maps ----------------------------------------
    @abstractmethod
    def estimate_covariances(self, stats: SufficientStats, nk, reg_covar) -> FloatArray:
        """Covariances (float64) about the new means from centred statistics."""

    def estimate_covariances_and_state(self, stats: SufficientStats, nk, reg_covar, previous=None) -> tuple:
        """``(covariances, state)`` of the M-step; ``previous`` the E-step's parameters (or None).

        The M-step the EM loop runs (:func:`~skgmm.engine.mstep.m_step`): the
        iterative ones (``warm_m_step``) continue from the covariances of
        ``previous``; ``state`` is what the strategy keeps of its M-step for the
        next one (the parameters' ``m_step_state``), None by default.
        """
        if previous is not None and self.warm_m_step and previous.covariances is not None:
            return self.estimate_covariances(stats, nk, reg_covar, previous=previous.covariances), None
        return self.estimate_covariances(stats, nk, reg_covar), None

    def precisions_cholesky_of(self, covariances, state):
        """The precision factors of the covariances an M-step returned with ``state``.

        By default :meth:`compute_precisions_cholesky`; a strategy whose M-step
        computed them already hands them over.
        """
        return self.compute_precisions_cholesky(covariances)

    @abstractmethod
    def compute_precisions_cholesky(self, covariances) -> FloatArray:
        """Cholesky factors of the precisions; raises ValueError if not definite."""

    @abstractmethod
    def precisions_cholesky_from_precisions(self, precisions) -> FloatArray:
        """Cholesky factors from user-given precisions."""

    @abstractmethod
    def compute_precisions(self, precisions_cholesky) -> FloatArray:
        """``precisions_`` from their Cholesky factors."""

    @abstractmethod
    def covariances_from_precisions_cholesky(self, precisions_cholesky) -> FloatArray:
        """Covariances from Cholesky factors of precisions."""

    @abstractmethod
    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        """Precision factors of unit covariances (for centred statistics)."""

    @abstractmethod
    def dense_covariances(self, covariances, n_components: int, n_features: int) -> FloatArray:
        """Every component's covariance as a (n_components, d, d) float64 stack."""

    @abstractmethod
    def check_precisions(self, precisions) -> None:
        """Raise ValueError unless user-given precisions are positive definite."""

    def component_variances(self, covariances, n_components: int, n_features: int) -> FloatArray:
        """The variances along the features of every component, (n_components, d)."""
        dense = self.dense_covariances(covariances, n_components, n_features)
        return np.diagonal(dense, axis1=1, axis2=2)

    def sample(self, rng, means, covariances, counts) -> FloatArray:
        """Draw ``counts[k]`` rows from each component, stacked in order."""
        n_components, n_features = means.shape
        dense = self.dense_covariances(covariances, n_components, n_features)
        return np.vstack(
            [rng.multivariate_normal(mean, cov, int(count)) for mean, cov, count in zip(means, dense, counts)]
        )


def degenerate_covariance_message(components, dtype) -> str:
    """Explain a covariance that is not positive definite, and what to change."""
    message = (
        "Fitting the mixture model failed because some components have "
        "ill-defined empirical covariance (for instance caused by singleton "
        f"or collapsed samples): components {list(map(int, components))}. "
        "Try to decrease the number of components, increase reg_covar, or "
        "scale the input data."
    )
    if np.dtype(dtype) == np.float32:
        message += " The numerical accuracy can also be improved by passing float64 data instead of float32."
    return message


def _failed_components(covariances) -> list[int]:
    failed = []
    for k, covariance in enumerate(covariances):
        if not np.all(np.isfinite(covariance)):
            failed.append(k)
            continue
        try:
            linalg.cholesky(covariance, lower=True)
        except linalg.LinAlgError:
            failed.append(k)
    return failed


def cholesky_precisions(covariances, dtype):
    """Upper-triangular precision factors of a stack of covariances.

    Stacks of few features go to the compiled loop of the fused kernels
    (:func:`~skgmm.covariance.kernels.fused.precision_factors`): one call
    instead of LAPACK's two through numpy's wrappers, the same factors to rounding.
    """
    small = fused.precision_factors(covariances)
    if small is not None:
        prec_chol, failed = small
        if failed is None:  # (the loop also checked that the factors are finite)
            return prec_chol
        raise ValueError(degenerate_covariance_message(_failed_components(covariances), dtype))
    try:
        cov_chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        raise ValueError(degenerate_covariance_message(_failed_components(covariances), dtype)) from None
    # C^-T, with C^T upper triangular: the inverse is C's triangular solve.
    prec_chol = triangular_inverse(cov_chol.transpose(0, 2, 1), lower=False)
    # Non-finite covariances give non-finite factors (or fail above): one sum
    # tests every entry, and only a failed test looks for the components.
    diagonals = prec_chol.diagonal(axis1=1, axis2=2)
    if not (
        math.isfinite(np.add.reduce(prec_chol, axis=None)) and np.minimum.reduce(diagonals, axis=None) > 0
    ):
        finite = np.isfinite(prec_chol).reshape(len(prec_chol), -1).all(1)
        finite &= np.isfinite(covariances).reshape(len(covariances), -1).all(1)
        positive = (np.nan_to_num(diagonals) > 0).all(1)
        bad = np.flatnonzero(~(finite & positive))
        if bad.size:
            raise ValueError(degenerate_covariance_message(bad, dtype))
    return prec_chol


def _flip(matrix):
    return matrix[..., ::-1, ::-1]


def upper_cholesky_of_precisions(precisions):
    """``U`` with ``precision = U U^T``, upper triangular, without forming a covariance.

    Cholesky of the row/column-reversed matrix, reversed back (scikit-learn #26415).
    """
    return _flip(np.linalg.cholesky(_flip(precisions)))


#: Stacks of at most this many float64 triangles, or of triangles this wide,
#: are inverted one by one with LAPACK's trtri (about 1 us a 4 x 4 matrix)
#: rather than by one batched ``np.linalg.inv`` (LU: about 4 us per call,
#: more per matrix from 8 features: 37 us against 13 us for 8 of 16 x 16).
TRTRI_MAX_MATRICES = 4
TRTRI_MIN_FEATURES = 8


def triangular_inverse(triangles, lower):
    """Inverses of a (n, d, d) stack of triangular matrices, without scipy's per-call overhead.

    LU with partial pivoting of an upper triangular matrix pivots on its own
    diagonal (the entries below are zero) and has an identity lower factor, so
    the inverse is the triangular solve of scipy's ``solve_triangular``; one
    batched call for the stack avoids scipy's per-call overhead (tens of
    microseconds, milliseconds when BLAS threads have to wake up), which
    dominated passes over small data.  Few or wide float64 triangles go to
    LAPACK's ``trtri`` directly instead (:data:`TRTRI_MAX_MATRICES`).  A lower
    triangular matrix is inverted through its transpose (which is upper).  A
    stack with a singular matrix falls back to ``solve_triangular`` per
    matrix, whatever that gives.
    """
    triangles = np.asarray(triangles)
    n_matrices, n_features = triangles.shape[:2]
    if triangles.dtype == np.float64 and (
        n_matrices <= TRTRI_MAX_MATRICES or n_features >= TRTRI_MIN_FEATURES
    ):
        inverse = np.empty(triangles.shape)  # C-contiguous, whatever the layout of the triangles
        for k in range(n_matrices):
            inverse[k], info = lapack.dtrtri(triangles[k], lower=int(lower))
            if info != 0:  # singular: as below
                break
        else:
            return inverse
    upper = triangles.transpose(0, 2, 1) if lower else triangles
    try:
        inverse = np.linalg.inv(upper)
    except np.linalg.LinAlgError:
        eye = np.eye(n_features)
        inverse = np.stack([linalg.solve_triangular(tri, eye, lower=False) for tri in upper])
    return inverse.transpose(0, 2, 1) if lower else inverse


def covariance_cholesky(prec_chol):
    """Lower Cholesky factor C of the covariance, C = L^{-T}, per component."""
    # C = (L^T)^-1, L^T lower triangular
    return np.ascontiguousarray(triangular_inverse(prec_chol.transpose(0, 2, 1), lower=True))


def symmetric_eigh(matrix):
    """``np.linalg.eigh`` of one symmetric matrix: LAPACK's syevd, as numpy calls it, without its wrapper.

    Eigenvalues increasing, eigenvectors in columns; from the lower triangle.
    """
    values, vectors, info = lapack.dsyevd(matrix, lower=1)
    return (values, vectors) if info == 0 else np.linalg.eigh(matrix)


def filled(value, shape):
    """A new float64 array of ``shape`` holding ``value`` (``np.broadcast_to(...).copy()``, cheaper)."""
    array = np.empty(shape)
    array[...] = value
    return array


def identity_stack(n_matrices: int, n_features: int):
    """A new (n_matrices, n_features, n_features) stack of identity matrices."""
    identities = np.zeros((n_matrices, n_features, n_features))
    add_to_diagonals(identities, 1.0)
    return identities


def check_symmetric_positive_definite(precision, name):
    """Raise ValueError unless ``precision`` (one matrix or a stack) is symmetric positive definite."""
    precision = np.asarray(precision, dtype=np.float64)
    transposed = np.swapaxes(precision, -1, -2)
    if not (np.allclose(precision, transposed) and np.all(np.linalg.eigvalsh(precision) > 0)):
        raise ValueError(
            f"'{name} precision' should be symmetric, positive-definite; check "
            "precisions_init (it holds inverse covariances, not covariances)."
        )


def shift_correction(stats: SufficientStats, nk):
    """What moves the scatter from ``shift`` onto the new means ``shift + a / nk``.

    Moving the centre from ``shift`` to ``shift + delta`` with
    ``delta = a / nk`` changes the scatter by ``-a a^T (2 nk - n) / nk^2``,
    where ``a`` is ``resp_x_sum`` and ``n`` is ``resp_sum``.
    """
    factor = (2 * nk - stats.resp_sum) / nk**2
    return stats.resp_x_sum, factor


def diagonal_scatter_about_means(stats: SufficientStats, nk):
    """Diagonals (K, d) of the scatter of 'diag' statistics about the new means (a new array).

    The diagonal of :func:`scatter_about_means`, term for term.
    """
    a, factor = shift_correction(stats, nk)
    return stats.scatter - factor[:, None] * a**2


def scatter_about_means(stats: SufficientStats, nk):
    """Symmetrised scatter matrices (K, d, d) of full statistics about the new means.

    The new means are ``shift + a / nk`` (see :func:`shift_correction`); the
    result is a new array.
    """
    small = fused.centred_scatter(stats, nk)
    if small is not None:  # the same in one compiled call
        return small
    a, factor = shift_correction(stats, nk)
    outer = a[:, :, None] * a[:, None, :]
    outer *= factor[:, None, None]
    scatter = np.subtract(stats.scatter, outer, out=outer)
    scatter += scatter.transpose(0, 2, 1)  # numpy buffers the overlapping operand
    scatter *= 0.5
    return scatter


def add_to_diagonals(matrices, value) -> None:
    """Add ``value`` to the diagonal of each matrix of a (..., d, d) stack, in place."""
    n_features = matrices.shape[-1]
    if matrices.flags.c_contiguous:
        # a strided view of the diagonals: one operation whatever the number of matrices
        matrices.reshape(-1, n_features * n_features)[:, :: n_features + 1] += value
    else:
        diagonal = np.arange(n_features)
        matrices[..., diagonal, diagonal] += value


def work_buffers(work, key, make):
    """Scratch arrays of one thread, made once per block shape."""
    if key not in work:
        work[key] = make()
    return work[key]


def prefix_buffers(work, key, dtype, shapes):
    """Contiguous scratch arrays of the given shapes, one allocation per name.

    Each array is a view of the start of a flat buffer kept in ``work`` and
    grown only when a larger block comes, so a thread's shorter last block
    reuses the buffers of its full blocks.  Contents are not preserved
    across calls of different shapes.
    """
    store = work.setdefault(key, {})
    # The views of a block shape are made once: every block of a pass asks again.
    signature = tuple(shapes.items())
    views = store.get(signature)
    if views is not None:
        return views
    views = []
    for name, shape in shapes.items():
        size = math.prod(shape)
        flat = store.get(name)
        if flat is None or flat.size < size:
            # views of the old buffers must not be handed out again
            for cached in [k for k in store if isinstance(k, tuple)]:
                del store[cached]
            flat = store[name] = np.empty(size, dtype=dtype)
        views.append(flat[:size].reshape(shape))
    views = tuple(views)
    store[signature] = views
    return views

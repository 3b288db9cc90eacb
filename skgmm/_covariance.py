"""Covariance structures: one strategy object per ``covariance_type``.

Everything that depends on the covariance type lives here: the shape of the
parameters, the per-block log-density and sufficient statistics, the M-step
from statistics to covariances, Cholesky factors of precisions, log-determinants,
parameter counts and sampling.  The engine looks a strategy up once with
:func:`get_covariance_model` and never branches on the type again.

Conventions follow scikit-learn: ``precisions_cholesky`` ``L`` satisfies
``precision = L @ L.T`` and is upper triangular, so that ``y = (x - mu) @ L``
whitens a row.  Blocks ``Xc`` and ``means_c`` arrive centred on a common origin
(the mixture mean), which keeps the expanded quadratic forms well conditioned.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np
from scipy import linalg

from skgmm._compiled import compiled_kernels
from skgmm._stats import SufficientStats
from skgmm._typing import FloatArray

LOG_2PI = math.log(2 * math.pi)

#: Without the compiled kernels, up to this many features the 'full' kernel
#: sums ``r y y^T`` with einsum dot products instead of a BLAS rank-k update
#: (measured on 2 cores: 2x faster at d=2, equal at d=4, slower above).
SMALL_SCATTER_FEATURES = 4

#: The 'full' whitening product is split into slices of about this many
#: output features, each one product that skips the zero part of the
#: triangular precision factors (n slices do (n + 1) / 2n of the dense flops).
#: numpy path, per row of the whole fused kernel on 2 cores: 8 % faster at
#: d=32 to 64 (float64), 14 % at d=64 (float32), 15 % at d=128; nothing at
#: d=16, where gathering the slices costs what the product saves.
FEATURES_PER_SLICE = 16
#: The compiled kernels read the slices in place, so slices can be narrower
#: (d=16: the product 1.3x faster than in one piece).
COMPILED_FEATURES_PER_SLICE = 4
MAX_WHITENING_SLICES = 8


def _whitening_bounds(n_features: int, compiled: bool) -> list[int]:
    """Feature boundaries of the slices the 'full' whitening product is split into."""
    width = COMPILED_FEATURES_PER_SLICE if compiled else FEATURES_PER_SLICE
    n_slices = min(MAX_WHITENING_SLICES, max(1, n_features // width))
    return [round(n_features * j / n_slices) for j in range(n_slices + 1)]


def _rows_of(bounds, n_components, tile):
    """Row of the stacked whitening products that holds feature i of component k.

    Slice ``start:stop`` occupies rows ``n_components * start`` onwards,
    component-major.  Padding features (up to a multiple of ``tile``) point
    at the zero row after the products.
    """
    n_features = bounds[-1]
    padded = -(-n_features // tile) * tile
    rows_of = np.full((n_components, padded), n_components * n_features, dtype=np.intp)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        width = stop - start
        rows_of[:, start:stop] = n_components * start + np.arange(n_components)[:, None] * width + np.arange(width)
    return rows_of


def _compiled_rows(kernel):
    """The kernel's row table when the compiled kernels run here, else None.

    A kernel prepared where numba runs may be used where it does not (a Dask
    worker without it): the numpy code then handles the same slices.
    """
    rows_of = kernel.arrays["rows_of"]
    return None if rows_of is None or compiled_kernels() is None else rows_of


class _WhitenedBlock(NamedTuple):
    """Scratch arrays of one block of the 'full' kernels (views of a thread's buffers)."""

    whitened: FloatArray  # (n_components * n_features + 1, n_rows), last row zero
    pieces: list  # one (n_components, width, n_rows) view of ``whitened`` per slice
    log_resp: FloatArray  # (n_components, n_rows)
    scatter: FloatArray
    white_sum: FloatArray
    weighted: FloatArray | None


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
        message += (
            " The numerical accuracy can also be improved by passing float64 "
            "data instead of float32."
        )
    return message


def exp_floor(dtype) -> float:
    """Log-values below this are raised to it before ``exp`` in the E-step.

    Relative to a row's largest term (which is 0 after the shift), their
    exponentials are below 2e-299 in float64 (6e-30 in float32): too small
    for any sum to notice.  But numpy's vectorised ``exp`` leaves its fast
    path whenever a result would be subnormal or zero, and with separated
    clusters a few percent of the entries of a block are that small: the
    log-sum-exp then took 2-8x longer (measured on 2 cores, 16 x 3640
    blocks).  Raised to the floor, such a responsibility is about 1e-299
    instead of 0.  Outputs a user sees (``predict_proba``) are not clipped.
    """
    return float(np.log(np.finfo(dtype).tiny)) + 20


def exp_above_floor(log_values, out=None):
    """``exp(max(log_values, exp_floor))``; ``out=log_values`` works in place."""
    clipped = np.maximum(log_values, exp_floor(log_values.dtype), out=out)
    return np.exp(clipped, out=clipped)


def log_normalise_rows(weighted_log_prob) -> tuple[FloatArray, FloatArray]:
    """Log-normaliser per row and log-responsibilities (in place, log space).

    Returns
    -------
    log_prob_norm : ndarray of shape (n_rows,)
    log_resp : ndarray of shape (n_rows, n_components)
        ``weighted_log_prob`` itself, normalised in place.
    """
    row_max = weighted_log_prob.max(axis=1)
    impossible = row_max == -np.inf  # no component can produce the row
    row_max[~np.isfinite(row_max)] = 0
    log_resp = weighted_log_prob
    log_resp -= row_max[:, None]
    log_norm = np.log(exp_above_floor(log_resp).sum(axis=1))
    log_resp -= log_norm[:, None]
    log_norm += row_max
    log_norm[impossible] = -np.inf
    return log_norm, log_resp


def _responsibilities_by_component(log_resp, sample_weight):
    """Log-sum-exp over components of (n_components, n_rows) log densities.

    Turns ``log_resp`` (weighted log densities) into responsibilities times
    row weights, in place, and returns the summed weighted log-likelihood.
    """
    col_max = log_resp.max(axis=0)
    infinite = ~np.isfinite(col_max)
    impossible = None
    if infinite.any():
        impossible = col_max == -np.inf  # no component can produce the row
        col_max[infinite] = 0
    log_resp -= col_max
    resp = exp_above_floor(log_resp, out=log_resp)
    norm = resp.sum(axis=0)  # >= 1, or >= exp_floor for impossible rows
    log_norm = np.log(norm)
    # one multiply of the (n_components, n_rows) block by w / norm
    scale = np.reciprocal(norm, out=norm)
    log_norm += col_max
    if impossible is not None:
        log_norm[impossible] = -np.inf
    if sample_weight is not None:
        scale *= sample_weight
    resp *= scale
    if sample_weight is None:
        return float(log_norm.sum(dtype=np.float64))
    return float(np.dot(sample_weight, log_norm.astype(np.float64)))


def _work_buffers(work, key, make):
    """Scratch arrays of one thread, made once per block shape."""
    if key not in work:
        work[key] = make()
    return work[key]


def _prefix_buffers(work, key, dtype, shapes):
    """Contiguous scratch arrays of the given shapes, one allocation per name.

    Each array is a view of the start of a flat buffer kept in ``work`` and
    grown only when a larger block comes, so a thread's shorter last block
    reuses the buffers of its full blocks.  Contents are not preserved
    across calls of different shapes.
    """
    store = work.setdefault(key, {})
    views = []
    for name, shape in shapes.items():
        size = math.prod(shape)
        flat = store.get(name)
        if flat is None or flat.size < size:
            flat = store[name] = np.empty(size, dtype=dtype)
        views.append(flat[:size].reshape(shape))
    return views


class Kernel(NamedTuple):
    """Quantities derived once per pass from the parameters, used per block."""

    means_c: FloatArray  # (n_components, n_features), centred on the origin
    log_det: FloatArray  # (n_components,), log-det of the precision Cholesky
    arrays: dict[str, Any]


class CovarianceModel(ABC):
    """Strategy for one covariance structure."""

    name: str
    scatter_kind: str

    @abstractmethod
    def covariance_shape(self, n_components: int, n_features: int) -> tuple:
        """Shape of ``covariances_`` (and ``precisions_``)."""

    @abstractmethod
    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free parameters of the covariances."""

    # -- per-block engine -------------------------------------------------
    @abstractmethod
    def prepare(self, means_c, precisions_cholesky, dtype) -> Kernel:
        """Precompute what :meth:`log_prob` and :meth:`block_stats` need."""

    @abstractmethod
    def log_prob(self, kernel: Kernel, Xc) -> tuple[FloatArray, Any]:
        """Log Gaussian densities of a block.

        Returns the array of shape (n_rows, n_components) and a cache that
        :meth:`block_stats` may reuse.
        """

    @abstractmethod
    def block_stats(self, kernel: Kernel, Xc, wresp, sample_weight=None, cache=None):
        """Centred sums of a block.

        Parameters
        ----------
        kernel : Kernel
            From :meth:`prepare`; its means are the centring shift.
        Xc : ndarray of shape (n_rows, n_features)
        wresp : ndarray of shape (n_rows, n_components)
            Responsibilities times row weights.
        sample_weight : ndarray of shape (n_rows,) or None
            Row weights (None: all 1).  'tied' sums the total scatter over all
            rows with these weights, as scikit-learn does, which differs from
            summing ``wresp`` only when rows carry no responsibility.
        cache : object or None
            What :meth:`log_prob` returned for the same block, if anything.

        Returns
        -------
        resp_x_sum : ndarray of shape (n_components, n_features), float64
        scatter : ndarray, float64, reduced as ``scatter_kind`` says
        """

    def em_block_sums(self, kernel: Kernel, X_block, origin, log_weights, sample_weight, work: dict):
        """Fused E-step and raw M-step sums of one block (of a pass's blocks).

        The generic version: log densities, log-space normalisation, then
        :meth:`block_stats`.  Strategies may override it with a faster fused
        kernel whose sums stay in their own coordinates until
        :meth:`finish_sums`.

        Parameters
        ----------
        kernel : Kernel
        X_block : ndarray of shape (n_rows, n_features)
            Rows, not yet centred on ``origin``.
        origin : ndarray of shape (n_features,)
        log_weights : ndarray of shape (n_components,)
        sample_weight : ndarray of shape (n_rows,) or None
        work : dict
            Scratch buffers owned by the calling thread, reused across blocks.

        Returns
        -------
        log_likelihood : float
            Sum over rows of ``w * log p(x)``.
        resp_sum : ndarray of shape (n_components,)
        raw_x_sum, raw_scatter : ndarray
            Sums that :meth:`finish_sums` turns into ``resp_x_sum`` and
            ``scatter`` (after summing over blocks).
        """
        Xc = X_block - origin
        log_prob, cache = self.log_prob(kernel, Xc)
        log_prob += log_weights
        log_norm, wresp = log_normalise_rows(log_prob)
        exp_above_floor(wresp, out=wresp)
        if sample_weight is None:
            log_likelihood = float(log_norm.sum(dtype=np.float64))
        else:
            wresp *= sample_weight[:, None]
            log_likelihood = float(np.dot(sample_weight, log_norm.astype(np.float64)))
        resp_x_sum, scatter = self.block_stats(kernel, Xc, wresp, sample_weight, cache)
        return log_likelihood, wresp.sum(axis=0, dtype=np.float64), resp_x_sum, scatter

    def weighted_log_prob_block(self, kernel: Kernel, X_block, origin, log_weights, work: dict):
        """``log p(x | k) + log w_k`` of a block, shape (n_rows, n_components).

        The result may live in ``work``: it is valid until the next call with
        the same ``work``.
        """
        log_prob, _ = self.log_prob(kernel, X_block - origin)
        log_prob += log_weights
        return log_prob

    def resp_block_sums(self, kernel: Kernel, X_block, origin, wresp, sample_weight, work: dict):
        """Raw sums (as :meth:`em_block_sums`) for given weighted responsibilities.

        ``wresp`` has shape (n_rows, n_components) and already includes the
        row weights; ``sample_weight`` is passed for strategies that also sum
        over rows (``'tied'``).
        """
        return self.block_stats(kernel, X_block - origin, wresp, sample_weight, None)

    def finish_sums(self, kernel: Kernel, raw_x_sum, raw_scatter):
        """``resp_x_sum`` and ``scatter`` (float64, centred) from summed raw sums."""
        return raw_x_sum, raw_scatter

    # -- M-step and parameter maps ----------------------------------------
    @abstractmethod
    def estimate_covariances(self, stats: SufficientStats, nk, reg_covar) -> FloatArray:
        """Covariances (float64) about the new means from centred statistics."""

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
    def check_precisions(self, precisions) -> None:
        """Raise ValueError unless user-given precisions are positive definite."""

    @abstractmethod
    def sample(self, rng, means, covariances, counts) -> FloatArray:
        """Draw ``counts[k]`` rows from each component, stacked in order."""


def _failed_components(covariances) -> list[int]:
    failed = []
    for k, covariance in enumerate(covariances):
        try:
            linalg.cholesky(covariance, lower=True)
        except linalg.LinAlgError:
            failed.append(k)
    return failed


def _cholesky_precisions(covariances, dtype):
    """Upper-triangular precision factors of a stack of covariances."""
    if not np.all(np.isfinite(covariances)):
        bad = np.flatnonzero(~np.isfinite(covariances).reshape(len(covariances), -1).all(1))
        raise ValueError(degenerate_covariance_message(bad, dtype))
    try:
        cov_chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        raise ValueError(
            degenerate_covariance_message(_failed_components(covariances), dtype)
        ) from None
    n_features = covariances.shape[-1]
    eye = np.eye(n_features)
    prec_chol = np.empty_like(covariances)
    for k, chol in enumerate(cov_chol):
        prec_chol[k] = linalg.solve_triangular(chol, eye, lower=True).T
    if np.any(np.diagonal(prec_chol, axis1=1, axis2=2) <= 0) or not np.all(
        np.isfinite(prec_chol)
    ):
        bad = np.flatnonzero(~np.isfinite(prec_chol).reshape(len(prec_chol), -1).all(1))
        raise ValueError(degenerate_covariance_message(bad, dtype))
    return prec_chol


def _flip(matrix):
    return matrix[..., ::-1, ::-1]


def _upper_cholesky_of_precisions(precisions):
    # U U^T factorisation: Cholesky of the row/column-reversed matrix, reversed back
    # (scikit-learn #26415), so no covariance matrix is ever formed.
    return _flip(np.linalg.cholesky(_flip(precisions)))


def _covariance_cholesky(prec_chol):
    """Lower Cholesky factor C of the covariance, C = L^{-T}, per component."""
    n_features = prec_chol.shape[-1]
    eye = np.eye(n_features)
    return np.stack(
        [linalg.solve_triangular(chol, eye, lower=False).T for chol in prec_chol]
    )


def _check_symmetric_positive_definite(precision, name):
    precision = np.asarray(precision, dtype=np.float64)
    if not (
        np.allclose(precision, precision.T) and np.all(np.linalg.eigvalsh(precision) > 0)
    ):
        raise ValueError(
            f"'{name} precision' should be symmetric, positive-definite; check "
            "precisions_init (it holds inverse covariances, not covariances)."
        )


def _shift_correction(stats: SufficientStats, nk):
    """What moves the scatter from ``shift`` onto the new means ``shift + a / nk``.

    Moving the centre from ``shift`` to ``shift + delta`` with
    ``delta = a / nk`` changes the scatter by ``-a a^T (2 nk - n) / nk^2``,
    where ``a`` is ``resp_x_sum`` and ``n`` is ``resp_sum``.
    """
    factor = (2 * nk - stats.resp_sum) / nk**2
    return stats.resp_x_sum, factor


class FullCovariance(CovarianceModel):
    """Each component has its own general covariance matrix."""

    name = "full"
    scatter_kind = "full"

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def prepare(self, means_c, precisions_cholesky, dtype):
        prec_chol = np.asarray(precisions_cholesky, dtype=np.float64)
        whiten = prec_chol.astype(dtype)
        offsets = np.einsum("kd,kde->ke", means_c.astype(np.float64), prec_chol)
        log_det = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
        # [-mu_k L_k; L_k]^T, so that [1, x - o] @ its transpose = (x - mu_k) L_k
        whiten_aug_t = np.concatenate([-offsets[:, None, :], prec_chol], axis=1).transpose(0, 2, 1)
        compiled = compiled_kernels()
        n_components, n_features = means_c.shape
        bounds = _whitening_bounds(n_features, compiled is not None)
        return Kernel(
            means_c=means_c,
            log_det=log_det,
            arrays={
                "whiten": whiten,
                "offsets": offsets.astype(dtype)[:, None, :],
                "bounds": bounds,
                # Output features start:stop of every component depend only on
                # inputs [1, x_0 .. x_{stop-1}] (L_k is upper triangular): one
                # product per slice, stacked over components, skips the zeros.
                "whiten_slices": [
                    np.ascontiguousarray(whiten_aug_t[:, start:stop, : stop + 1]).reshape(-1, stop + 1).astype(dtype)
                    for start, stop in zip(bounds[:-1], bounds[1:])
                ],
                # with the compiled kernels: where each (component, feature) row is
                "rows_of": None if compiled is None else _rows_of(bounds, n_components, compiled.TILE),
                "cov_chol": _covariance_cholesky(prec_chol),
                "constant": (log_det - 0.5 * n_features * LOG_2PI).astype(dtype),
            },
        )

    def _whiten(self, kernel, Xc):
        # One batched product for all components: y_k = (x - mu_k) L_k, laid out
        # (n_components, n_rows, n_features) so each product is a contiguous GEMM.
        whitened = np.matmul(Xc[None], kernel.arrays["whiten"])
        whitened -= kernel.arrays["offsets"]
        return whitened

    def log_prob(self, kernel, Xc):
        whitened = self._whiten(kernel, Xc)
        maha = np.einsum("kbd,kbd->kb", whitened, whitened)
        maha *= -0.5
        maha += kernel.arrays["constant"][:, None]
        return maha.T, whitened

    def block_stats(self, kernel, Xc, wresp, sample_weight=None, cache=None):
        whitened = self._whiten(kernel, Xc) if cache is None else cache
        wresp_t = np.ascontiguousarray(wresp.T)
        weighted = whitened * wresp_t[:, :, None]
        # Sums in whitened coordinates are centred and O(1): accurate in float32.
        white_scatter = np.matmul(weighted.transpose(0, 2, 1), whitened)
        white_sum = weighted.sum(axis=1)
        cov_chol = kernel.arrays["cov_chol"]
        # x - mu = y C^T with C the covariance Cholesky factor (C = L^-T).
        resp_x_sum = np.einsum("ke,kde->kd", white_sum.astype(np.float64), cov_chol)
        scatter = np.matmul(
            np.matmul(cov_chol, white_scatter.astype(np.float64)),
            cov_chol.transpose(0, 2, 1),
        )
        return resp_x_sum, scatter

    # Fused kernels, laid out feature-major (n_components, n_features, n_rows):
    # every elementwise pass (|y|^2, the sqrt(r) weighting) and every reduction
    # over components runs along contiguous rows, and every product is one BLAS
    # call per slice of features or per component.  Sums stay in whitened
    # coordinates (centred on each component's mean, O(1) in size) until
    # finish_sums maps them back once per pass.
    def _whiten_block(self, kernel, X_block, origin, work) -> _WhitenedBlock:
        n_rows, n_features = X_block.shape
        bounds = kernel.arrays["bounds"]
        rows_of = _compiled_rows(kernel)
        n_components = kernel.means_c.shape[0]
        dtype = kernel.arrays["constant"].dtype
        n_sums = n_features if rows_of is None else rows_of.shape[1]
        shapes = {
            "augmented_t": (n_features + 1, n_rows),
            # the last row stays zero: the compiled kernels' padding features
            "whitened": (n_components * n_features + 1, n_rows),
            "log_resp": (n_components, n_rows),
            "scatter": (n_components, n_sums, n_sums),
            "white_sum": (n_components, n_sums),
        }
        if rows_of is None and (len(bounds) > 2 or n_features <= SMALL_SCATTER_FEATURES):
            # numpy: sqrt(r) y gathered from the slices, or r y for the few-feature sums
            shapes["weighted"] = (n_components, n_features, n_rows)
        buffers = _prefix_buffers(work, ("full-t", n_components, n_features, dtype), dtype, shapes)
        augmented_t, whitened = buffers[:2]
        augmented_t[0] = 1
        np.subtract(X_block.T, origin[:, None], out=augmented_t[1:])
        whitened[-1] = 0
        pieces = []
        for (start, stop), coefficients in zip(zip(bounds[:-1], bounds[1:]), kernel.arrays["whiten_slices"]):
            piece = whitened[n_components * start : n_components * stop]
            np.matmul(coefficients, augmented_t[: stop + 1], out=piece)
            pieces.append(piece.reshape(n_components, stop - start, n_rows))
        log_resp, scatter, white_sum = buffers[2:5]
        weighted = buffers[5] if len(buffers) > 5 else None
        return _WhitenedBlock(whitened, pieces, log_resp, scatter, white_sum, weighted)

    @staticmethod
    def _weighted_log_prob_into(kernel, block, log_weights):
        log_resp = block.log_resp
        rows_of = _compiled_rows(kernel)
        if rows_of is not None:
            compiled_kernels().sum_squares(block.whitened, rows_of, log_resp)
        else:
            np.einsum("kdb,kdb->kb", block.pieces[0], block.pieces[0], out=log_resp)
            for piece in block.pieces[1:]:
                log_resp += np.einsum("kdb,kdb->kb", piece, piece)
        log_resp *= -0.5
        log_resp += (kernel.arrays["constant"] + log_weights)[:, None]

    @staticmethod
    def _white_sums(kernel, block, resp):
        """``sum r y`` and ``sum r y y^T`` per component; may overwrite ``resp``."""
        n_features = len(kernel.arrays["cov_chol"][0])
        rows_of = _compiled_rows(kernel)
        scatter, weighted = block.scatter, block.weighted
        if rows_of is not None:
            compiled_kernels().weighted_scatter(block.whitened, rows_of, resp, scatter, block.white_sum)
            return block.white_sum[:, :n_features], scatter[:, :n_features, :n_features]
        if n_features <= SMALL_SCATTER_FEATURES:
            # Few features: BLAS's d x d products are slow and serialise across
            # threads here; r y once, then row sums and d^2 dot products.
            (whitened,) = block.pieces
            np.multiply(whitened, resp[:, None, :], out=weighted)
            np.einsum("kib,kjb->kij", weighted, whitened, out=scatter)
            return weighted.sum(axis=2), scatter
        # sum_b r y y^T as Z Z^T with Z = sqrt(r) y^T: a symmetric rank-k update.
        np.sqrt(resp, out=resp)
        if weighted is None:
            (weighted,) = block.pieces
            weighted *= resp[:, None, :]
        else:
            # gather the slices into one (n_features, n_rows) array per component
            bounds = kernel.arrays["bounds"]
            for start, stop, piece in zip(bounds[:-1], bounds[1:], block.pieces):
                np.multiply(piece, resp[:, None, :], out=weighted[:, start:stop])
        white_sum = np.matmul(weighted, resp[:, :, None])[:, :, 0]
        np.matmul(weighted, weighted.transpose(0, 2, 1), out=scatter)
        return white_sum, scatter

    def em_block_sums(self, kernel, X_block, origin, log_weights, sample_weight, work):
        block = self._whiten_block(kernel, X_block, origin, work)
        self._weighted_log_prob_into(kernel, block, log_weights)
        log_likelihood = _responsibilities_by_component(block.log_resp, sample_weight)
        resp_sum = block.log_resp.sum(axis=1, dtype=np.float64)
        white_sum, scatter = self._white_sums(kernel, block, block.log_resp)
        return log_likelihood, resp_sum, white_sum, scatter

    def weighted_log_prob_block(self, kernel, X_block, origin, log_weights, work):
        block = self._whiten_block(kernel, X_block, origin, work)
        self._weighted_log_prob_into(kernel, block, log_weights)
        return block.log_resp.T

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        block = self._whiten_block(kernel, X_block, origin, work)
        block.log_resp[...] = wresp.T
        return self._white_sums(kernel, block, block.log_resp)

    def finish_sums(self, kernel, raw_x_sum, raw_scatter):
        # x - mu = y C^T with C the covariance Cholesky factor (C = L^-T).
        cov_chol = kernel.arrays["cov_chol"]
        resp_x_sum = np.einsum("ke,kde->kd", np.asarray(raw_x_sum, np.float64), cov_chol)
        scatter = np.matmul(np.matmul(cov_chol, np.asarray(raw_scatter, np.float64)), cov_chol.transpose(0, 2, 1))
        return resp_x_sum, scatter

    def estimate_covariances(self, stats, nk, reg_covar):
        a, factor = _shift_correction(stats, nk)
        scatter = stats.scatter - factor[:, None, None] * a[:, :, None] * a[:, None, :]
        covariances = scatter / nk[:, None, None]
        covariances = 0.5 * (covariances + covariances.transpose(0, 2, 1))
        n_features = covariances.shape[-1]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
        return covariances

    def compute_precisions_cholesky(self, covariances):
        return _cholesky_precisions(np.asarray(covariances, np.float64), covariances.dtype)

    def precisions_cholesky_from_precisions(self, precisions):
        return _upper_cholesky_of_precisions(precisions)

    def compute_precisions(self, precisions_cholesky):
        return np.matmul(precisions_cholesky, precisions_cholesky.transpose(0, 2, 1))

    def covariances_from_precisions_cholesky(self, precisions_cholesky):
        cov_chol = _covariance_cholesky(np.asarray(precisions_cholesky, np.float64))
        return np.matmul(cov_chol, cov_chol.transpose(0, 2, 1))

    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        return np.broadcast_to(np.eye(n_features, dtype=dtype), (n_components, n_features, n_features))

    def check_precisions(self, precisions):
        for precision in precisions:
            _check_symmetric_positive_definite(precision, self.name)

    def sample(self, rng, means, covariances, counts):
        return np.vstack(
            [
                rng.multivariate_normal(mean, covariance, int(count))
                for mean, covariance, count in zip(means, covariances, counts)
            ]
        )


class TiedCovariance(CovarianceModel):
    """All components share one general covariance matrix."""

    name = "tied"
    scatter_kind = "tied"

    def covariance_shape(self, n_components, n_features):
        return (n_features, n_features)

    def n_covariance_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def prepare(self, means_c, precisions_cholesky, dtype):
        prec_chol = np.asarray(precisions_cholesky, dtype=np.float64)
        log_det = np.log(np.diagonal(prec_chol)).sum()
        white_means = means_c.astype(np.float64) @ prec_chol
        n_components, n_features = means_c.shape
        constant = log_det - 0.5 * n_features * LOG_2PI - 0.5 * (white_means**2).sum(1)
        return Kernel(
            means_c=means_c,
            log_det=np.full(n_components, log_det),
            arrays={
                "whiten": prec_chol.astype(dtype),
                "white_means_t": white_means.T.astype(dtype),
                "coef": np.column_stack(
                    [white_means, np.full(n_components, -0.5), constant]
                ).astype(dtype),
                "constant": constant.astype(dtype),
            },
        )

    def log_prob(self, kernel, Xc):
        # The same whitening for every component: one product, then the
        # expanded square |y|^2 - 2 y.m + |m|^2 (scikit-learn repeats it K times).
        whitened = Xc @ kernel.arrays["whiten"]
        log_prob = whitened @ kernel.arrays["white_means_t"]
        log_prob -= 0.5 * np.einsum("bd,bd->b", whitened, whitened)[:, None]
        log_prob += kernel.arrays["constant"]
        return log_prob, None

    def block_stats(self, kernel, Xc, wresp, sample_weight=None, cache=None):
        X64 = np.asarray(Xc, dtype=np.float64)
        wresp64 = np.asarray(wresp, dtype=np.float64)
        means_c = kernel.means_c.astype(np.float64)
        x_sum = wresp64.T @ X64
        nk = wresp64.sum(axis=0)
        row_weight = np.ones(len(X64)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        total = X64.T @ (X64 * row_weight[:, None])
        cross = x_sum.T @ means_c
        scatter = total - cross - cross.T + means_c.T @ (means_c * nk[:, None])
        return x_sum - nk[:, None] * means_c, scatter

    def em_block_sums(self, kernel, X_block, origin, log_weights, sample_weight, work):
        # One whitening product for all components, then log densities as one
        # product of [y, |y|^2, 1] with [m_k, -1/2, c_k]: laid out
        # (n_components, n_rows).  Raw sums are taken about the origin in
        # float64 and moved onto the means once per pass (finish_sums).
        n_rows, n_features = X_block.shape
        whiten = kernel.arrays["whiten"]
        dtype = whiten.dtype
        coef = kernel.arrays["coef"]
        n_components = coef.shape[0]

        def make():
            features = np.empty((n_rows, n_features + 2), dtype=dtype)
            features[:, n_features + 1] = 1
            centred = np.empty((n_rows, n_features + 1), dtype=np.float64)
            centred[:, n_features] = 1
            return features, centred, np.empty((n_components, n_rows), dtype=dtype)

        features, centred, log_resp = _work_buffers(work, ("tied", n_rows, dtype), make)
        np.subtract(X_block, origin, out=centred[:, :n_features])
        Xc = centred[:, :n_features]
        features[:, :n_features] = Xc @ whiten
        whitened = features[:, :n_features]
        np.einsum("bd,bd->b", whitened, whitened, out=features[:, n_features])
        np.matmul(coef, features.T, out=log_resp)
        log_resp += log_weights[:, None]
        log_likelihood = _responsibilities_by_component(log_resp, sample_weight)
        x_sum, total = self._raw_sums(centred, log_resp, sample_weight)
        return log_likelihood, x_sum[:, n_features], x_sum, total

    @staticmethod
    def _raw_sums(centred, resp, sample_weight):
        # [sum r (x - o), sum r] in one product, and the total scatter about o.
        x_sum = np.asarray(resp, np.float64) @ centred
        Xc = centred[:, :-1]
        weighted = Xc if sample_weight is None else Xc * sample_weight[:, None]
        return x_sum, weighted.T @ Xc

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        n_rows, n_features = X_block.shape

        def make():
            centred = np.empty((n_rows, n_features + 1), dtype=np.float64)
            centred[:, n_features] = 1
            return centred

        centred = _work_buffers(work, ("tied-resp", n_rows), make)
        np.subtract(X_block, origin, out=centred[:, :n_features])
        return self._raw_sums(centred, np.asarray(wresp).T, sample_weight)

    def finish_sums(self, kernel, raw_x_sum, raw_scatter):
        means_c = kernel.means_c.astype(np.float64)
        nk = raw_x_sum[:, -1]
        x_sum = raw_x_sum[:, :-1]
        cross = x_sum.T @ means_c
        scatter = raw_scatter - cross - cross.T + means_c.T @ (means_c * nk[:, None])
        return x_sum - nk[:, None] * means_c, scatter

    def estimate_covariances(self, stats, nk, reg_covar):
        a, factor = _shift_correction(stats, nk)
        covariance = (stats.scatter - (a.T * factor) @ a) / nk.sum()
        covariance = 0.5 * (covariance + covariance.T)
        covariance[np.diag_indices_from(covariance)] += reg_covar
        return covariance

    def compute_precisions_cholesky(self, covariances):
        covariances = np.asarray(covariances)
        return _cholesky_precisions(covariances[None].astype(np.float64), covariances.dtype)[0]

    def precisions_cholesky_from_precisions(self, precisions):
        return _upper_cholesky_of_precisions(precisions)

    def compute_precisions(self, precisions_cholesky):
        return precisions_cholesky @ precisions_cholesky.T

    def covariances_from_precisions_cholesky(self, precisions_cholesky):
        cov_chol = _covariance_cholesky(np.asarray(precisions_cholesky, np.float64)[None])[0]
        return cov_chol @ cov_chol.T

    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        return np.eye(n_features, dtype=dtype)

    def check_precisions(self, precisions):
        _check_symmetric_positive_definite(precisions, self.name)

    def sample(self, rng, means, covariances, counts):
        return np.vstack(
            [rng.multivariate_normal(mean, covariances, int(count)) for mean, count in zip(means, counts)]
        )


class DiagCovariance(CovarianceModel):
    """Each component has its own diagonal covariance matrix."""

    name = "diag"
    scatter_kind = "diag"

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features

    def _precisions_per_feature(self, precisions_cholesky, n_features):
        return np.asarray(precisions_cholesky, dtype=np.float64) ** 2

    def _log_det(self, precisions_cholesky, n_features):
        return np.log(np.asarray(precisions_cholesky, np.float64)).sum(axis=1)

    def prepare(self, means_c, precisions_cholesky, dtype):
        n_components, n_features = means_c.shape
        precisions = np.broadcast_to(
            self._precisions_per_feature(precisions_cholesky, n_features),
            (n_components, n_features),
        )
        means64 = means_c.astype(np.float64)
        log_det = self._log_det(precisions_cholesky, n_features)
        constant = log_det - 0.5 * n_features * LOG_2PI - 0.5 * (means64**2 * precisions).sum(1)
        return Kernel(
            means_c=means_c,
            log_det=log_det,
            arrays={
                "precisions_t": (-0.5 * precisions.T).astype(dtype),
                # log densities = [x^2, x, 1] @ coef.T
                "coef": np.hstack([-0.5 * precisions, means64 * precisions, constant[:, None]]).astype(dtype),
                "scaled_means_t": (means64 * precisions).T.astype(dtype),
                "constant": constant.astype(dtype),
            },
        )

    def log_prob(self, kernel, Xc):
        # Expanded quadratic form as two products; Xc is centred on the mixture
        # mean, which keeps the cancellation small.
        log_prob = (Xc * Xc) @ kernel.arrays["precisions_t"]
        log_prob += Xc @ kernel.arrays["scaled_means_t"]
        log_prob += kernel.arrays["constant"]
        return log_prob, None

    def block_stats(self, kernel, Xc, wresp, sample_weight=None, cache=None):
        X64 = np.asarray(Xc, dtype=np.float64)
        wresp64 = np.asarray(wresp, dtype=np.float64)
        means_c = kernel.means_c.astype(np.float64)
        x_sum = wresp64.T @ X64
        nk = wresp64.sum(axis=0)
        xx_sum = wresp64.T @ (X64 * X64)
        scatter = xx_sum - 2 * means_c * x_sum + nk[:, None] * means_c**2
        return x_sum - nk[:, None] * means_c, scatter

    def em_block_sums(self, kernel, X_block, origin, log_weights, sample_weight, work):
        # Log densities of all components as one product of [x^2, x, 1] with
        # [-p/2, p mu, c], laid out (n_components, n_rows); the same features
        # give [sum r x^2, sum r x, sum r] in one more product, in float64,
        # about the origin, moved onto the means once per pass.
        n_rows, n_features = X_block.shape
        coef = kernel.arrays["coef"]
        dtype = coef.dtype
        n_components = coef.shape[0]

        def make():
            features = np.empty((n_rows, 2 * n_features + 1), dtype=dtype)
            features[:, 2 * n_features] = 1
            return features, np.empty((n_components, n_rows), dtype=dtype)

        features, log_resp = _work_buffers(work, ("diag", n_rows, dtype), make)
        Xc = features[:, n_features : 2 * n_features]
        np.subtract(X_block, origin, out=Xc)
        np.square(Xc, out=features[:, :n_features])
        np.matmul(coef, features.T, out=log_resp)
        log_resp += log_weights[:, None]
        log_likelihood = _responsibilities_by_component(log_resp, sample_weight)
        sums, empty = self._raw_sums(features, log_resp)
        return log_likelihood, sums[:, 2 * n_features], sums, empty

    @staticmethod
    def _raw_sums(features, resp):
        # [sum r x^2, sum r x, sum r] about the origin, in float64
        if features.dtype == np.float64 and resp.dtype == np.float64:
            return resp @ features, np.zeros(0)
        return np.asarray(resp, np.float64) @ np.asarray(features, np.float64), np.zeros(0)

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        n_rows, n_features = X_block.shape

        def make():
            features = np.empty((n_rows, 2 * n_features + 1), dtype=np.float64)
            features[:, 2 * n_features] = 1
            return features

        features = _work_buffers(work, ("diag-resp", n_rows), make)
        Xc = features[:, n_features : 2 * n_features]
        np.subtract(X_block, origin, out=Xc)
        np.square(Xc, out=features[:, :n_features])
        return self._raw_sums(features, np.asarray(wresp).T)

    def finish_sums(self, kernel, raw_x_sum, raw_scatter):
        n_features = kernel.means_c.shape[1]
        means_c = kernel.means_c.astype(np.float64)
        xx_sum = raw_x_sum[:, :n_features]
        x_sum = raw_x_sum[:, n_features : 2 * n_features]
        nk = raw_x_sum[:, 2 * n_features]
        scatter = xx_sum - 2 * means_c * x_sum + nk[:, None] * means_c**2
        return x_sum - nk[:, None] * means_c, scatter

    def _diagonal_variances(self, stats, nk, reg_covar):
        a, factor = _shift_correction(stats, nk)
        variances = (stats.scatter - factor[:, None] * a**2) / nk[:, None]
        # Rounding can leave -eps where the true variance is 0 (scikit-learn #30382).
        return np.maximum(variances, 0.0) + reg_covar

    def estimate_covariances(self, stats, nk, reg_covar):
        return self._diagonal_variances(stats, nk, reg_covar)

    def compute_precisions_cholesky(self, covariances):
        covariances = np.asarray(covariances)
        flat = covariances.reshape(len(covariances), -1)
        bad = np.flatnonzero(~(np.isfinite(flat) & (flat > 0)).all(axis=1))
        if bad.size:
            raise ValueError(degenerate_covariance_message(bad, covariances.dtype))
        return 1.0 / np.sqrt(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def compute_precisions(self, precisions_cholesky):
        return precisions_cholesky**2

    def covariances_from_precisions_cholesky(self, precisions_cholesky):
        return 1.0 / np.asarray(precisions_cholesky, np.float64) ** 2

    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        return np.ones(self.covariance_shape(n_components, n_features), dtype=dtype)

    def check_precisions(self, precisions):
        if np.any(np.asarray(precisions) <= 0.0):
            raise ValueError(
                f"'{self.name} precision' should be positive; check precisions_init "
                "(it holds inverse variances)."
            )

    def sample(self, rng, means, covariances, counts):
        n_features = means.shape[1]
        return np.vstack(
            [
                mean + rng.standard_normal(size=(int(count), n_features)) * np.sqrt(covariance)
                for mean, covariance, count in zip(means, covariances, counts)
            ]
        )


class SphericalCovariance(DiagCovariance):
    """Each component has its own single variance."""

    name = "spherical"

    def covariance_shape(self, n_components, n_features):
        return (n_components,)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components

    def _precisions_per_feature(self, precisions_cholesky, n_features):
        return np.asarray(precisions_cholesky, dtype=np.float64)[:, None] ** 2

    def _log_det(self, precisions_cholesky, n_features):
        return n_features * np.log(np.asarray(precisions_cholesky, np.float64))

    def estimate_covariances(self, stats, nk, reg_covar):
        return self._diagonal_variances(stats, nk, reg_covar).mean(axis=1)

    def sample(self, rng, means, covariances, counts):
        return super().sample(rng, means, np.asarray(covariances)[:, None], counts)


COVARIANCE_MODELS: dict[str, CovarianceModel] = {
    model.name: model
    for model in (FullCovariance(), TiedCovariance(), DiagCovariance(), SphericalCovariance())
}


def get_covariance_model(covariance_type: str) -> CovarianceModel:
    """Look up the strategy for ``covariance_type``."""
    try:
        return COVARIANCE_MODELS[covariance_type]
    except KeyError:
        raise ValueError(
            f"Unknown covariance_type {covariance_type!r}; valid types are "
            f"{sorted(COVARIANCE_MODELS)}."
        ) from None

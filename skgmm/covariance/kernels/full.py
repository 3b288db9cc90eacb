"""Per-block kernels of the 'full' strategy: sliced whitening and fused sums.

Laid out feature-major (n_components, n_features, n_rows): every elementwise
pass (|y|^2, the sqrt(r) weighting) and every reduction over components runs
along contiguous rows, and every product is one BLAS call per slice of
features or per component.  Sums stay in whitened coordinates (centred on each
component's mean, O(1) in size) until the strategy maps them back once per pass.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from skgmm._typing import FloatArray
from skgmm.covariance.base import prefix_buffers
from skgmm.covariance.kernels import compiled_kernels

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


@functools.lru_cache(maxsize=64)
def whitening_bounds(n_features: int, compiled: bool) -> tuple[int, ...]:
    """Feature boundaries of the slices the 'full' whitening product is split into.

    Cached, like :func:`shared_rows_of_table`: every pass asks for them.
    """
    width = COMPILED_FEATURES_PER_SLICE if compiled else FEATURES_PER_SLICE
    n_slices = min(MAX_WHITENING_SLICES, max(1, n_features // width))
    return tuple(round(n_features * j / n_slices) for j in range(n_slices + 1))


def rows_of_table(bounds, n_components, tile):
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
        rows_of[:, start:stop] = (
            n_components * start + np.arange(n_components)[:, None] * width + np.arange(width)
        )
    return rows_of


@functools.lru_cache(maxsize=64)
def shared_rows_of_table(bounds: tuple, n_components: int, tile: int):
    """:func:`rows_of_table`, made once per shape (every pass asks for it); read-only."""
    rows_of = rows_of_table(bounds, n_components, tile)
    rows_of.flags.writeable = False
    return rows_of


def compiled_rows(kernel):
    """The kernel's row table when the compiled kernels run here, else None.

    A kernel prepared where the C kernels run may be used where they do not
    (a Dask worker installed without a compiler): the numpy code then
    handles the same slices.
    """
    rows_of = kernel.arrays["rows_of"]
    return None if rows_of is None or compiled_kernels() is None else rows_of


class WhitenedBlock(NamedTuple):
    """Scratch arrays of one block of the 'full' kernels (views of a thread's buffers)."""

    whitened: FloatArray  # (n_components * n_features + 1, n_rows), last row zero
    pieces: list  # one (n_components, width, n_rows) view of ``whitened`` per slice
    resp: FloatArray  # (n_components, n_rows): log-densities, then (in place) weighted responsibilities
    scatter: FloatArray
    white_sum: FloatArray
    weighted: FloatArray | None
    bound: object | None  # with the compiled kernels: their BoundBlock for these buffers


def whitening_slices(whiten_aug_t, bounds, dtype):
    """The coefficients of each slice's product: output features start:stop of
    every component depend only on inputs [1, x_0 .. x_{stop-1}] (L_k is upper
    triangular), so one product per slice, stacked over components, skips the zeros.
    """
    return [
        np.ascontiguousarray(whiten_aug_t[:, start:stop, : stop + 1]).reshape(-1, stop + 1).astype(dtype)
        for start, stop in zip(bounds[:-1], bounds[1:])
    ]


def whiten_block(kernel, X_block, origin, work) -> WhitenedBlock:
    """``y_k = (x - mu_k) L_k`` of every row and component, into the thread's buffers."""
    n_rows, n_features = X_block.shape
    bounds = kernel.arrays["bounds"]
    rows_of = compiled_rows(kernel)
    n_components = kernel.means_c.shape[0]
    dtype = kernel.arrays["constant"].dtype
    n_sums = n_features if rows_of is None else rows_of.shape[1]
    shapes = {
        "augmented_t": (n_features + 1, n_rows),
        # the last row stays zero: the compiled kernels' padding features
        "whitened": (n_components * n_features + 1, n_rows),
        "resp": (n_components, n_rows),
        "scatter": (n_components, n_sums, n_sums),
        "white_sum": (n_components, n_sums),
    }
    if rows_of is None and (len(bounds) > 2 or n_features <= SMALL_SCATTER_FEATURES):
        # numpy: sqrt(r) y gathered from the slices, or r y for the few-feature sums
        shapes["weighted"] = (n_components, n_features, n_rows)
    buffers = prefix_buffers(work, ("full-t", n_components, n_features, dtype), dtype, shapes)
    augmented_t, whitened = buffers[:2]
    augmented_t[0] = 1
    np.subtract(X_block.T, origin[:, None], out=augmented_t[1:])
    whitened[-1] = 0
    pieces = []
    for (start, stop), coefficients in zip(zip(bounds[:-1], bounds[1:]), kernel.arrays["whiten_slices"]):
        piece = whitened[n_components * start : n_components * stop]
        np.matmul(coefficients, augmented_t[: stop + 1], out=piece)
        pieces.append(piece.reshape(n_components, stop - start, n_rows))
    resp, scatter, white_sum = buffers[2:5]
    weighted = buffers[5] if len(buffers) > 5 else None
    bound = None
    if rows_of is not None:
        arrays = (whitened, rows_of, resp, scatter, white_sum)
        key = ("full-bound", n_components, n_features, dtype)
        bound = work.get(key)
        # the same buffers (held by the bound calls, so not another array at a reused address)
        if bound is None or any(a is not b for a, b in zip(bound.arrays, arrays)):
            bound = work[key] = compiled_kernels().bind_block(*arrays)
    return WhitenedBlock(whitened, pieces, resp, scatter, white_sum, weighted, bound)


def weighted_log_prob_into(kernel, block: WhitenedBlock, log_weights):
    """``block.resp`` <- ``log p(x | k) + log w_k``, component-major."""
    out = block.resp
    if block.bound is not None:
        compiled_kernels().run_bound(block.bound.sum_squares)
    else:
        np.einsum("kdb,kdb->kb", block.pieces[0], block.pieces[0], out=out)
        for piece in block.pieces[1:]:
            out += np.einsum("kdb,kdb->kb", piece, piece)
    out *= -0.5
    out += (kernel.arrays["constant"] + log_weights)[:, None]


def white_sums(kernel, block: WhitenedBlock, resp):
    """``sum r y`` and ``sum r y y^T`` per component; may overwrite ``resp``."""
    n_features = kernel.means_c.shape[1]
    rows_of = compiled_rows(kernel)
    scatter, weighted = block.scatter, block.weighted
    if rows_of is not None:
        if block.bound is not None and resp is block.resp:
            compiled_kernels().run_bound(block.bound.weighted_scatter)
        else:
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

"""Compiled loops of the 'full' E and M steps (imported only when numba is installed).

Both loops read the whitened rows ``y`` of every component straight from the
block's whitening products, through a table ``rows_of[k, i]`` of the row of
``whitened`` that holds feature ``i`` of component ``k`` (the products are
stacked per slice of features, see ``FullCovariance``).  Tables are padded to a
multiple of 4 features with the index of a row of zeros, so the 4 x 4 tiles
below need no remainder loops.

Loops run along the rows of the block (contiguous), which LLVM vectorises:
only reassociation and contraction to FMA are allowed, so NaN and infinities
propagate as in numpy.
"""

from __future__ import annotations

import numba

_jit = numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})

#: Features per tile of :func:`weighted_scatter` (tables are padded to a multiple).
TILE = 4


@_jit
def sum_squares(whitened, rows_of, out):
    """``out[k, b] = sum_i whitened[rows_of[k, i], b] ** 2`` (Mahalanobis distances)."""
    n_components, n_features = rows_of.shape
    n_rows = whitened.shape[1]
    for k in range(n_components):
        for b in range(n_rows):
            out[k, b] = 0
        for i in range(n_features):
            row = rows_of[k, i]
            for b in range(n_rows):
                value = whitened[row, b]
                out[k, b] += value * value


@_jit
def weighted_scatter(whitened, rows_of, resp, scatter, resp_y_sum):
    """Per component ``k``: ``sum_b r y y^T`` into ``scatter[k]``, ``sum_b r y`` into ``resp_y_sum[k]``.

    ``y`` is ``whitened[rows_of[k], b]`` and ``r`` is ``resp[k, b]``.  The
    upper triangle is summed in 4 x 4 tiles (16 accumulators along the rows,
    8 loads per 16 multiply-adds) and mirrored.
    """
    n_components, n_features = rows_of.shape
    n_rows = whitened.shape[1]
    zero = whitened.dtype.type(0)
    for k in range(n_components):
        for i0 in range(0, n_features, TILE):
            u0 = rows_of[k, i0]
            u1 = rows_of[k, i0 + 1]
            u2 = rows_of[k, i0 + 2]
            u3 = rows_of[k, i0 + 3]
            for j0 in range(i0, n_features, TILE):
                v0 = rows_of[k, j0]
                v1 = rows_of[k, j0 + 1]
                v2 = rows_of[k, j0 + 2]
                v3 = rows_of[k, j0 + 3]
                s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
                s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
                for b in range(n_rows):
                    r = resp[k, b]
                    x0 = whitened[u0, b] * r
                    x1 = whitened[u1, b] * r
                    x2 = whitened[u2, b] * r
                    x3 = whitened[u3, b] * r
                    y0 = whitened[v0, b]
                    y1 = whitened[v1, b]
                    y2 = whitened[v2, b]
                    y3 = whitened[v3, b]
                    s00 += x0 * y0
                    s01 += x0 * y1
                    s02 += x0 * y2
                    s03 += x0 * y3
                    s10 += x1 * y0
                    s11 += x1 * y1
                    s12 += x1 * y2
                    s13 += x1 * y3
                    s20 += x2 * y0
                    s21 += x2 * y1
                    s22 += x2 * y2
                    s23 += x2 * y3
                    s30 += x3 * y0
                    s31 += x3 * y1
                    s32 += x3 * y2
                    s33 += x3 * y3
                tile = scatter[k, i0 : i0 + TILE, j0 : j0 + TILE]
                tile[0, 0], tile[0, 1], tile[0, 2], tile[0, 3] = s00, s01, s02, s03
                tile[1, 0], tile[1, 1], tile[1, 2], tile[1, 3] = s10, s11, s12, s13
                tile[2, 0], tile[2, 1], tile[2, 2], tile[2, 3] = s20, s21, s22, s23
                tile[3, 0], tile[3, 1], tile[3, 2], tile[3, 3] = s30, s31, s32, s33
        for i in range(n_features):
            row = rows_of[k, i]
            total = zero
            for b in range(n_rows):
                total += whitened[row, b] * resp[k, b]
            resp_y_sum[k, i] = total
            for j in range(i):
                scatter[k, i, j] = scatter[k, j, i]

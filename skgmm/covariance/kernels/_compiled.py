"""The 'full' kernels in C (``skgmm/_ckernels/full.c``), for float64 and float32 blocks.

Both loops read the whitened rows ``y`` of every component straight from the
block's whitening products, through a table ``rows_of[k, i]`` of the row of
``whitened`` that holds feature ``i`` of component ``k`` (the products are
stacked per slice of features, see ``FullCovariance``).  Tables are padded to a
multiple of :data:`TILE` features with the index of a row of zeros, so the
4 x 4 tiles of :func:`weighted_scatter` need no remainder loops.

Importing this module raises ImportError when the library was not built.
"""

from __future__ import annotations

import ctypes
import functools
from typing import NamedTuple

import numpy as np

from skgmm._ckernels import (
    FLAG,
    POINTER,
    SIZE,
    address,
    as_input,
    check_output,
    declare,
    load_library,
    simd_level,
)

_library = load_library("_full")
if _library is None:
    raise ImportError("skgmm's C kernels were not built (no C compiler at install time?)")

#: Features per tile of :func:`weighted_scatter` (tables are padded to a multiple).
TILE = declare(_library, "skgmm_full_tile", FLAG)()

#: The instruction set the kernels run with here (the best copy this CPU runs).
SIMD = simd_level(_library, "skgmm_full")

_WHITENED = (POINTER, SIZE, SIZE, POINTER, SIZE, SIZE)
_SUM_SQUARES = {}
_WEIGHTED_SCATTER = {}
for _dtype, _suffix in ((np.dtype(np.float64), "f64"), (np.dtype(np.float32), "f32")):
    _SUM_SQUARES[_dtype] = declare(_library, f"skgmm_sum_squares_{_suffix}", FLAG, *_WHITENED, POINTER)
    _WEIGHTED_SCATTER[_dtype] = declare(
        _library, f"skgmm_weighted_scatter_{_suffix}", FLAG, *_WHITENED, POINTER, POINTER, POINTER
    )
_INDEX = np.dtype(np.intp)


def _whitened_arguments(functions, whitened, rows_of):
    """The C function for whitened's type, and the arguments that describe ``whitened`` and ``rows_of``."""
    function = functions.get(getattr(whitened, "dtype", None))
    if function is None or whitened.ndim != 2:
        raise TypeError(f"whitened must be a 2-d float64 or float32 array, got {whitened!r:.60}")
    whitened = as_input(whitened, whitened.dtype, whitened.shape, "whitened")
    if getattr(rows_of, "ndim", None) != 2:
        raise TypeError("rows_of must be a 2-d array of intp")
    rows_of = as_input(rows_of, _INDEX, rows_of.shape, "rows_of")
    # the arrays are returned too: copies made above must live through the call
    arguments = (whitened.ctypes.data, *whitened.shape, rows_of.ctypes.data, *rows_of.shape)
    return function, arguments, whitened, rows_of


def sum_squares(whitened, rows_of, out):
    """``out[k, b] = sum_i whitened[rows_of[k, i], b] ** 2`` (Mahalanobis distances).

    Parameters
    ----------
    whitened : ndarray of shape (n_white_rows, n_rows)  # IN
        The block's stacked whitening products (float64 or float32).
    rows_of : ndarray of shape (n_components, n_features), intp  # IN
        Row of ``whitened`` holding feature ``i`` of component ``k``.
    out : ndarray of shape (n_components, n_rows)  # OUT
        C-ordered, of whitened's type.
    """
    function, arguments, whitened, rows_of = _whitened_arguments(_SUM_SQUARES, whitened, rows_of)
    check_output(out, whitened.dtype, (rows_of.shape[0], whitened.shape[1]), "out")
    _check_status(function(*arguments, out.ctypes.data))


def weighted_scatter(whitened, rows_of, resp, scatter, resp_y_sum):
    """Per component ``k``: ``sum_b r y y^T`` into ``scatter[k]``, ``sum_b r y`` into ``resp_y_sum[k]``.

    ``y`` is ``whitened[rows_of[k], b]`` and ``r`` is ``resp[k, b]``.  The
    upper triangle is summed in 4 x 4 tiles (16 accumulators along the rows,
    8 loads per 16 multiply-adds) and mirrored.

    Parameters
    ----------
    whitened : ndarray of shape (n_white_rows, n_rows)  # IN
    rows_of : ndarray of shape (n_components, n_features), intp  # IN
        ``n_features`` a multiple of :data:`TILE`.
    resp : ndarray of shape (n_components, n_rows)  # IN
    scatter : ndarray of shape (n_components, n_features, n_features)  # OUT
    resp_y_sum : ndarray of shape (n_components, n_features)  # OUT
        All of whitened's type.
    """
    function, arguments, whitened, rows_of = _whitened_arguments(_WEIGHTED_SCATTER, whitened, rows_of)
    dtype, (n_components, n_features) = whitened.dtype, rows_of.shape
    resp = as_input(resp, dtype, (n_components, whitened.shape[1]), "resp")
    check_output(scatter, dtype, (n_components, n_features, n_features), "scatter")
    check_output(resp_y_sum, dtype, (n_components, n_features), "resp_y_sum")
    _check_status(function(*arguments, resp.ctypes.data, scatter.ctypes.data, resp_y_sum.ctypes.data))


class BoundBlock(NamedTuple):
    """:func:`sum_squares` and :func:`weighted_scatter` checked once for one block's buffers.

    Reading an array's address costs about a microsecond, as much as the
    kernels take on a small block, and a block's buffers are the same arrays
    pass after pass: their checks and addresses are kept with them (which
    keeps them alive) and each call passes only the addresses.
    """

    arrays: tuple  # (whitened, rows_of, resp, scatter, resp_y_sum), whose addresses the calls hold
    sum_squares: functools.partial  # out = resp
    weighted_scatter: functools.partial


def bind_block(whitened, rows_of, resp, scatter, resp_y_sum) -> BoundBlock:
    """Check the buffers of a block as :func:`sum_squares` and :func:`weighted_scatter` do, once.

    ``resp`` is both the output of the first and the input of the second;
    every array must be C-ordered already (nothing is copied).
    """
    sum_squares_fn, arguments, whitened_in, rows_in = _whitened_arguments(_SUM_SQUARES, whitened, rows_of)
    scatter_fn = _WEIGHTED_SCATTER[whitened.dtype]
    if whitened_in is not whitened or rows_in is not rows_of:
        raise ValueError("bind_block needs C-ordered, aligned whitened and rows_of")
    dtype, (n_components, n_features) = whitened.dtype, rows_of.shape
    check_output(resp, dtype, (n_components, whitened.shape[1]), "resp")
    check_output(scatter, dtype, (n_components, n_features, n_features), "scatter")
    check_output(resp_y_sum, dtype, (n_components, n_features), "resp_y_sum")
    resp_address = resp.ctypes.data
    return BoundBlock(
        (whitened, rows_of, resp, scatter, resp_y_sum),
        functools.partial(sum_squares_fn, *arguments, resp_address),
        functools.partial(scatter_fn, *arguments, resp_address, scatter.ctypes.data, resp_y_sum.ctypes.data),
    )


def run_bound(call: functools.partial) -> None:
    """Run a kernel of a :class:`BoundBlock`."""
    _check_status(call())


def _check_status(status):
    if status == 1:
        raise IndexError("rows_of holds a row outside whitened")
    if status == 2:
        raise ValueError(f"rows_of must have a multiple of {TILE} columns")


_FUSED_ROWS = {}
for _dtype, _suffix in ((np.dtype(np.float64), "f64"), (np.dtype(np.float32), "f32")):
    _FUSED_ROWS[_dtype] = declare(
        _library,
        f"skgmm_fused_rows_{_suffix}",
        FLAG,
        POINTER,  # X
        SIZE,
        SIZE,
        POINTER,  # weights or NULL
        POINTER,  # parameters
        SIZE,
        FLAG,  # diagonal_precision
        FLAG,  # diagonal_scatter
        FLAG,  # mode
        ctypes.c_double,  # exp_floor
        POINTER,  # resp or NULL
        POINTER,  # rows_out or NULL
        POINTER,  # labels or NULL
        POINTER,  # out
    )
_PRECISION_FACTORS = declare(_library, "skgmm_precision_factors", SIZE, POINTER, SIZE, SIZE, POINTER)
_FLOAT64 = np.dtype(np.float64)

#: Modes of :func:`fused_rows` (as :mod:`skgmm.covariance.kernels.fused` names them).
FUSED_EM, FUSED_GIVEN, FUSED_LOG_PROB, FUSED_LABELS, FUSED_ROW_LOG_LIKELIHOOD = 0, 1, 2, 3, 4


def fused_rows(
    X,
    weights,
    parameters,
    n_components,
    diagonal_precision,
    diagonal_scatter,
    mode,
    exp_floor,
    resp=None,
    rows_out=None,
    labels=None,
):
    """A block's E-step and centred sums in one call (``skgmm/_ckernels/fused_impl.h``).

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)  # IN
        float64 or float32; everything is computed in float64.
    weights : ndarray of shape (n_rows,) of X's type, or None  # IN
    parameters : ndarray, float64  # IN
        The origin subtracted from every row (d), the means centred on it
        (K d: the sums are centred on them), the upper-triangular precision
        factors (K d d) or their diagonals (K d), and the log-weights
        ``log w_k`` (K), one after the other; the kernel adds ``log det L_k -
        d/2 log(2 pi)`` to them (from the factors' diagonals).
    n_components : int
    diagonal_precision, diagonal_scatter : bool
        The precisions are diagonals; sum only the diagonals of the scatter.
    mode : {FUSED_EM, FUSED_GIVEN, FUSED_LOG_PROB, FUSED_LABELS, FUSED_ROW_LOG_LIKELIHOOD}
    exp_floor : float
        Log-terms below the row's peak are raised to it before ``exp``.
    resp : ndarray of shape (n_rows, n_components) of X's type  # IN (FUSED_GIVEN) or OUT (FUSED_LOG_PROB)
        Weighted responsibilities given, or the weighted log-densities written.
    rows_out : ndarray of shape (n_rows,) of X's type  # OUT (FUSED_LABELS, FUSED_ROW_LOG_LIKELIHOOD)
        Each row's largest weighted log-density (FUSED_LABELS), or its log-likelihood.
    labels : ndarray of shape (n_rows,), int64  # OUT (FUSED_LABELS)
        The component of each row's first largest weighted log-density (numpy's ``argmax``).

    Returns
    -------
    out : ndarray, float64
        ``[log-likelihood, resp_sum (K), x_sum (K d), scatter (K d d or K d)]``
        (in FUSED_ROW_LOG_LIKELIHOOD the log-likelihood only; FUSED_LOG_PROB and FUSED_LABELS
        write none of it).
    """
    function = _FUSED_ROWS.get(getattr(X, "dtype", None))
    if function is None or X.ndim != 2:
        raise TypeError(f"X must be a 2-d float64 or float32 array, got {X!r:.60}")
    X = as_input(X, X.dtype, X.shape, "X")
    n_rows, n_features = X.shape
    precision_size = n_features if diagonal_precision else n_features * n_features
    size = n_features + n_components * (n_features + precision_size + 1)
    parameters = as_input(parameters, _FLOAT64, (size,), "parameters")
    if weights is not None:
        weights = as_input(weights, X.dtype, (n_rows,), "weights")
    if mode == FUSED_GIVEN:
        resp = as_input(resp, X.dtype, (n_rows, n_components), "resp")
    elif mode == FUSED_LOG_PROB:
        check_output(resp, X.dtype, (n_rows, n_components), "resp")
    elif mode in (FUSED_LABELS, FUSED_ROW_LOG_LIKELIHOOD):
        check_output(rows_out, X.dtype, (n_rows,), "rows_out")
        if mode == FUSED_LABELS:
            check_output(labels, np.dtype(np.int64), (n_rows,), "labels")
    elif mode != FUSED_EM:
        raise ValueError(f"unknown mode {mode!r}")
    scatter_size = n_features if diagonal_scatter else n_features * n_features
    out = np.empty(1 + n_components * (1 + n_features + scatter_size))
    status = function(
        address(X),
        n_rows,
        n_features,
        None if weights is None else address(weights),
        address(parameters),
        n_components,
        diagonal_precision,
        diagonal_scatter,
        mode,
        exp_floor,
        None if resp is None or mode not in (FUSED_GIVEN, FUSED_LOG_PROB) else address(resp),
        None if rows_out is None else address(rows_out),
        None if labels is None else address(labels),
        address(out),
    )
    if status == 3:
        raise MemoryError("the fused kernel could not allocate its scratch memory")
    return out


def precision_factors(covariances):
    """Upper-triangular precision factors ``C^-T`` of float64 covariances (K, d, d), ``S = C C^T``.

    Returns ``(factors, failed)``: ``failed`` is the first component whose
    covariance is not positive definite to working precision (its factor
    and those after it are not written), or None.
    """
    covariances = as_input(covariances, _FLOAT64, covariances.shape, "covariances")
    if covariances.ndim != 3 or covariances.shape[1] != covariances.shape[2]:
        raise TypeError(f"covariances must be a (K, d, d) stack, got shape {covariances.shape}")
    factors = np.empty(covariances.shape)
    failed = _PRECISION_FACTORS(
        covariances.ctypes.data, covariances.shape[0], covariances.shape[1], factors.ctypes.data
    )
    if failed == -2:
        raise MemoryError("the precision factors could not allocate their scratch memory")
    return factors, (None if failed < 0 else int(failed))


_CENTRED_SCATTER = declare(
    _library,
    "skgmm_centred_scatter",
    None,
    POINTER,  # resp_sum
    POINTER,  # resp_x_sum
    POINTER,  # scatter
    POINTER,  # nk
    SIZE,
    SIZE,
    FLAG,  # tied
    POINTER,  # divisor or NULL
    ctypes.c_double,  # reg
    POINTER,  # out
)


def centred_scatter(resp_sum, resp_x_sum, scatter, nk, divisor=None, reg=0.0):
    """Scatter matrices about the new means ``shift + resp_x_sum / nk``, symmetrised, from centred sums.

    ``scatter`` is (K, d, d), or (d, d) for the sum over components ('tied');
    the result is divided by ``divisor`` (one value per matrix) when given,
    then ``reg`` is added to its diagonal.  All float64.
    """
    n_components, n_features = resp_x_sum.shape
    tied = scatter.ndim == 2
    shape = (n_features, n_features) if tied else (n_components, n_features, n_features)
    resp_sum = as_input(resp_sum, _FLOAT64, (n_components,), "resp_sum")
    resp_x_sum = as_input(resp_x_sum, _FLOAT64, (n_components, n_features), "resp_x_sum")
    scatter = as_input(scatter, _FLOAT64, shape, "scatter")
    nk = as_input(nk, _FLOAT64, (n_components,), "nk")
    if divisor is not None:
        divisor = as_input(divisor, _FLOAT64, (1 if tied else n_components,), "divisor")
    out = np.empty(shape)
    _CENTRED_SCATTER(
        address(resp_sum),
        address(resp_x_sum),
        address(scatter),
        address(nk),
        n_components,
        n_features,
        int(tied),
        None if divisor is None else address(divisor),
        reg,
        address(out),
    )
    return out

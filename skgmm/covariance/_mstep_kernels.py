"""mclust's M-steps in C (``skgmm/_ckernels/mstep.c``): the iterative models' inner loops, and the whole M-step.

:func:`mclust_m_step` runs ``mclust_mstep.mclust_m_step`` for any model in
one call (``mstep_model.h``): at mclust's usual sizes the numpy M-step's
dozen array operations (a batched eigh, the covariances' rebuild, the
non-singularity reductions) cost tens of microseconds per EM iteration
against about one of arithmetic.  The loop wrappers below are the numpy
code's fallback for a case the whole-step call leaves to it.

:mod:`skgmm.covariance.parsimonious` writes each loop in numpy, which stays
the reference; :func:`compiled_loop` puts one of these in its place.  Each
inner iteration is a few numpy calls on (K, d) and (K, d, d) arrays, which
cost microseconds apiece, against a few hundred nanoseconds of arithmetic
for mclust's usual sizes: one C call for the whole loop makes VEI, VEV, VEE,
EVE and VVE cost about what the closed-form models do.

The C loops take the same steps as the numpy ones (the same start, updates,
stopping rule and iteration count), with their sums in another order and
their own symmetric eigen-decompositions and polar factors (Jacobi's
methods, for small matrices), so the results agree to rounding.  A case
they leave to numpy (non-finite input, a polar factor that is not unique, a
factorisation that does not converge) returns None here, and the numpy loop
runs from the start, so that it fails (or not) as without the C.

The C runs when the library was built and the compiled kernels are on
(:func:`skgmm.covariance.kernels.compiled_kernels`: ``SKGMM_COMPILED=0``
switches them off).
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from skgmm._ckernels import POINTER, SIZE, address, as_input, declare, load_library
from skgmm.covariance.kernels import compiled_kernels

#: The C library, or None where it was not built.
LIBRARY = load_library("_mstep")
# The C functions' codes besides an iteration count (mstep.c).
_NO_MEMORY, _FALLBACK = -1, -2
_COUNT = ctypes.c_int64
_DOUBLE = ctypes.c_double


def _declare(name, *argtypes):
    return declare(LIBRARY, name, _COUNT, *argtypes) if LIBRARY is not None else None


_COMMON_SHAPE = _declare(
    "skgmm_mstep_common_shape", SIZE, SIZE, POINTER, POINTER, POINTER, ctypes.c_double, _COUNT, POINTER
)
_VEE = _declare("skgmm_mstep_vee", SIZE, SIZE, POINTER, POINTER, ctypes.c_double, _COUNT, POINTER)
_COMMON_ORIENTATION = _declare(
    "skgmm_mstep_common_orientation",
    SIZE, SIZE, POINTER, POINTER, POINTER, POINTER, ctypes.c_double, _COUNT, ctypes.c_int, POINTER,
)  # fmt: skip


def compiled_loop(compiled):
    """Decorator: run ``compiled`` in place of the numpy loop it decorates, where it can.

    The decorated function calls ``compiled`` (same arguments, same results)
    when the C library is loaded and the compiled kernels are on, and the
    numpy loop when they are not or when ``compiled`` returns None.  The
    numpy loop stays reachable as the ``reference`` attribute.
    """

    def decorate(reference):
        @functools.wraps(reference)
        def loop(*args):
            if LIBRARY is not None and compiled_kernels() is not None:
                result = compiled(*args)
                if result is not None:
                    return result
            return reference(*args)

        loop.reference = reference
        return loop

    return decorate


def _address(array):
    """The address of a C-ordered float64 array's data, as ``array.ctypes.data`` gives it.

    By a ctypes view of the buffer, which costs a third of ``.ctypes``: these
    calls pass several arrays, and they are made once per EM iteration.
    """
    try:
        return ctypes.addressof(_DOUBLE.from_buffer(array))
    except TypeError:  # a read-only array
        return array.ctypes.data


def _run(function, *args):
    """The iteration count returned by a C loop, or None for a case left to numpy."""
    n_iter = function(*args)
    if n_iter == _NO_MEMORY:
        raise MemoryError("no memory for an M-step's inner loop")
    return None if n_iter == _FALLBACK else int(n_iter)


def _inputs(nk, values, trailing):
    """``nk`` (K,) and ``values`` (K, *trailing) as C-ordered float64 arrays (as_input's checks)."""
    n_components = np.shape(nk)[0]
    nk = as_input(nk, np.float64, (n_components,), "nk")
    return n_components, nk, as_input(values, np.float64, (n_components, *trailing), "scatter")


def common_shape_fixed_point(nk, axis_scatter, shape, tol, max_iter):
    """``parsimonious._common_shape_fixed_point`` in C: ``(scale, shape, n_iter)``, or None."""
    n_features = np.shape(axis_scatter)[-1]
    n_components, nk, axis_scatter = _inputs(nk, axis_scatter, (n_features,))
    shape = as_input(shape, np.float64, (n_features,), "shape")
    out = np.empty(n_components + n_features)
    n_iter = _run(
        _COMMON_SHAPE, n_components, n_features, _address(nk), _address(axis_scatter), _address(shape),
        float(tol), int(max_iter), _address(out),
    )  # fmt: skip
    return None if n_iter is None else (out[:n_components], out[n_components:], n_iter)


def m_step_vee(nk, scatter, previous, tol, max_iter):
    """``parsimonious._m_step_vee`` in C: ``(scale, shape, orientation, n_iter)``, or None.

    ``previous`` is not used: mclust restarts VEE each M-step.
    """
    n_features = np.shape(scatter)[-1]
    n_components, nk, scatter = _inputs(nk, scatter, (n_features, n_features))
    out = np.empty(n_components + n_features + n_features * n_features)
    n_iter = _run(
        _VEE,
        n_components,
        n_features,
        _address(nk),
        _address(scatter),
        float(tol),
        int(max_iter),
        _address(out),
    )
    if n_iter is None:
        return None
    shape_end = n_components + n_features
    orientation = out[shape_end:].reshape(n_features, n_features)
    return out[:n_components], out[n_components:shape_end], orientation, n_iter


def common_orientation(nk, scatter, previous, tol, max_iter, weigh_volumes):
    """``parsimonious._common_orientation`` in C: ``(orientation, axis_scatter, n_iter)``, or None.

    The start is the numpy loop's: the identity, whose first iteration only
    evaluates the criterion, or ``previous``'s orientation and inverse
    (volume-weighted with ``weigh_volumes``) shapes.
    """
    n_features = np.shape(scatter)[-1]
    n_components, nk, scatter = _inputs(nk, scatter, (n_features, n_features))
    orientation = np.empty((n_features, n_features))
    if previous is None:
        inverse_shapes = None
        orientation[...] = 0.0
        orientation.reshape(-1)[:: n_features + 1] = 1.0
    else:
        orientation[...] = previous.orientation[0]
        variances = previous.scale[:, None] * previous.shape if weigh_volumes else previous.shape
        inverse_shapes = as_input(1.0 / variances, np.float64, (n_components, n_features), "inverse shapes")
    axis_scatter = np.empty((n_components, n_features))
    n_iter = _run(
        _COMMON_ORIENTATION, n_components, n_features, _address(nk), _address(scatter),
        _address(orientation), None if inverse_shapes is None else _address(inverse_shapes),
        float(tol), int(max_iter), bool(weigh_volumes), _address(axis_scatter),
    )  # fmt: skip
    return None if n_iter is None else (orientation, axis_scatter, n_iter)


# ---------------------------------------------------------------- the whole M-step

_MCLUST = _declare(
    "skgmm_mstep_mclust",
    _COUNT, SIZE, SIZE, POINTER, POINTER, _DOUBLE,
    POINTER, POINTER, POINTER, _DOUBLE, _COUNT, POINTER,
)  # fmt: skip
#: The C code of each model (mstep_model.h: parsimonious.MULTIVARIATE_MODELS' order; 'E', 'V' are EII, VII).
MODEL_CODES = {
    name: code
    for code, name in enumerate(
        ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
    )
} | {"E": 0, "V": 1}
_DIAGONAL_CODES = frozenset(range(6))
_SHAPE_START, _ORIENTATION_START = frozenset((3, 11)), frozenset((8, 9))
_FLOAT64 = np.dtype(np.float64)
# The options' flags beside the model's code (mstep_model.h).
_WEIGH_VOLUMES, _DIAGONAL_INPUT = 0x100, 0x200


def _is_input(array, shape) -> bool:
    """Whether C may read ``array`` as a C-ordered float64 array of ``shape`` (no copy, no conversion)."""
    return (
        type(array) is np.ndarray
        and array.dtype == _FLOAT64
        and array.shape == shape
        and array.flags.c_contiguous
        and array.flags.aligned
    )


def mclust_m_step(model, nk, scatter, reg_covar, previous, tol, max_iter, weigh_volumes):
    """``mclust_mstep.mclust_m_step`` in one C call, or None for a case left to numpy.

    Returns ``(covariances, scale, shape, orientation, n_iter, singular,
    precisions_cholesky)``; orientation is None for the diagonal models (the
    caller's identities), ``precisions_cholesky`` the covariances' upper
    Cholesky factors of the precisions when the estimate is sound (else None),
    and ``singular`` says that ``mclust_mstep._check_nonsingular``'s first
    test failed, so that the caller looks for the failing components (and
    raises, or not, as numpy would).  ``scatter`` is not modified: the
    regularisation is added to a copy in C, so numpy can start from it again.
    The arrays must be C-ordered float64 of the shapes ``mclust_m_step``
    documents, else (and for a previous decomposition of other shapes) None:
    this checks what memory safety needs and nothing more.
    """
    code = MODEL_CODES.get(model)
    if code is None or type(scatter) is not np.ndarray:
        return None
    n_components, n_features = scatter.shape[:2]
    diagonal = code in _DIAGONAL_CODES
    diagonal_input = scatter.ndim == 2
    if diagonal_input and not diagonal:
        return None
    if not (
        _is_input(nk, (n_components,))
        and _is_input(
            scatter, (n_components, n_features) if diagonal_input else (n_components, n_features, n_features)
        )
    ):
        return None
    prev_scale = prev_shape = prev_orientation = None
    if previous is not None and (code in _SHAPE_START or code in _ORIENTATION_START):
        matrices = (n_components, n_features, n_features)
        if not _is_input(previous.shape, (n_components, n_features)):
            return None
        prev_shape = address(previous.shape)
        if code in _ORIENTATION_START:
            if not _is_input(previous.orientation, matrices) or (
                weigh_volumes and not _is_input(previous.scale, (n_components,))
            ):
                return None
            prev_orientation = address(previous.orientation)
            prev_scale = address(previous.scale) if weigh_volumes else None
    matrix_size = n_components * n_features * n_features
    shape_end = matrix_size + n_components * (1 + n_features)
    # [covariances, scale, shape, singular, factored, orientation, factors]: one allocation
    orientation_end = shape_end + 2 + (0 if diagonal else matrix_size)
    out = np.empty(orientation_end + matrix_size)
    n_iter = _MCLUST(
        code | (_WEIGH_VOLUMES if weigh_volumes else 0) | (_DIAGONAL_INPUT if diagonal_input else 0),
        n_components, n_features, address(nk), address(scatter),
        float(reg_covar), prev_scale, prev_shape, prev_orientation, float(tol), int(max_iter), address(out),
    )  # fmt: skip
    if n_iter < 0:
        if n_iter == _NO_MEMORY:
            raise MemoryError("no memory for an M-step")
        return None
    covariances = out[:matrix_size].reshape(n_components, n_features, n_features)
    scale = out[matrix_size : matrix_size + n_components]
    shape = out[matrix_size + n_components : shape_end].reshape(n_components, n_features)
    matrices = (n_components, n_features, n_features)
    orientation = None if diagonal else out[shape_end + 2 : orientation_end].reshape(matrices)
    factors = out[orientation_end:].reshape(matrices) if out[shape_end + 1] == 1.0 else None
    return covariances, scale, shape, orientation, n_iter, out[shape_end] != 0.0, factors

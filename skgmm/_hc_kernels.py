"""The merge loop of the hierarchical start, in C (``skgmm/_ckernels/hc.c``).

:func:`agglomerate_vvv` runs :func:`skgmm._hierarchical.agglomerate`'s loop:
the same costs, computed in the same order and rounded alike (``hc.c`` is
built without fast-math or fused multiply-adds), so the numpy loop of
:mod:`skgmm._hierarchical` gives the same merges.

Importing this module raises ImportError when the library was not built.
"""

from __future__ import annotations

import ctypes

import numpy as np

from skgmm._ckernels import POINTER, SIZE, as_input, check_output, declare, load_library

_library = load_library("_hc")
if _library is None:
    raise ImportError("skgmm's C kernels were not built (no C compiler at install time?)")

_AGGLOMERATE = declare(
    _library, "skgmm_hc_vvv_f64", ctypes.c_int, POINTER, SIZE, SIZE, ctypes.c_double, ctypes.c_double, POINTER
)


def agglomerate_vvv(X, reg, beta):
    """Merge sequence of the ``"VVV"`` agglomeration of the rows of X, from singletons.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    reg : float
        ``alpha`` times the regularising term ``s``.
    beta : float
        Divisor of the determinant term.

    Returns
    -------
    merges : ndarray of shape (n_samples - 1, 2)
        As :func:`skgmm._hierarchical.agglomerate` returns them.
    """
    X = as_input(X, np.float64, np.shape(X), "X")
    if X.ndim != 2:
        raise TypeError(f"X must be a 2-D array, got shape {X.shape}")
    n_samples, n_features = X.shape
    merges = check_output(np.empty((max(n_samples - 1, 0), 2), dtype=np.int64), np.int64,
                          (max(n_samples - 1, 0), 2), "merges")  # fmt: skip
    if n_samples < 2:
        return merges.astype(np.intp)
    if _AGGLOMERATE(X.ctypes.data, n_samples, n_features, float(reg), float(beta), merges.ctypes.data) != 0:
        raise MemoryError(f"no memory for the merge costs of {n_samples} rows ({8 * n_samples**2} bytes)")
    return merges.astype(np.intp, copy=False)

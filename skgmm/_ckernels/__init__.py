"""skgmm's C kernels: four shared libraries compiled when skgmm is installed, called through ctypes.

The sources are ``full.c`` (the 'full' covariance kernels), ``kmeans.c``
(the k-means start's loops), ``hc.c`` (the hierarchical start's merge
loop) and ``mstep.c`` (mclust's M-steps: the iterative models' inner loops and the whole M-step),
beside this file; ``setup.py`` builds them into ``_full``, ``_kmeans``,
``_hc`` and ``_mstep`` with the platform's extension suffix.  They are
plain libraries, not Python modules: :func:`load_library` finds the file
through the import system (so an editable install finds it too) and opens it
with :class:`ctypes.CDLL`, whose calls release the GIL.  Nothing is compiled
or written at run time.

The wrappers (:mod:`skgmm.covariance.kernels._compiled`,
:mod:`skgmm._kmeans_kernels`, :mod:`skgmm._hc_kernels`,
:mod:`skgmm.covariance._mstep_kernels`) check every array before a call: its type,
shape and layout, so that a call cannot read or write outside it.
"""

from __future__ import annotations

import ctypes
import importlib.util

import numpy as np

#: The instruction sets of the copies in each library (see common.h), by level.
SIMD_LEVELS = ("baseline", "AVX2 + FMA", "AVX-512")

POINTER = ctypes.c_void_p
SIZE = ctypes.c_ssize_t
FLAG = ctypes.c_int


def load_library(name: str):
    """The library ``skgmm._ckernels.<name>`` opened by ctypes, or None when it was not built.

    Raises OSError when the file exists but cannot be loaded.
    """
    spec = importlib.util.find_spec(f"{__name__}.{name}")
    if spec is None or not spec.origin or not spec.has_location:
        return None
    return ctypes.CDLL(spec.origin)


def declare(library, name, restype, *argtypes):
    """``library.<name>`` with its argument and result types set once (ctypes then converts fast)."""
    function = getattr(library, name)
    function.restype = restype
    function.argtypes = argtypes
    return function


def simd_level(library, prefix: str) -> str:
    """The instruction set the library's kernels run with on this CPU."""
    level = declare(library, f"{prefix}_simd_level", ctypes.c_int)()
    return SIMD_LEVELS[level]


def as_input(array, dtype, shape, name):
    """``array`` as a C-ordered, aligned array (copied only if it is not one) of exactly ``dtype`` and ``shape``.

    The type is never converted: another float type would round otherwise.
    """
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != shape:
        raise _mismatch(array, dtype, shape, name)
    if not (array.flags.c_contiguous and array.flags.aligned):
        array = np.ascontiguousarray(array)
    return array


def check_output(array, dtype, shape, name):
    """Raise unless ``array`` is a writeable, C-ordered, aligned array of ``dtype`` and ``shape``."""
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != shape:
        raise _mismatch(array, dtype, shape, name)
    flags = array.flags
    if not (flags.c_contiguous and flags.aligned and flags.writeable):
        raise ValueError(f"{name} must be a writeable, C-ordered, aligned array")
    return array


_char_at = ctypes.c_char.from_buffer
_address_of = ctypes.addressof


def address(array) -> int:
    """The address of a C-contiguous array's data, for a ctypes call.

    ``array.ctypes.data`` builds a helper object each time (about 1 us, more
    than a small block's kernel); a ctypes view of a writeable array's buffer
    costs a quarter of that.  Read-only arrays take the slow way.
    """
    if array.flags.writeable:
        return _address_of(_char_at(array)) if array.size else array.ctypes.data
    return array.ctypes.data


def element_strides(array):
    """The strides of an aligned array in elements, or None when a stride is not a whole element."""
    itemsize = array.itemsize
    strides = array.strides
    if not array.flags.aligned or any(stride % itemsize for stride in strides):
        return None
    return tuple(stride // itemsize for stride in strides)


def _mismatch(array, dtype, shape, name):
    got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
    return TypeError(f"{name} must be a {np.dtype(dtype)} array of shape {shape}, got {got}")

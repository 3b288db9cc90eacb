"""The compiled kernels: C loops built when skgmm is installed (``skgmm/_ckernels``).

:func:`compiled_kernels` returns the module
:mod:`skgmm.covariance.kernels._compiled`, or None when the C kernels were
not built (no C compiler at install time), cannot be loaded, or the
environment variable ``SKGMM_COMPILED`` (or its older name ``SKGMM_NUMBA``)
is ``0``; the engine then runs its numpy code, which gives the same results
(tested against each other) more slowly.  :func:`kernels_description` says
which ones run.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings

_lock = threading.Lock()
_state: dict = {}

#: Environment variables that switch the compiled kernels off when ``0``
#: (``SKGMM_NUMBA`` from the releases that compiled them with numba).
SWITCHES = ("SKGMM_COMPILED", "SKGMM_NUMBA")


def compiled_kernels():
    """The compiled kernels module, or None (looked up once per process)."""
    if "kernels" not in _state:
        with _lock:
            if "kernels" not in _state:
                _state["kernels"] = _load()
    return _state["kernels"]


def kmeans_kernels():
    """The compiled loops of :mod:`skgmm._kmeans_kernels` (the k-means start's, and the data-scale
    check's feature moments), or None, as :func:`compiled_kernels` (looked up once per process)."""
    if "kmeans" not in _state:
        with _lock:
            if "kmeans" not in _state:
                _state["kmeans"] = _load("skgmm._kmeans_kernels")
    return _state["kmeans"]


def kernels_description() -> str:
    """Which 'full' kernels run in this process: ``'C (AVX-512)'``, or numpy and why.

    Returns
    -------
    description : str
        ``'C (<instruction set>)'`` for the compiled kernels (the copy this
        processor runs: AVX-512, AVX2 + FMA or baseline), else ``'numpy (...)'``
        with the reason.

    Examples
    --------
    >>> from skgmm.covariance.kernels import kernels_description
    >>> kernels_description()  # doctest: +SKIP
    'C (AVX-512)'
    """
    kernels = compiled_kernels()
    if kernels is not None:
        return f"C ({kernels.SIMD})"
    if switched_off():
        return "numpy (SKGMM_COMPILED=0)"
    return "numpy (the C kernels were not built)"


def switched_off() -> bool:
    """Whether an environment variable of :data:`SWITCHES` is ``0``."""
    return any(os.environ.get(name, "1") == "0" for name in SWITCHES)


def _load(module="skgmm.covariance.kernels._compiled"):
    if switched_off():
        return None
    try:
        return importlib.import_module(module)
    except ImportError:  # not built: the install had no C compiler
        return None
    except Exception as exc:  # e.g. a library built for another platform
        warnings.warn(
            f"skgmm's compiled kernels are installed but could not be loaded ({exc!r}); "
            "skgmm runs its numpy code instead (same results, slower). Set SKGMM_COMPILED=0 to "
            "silence this warning.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None

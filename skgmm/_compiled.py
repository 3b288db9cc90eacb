"""Optional compiled kernels: numba's when it is installed (the ``fast`` extra).

:func:`compiled_kernels` returns the module :mod:`skgmm._numba_kernels`, or
None when numba is missing, fails to import, or the environment variable
``SKGMM_NUMBA`` is ``0``; the engine then runs its numpy code, which gives the
same results (tested against each other) more slowly.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_state: dict = {}


def compiled_kernels():
    """The compiled kernels module, or None (looked up once per process)."""
    if "kernels" not in _state:
        with _lock:
            if "kernels" not in _state:
                _state["kernels"] = _load()
    return _state["kernels"]


def _load():
    if os.environ.get("SKGMM_NUMBA", "1") == "0":
        return None
    try:
        from skgmm import _numba_kernels
    except ImportError:
        return None
    return _numba_kernels

"""Optional compiled kernels: numba's when it is installed (the ``fast`` extra).

:func:`compiled_kernels` returns the module :mod:`skgmm.covariance.kernels._numba`, or
None when numba is missing, cannot be set up, or the environment variable
``SKGMM_NUMBA`` is ``0``; the engine then runs its numpy code, which gives the
same results (tested against each other) more slowly.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings

_lock = threading.Lock()
_state: dict = {}


def compiled_kernels():
    """The compiled kernels module, or None (looked up once per process)."""
    if "kernels" not in _state:
        with _lock:
            if "kernels" not in _state:
                _state["kernels"] = _load()
    return _state["kernels"]


def _load(module="skgmm.covariance.kernels._numba"):
    if os.environ.get("SKGMM_NUMBA", "1") == "0":
        return None
    try:
        return importlib.import_module(module)
    except ImportError:  # numba is not installed (or not for this numpy)
        return None
    except Exception as exc:  # e.g. no writable folder for numba's cache
        warnings.warn(
            f"numba is installed but skgmm's compiled kernels could not be set up ({exc!r}); "
            "skgmm runs its numpy code instead (same results, slower). Set SKGMM_NUMBA=0 to "
            "silence this warning.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None

"""Collection of the doctests in ``skgmm/``: wrappers of C libraries that were not built are left out.

Without a C compiler at install time skgmm runs its numpy code; the modules
that wrap the compiled libraries then raise ImportError on import, by design
(the loaders catch it), so their doctests cannot be collected.
"""

from skgmm._ckernels import load_library

_WRAPPERS = {
    "_full": "skgmm/covariance/kernels/_compiled.py",
    "_kmeans": "skgmm/_kmeans_kernels.py",
    "_hc": "skgmm/_hc_kernels.py",
}

collect_ignore = [path for library, path in _WRAPPERS.items() if load_library(library) is None]

"""Builds skgmm's C kernels; everything else is in pyproject.toml.

The kernels are four plain shared libraries (no Python API; skgmm calls them
through ctypes).  They are optional: where they cannot be compiled (no C
compiler) setuptools warns and the install goes on, and skgmm runs its numpy
code, which gives the same results.
"""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, LinkError

SOURCES = "skgmm/_ckernels"

#: Flags per library for GCC and clang.  'full' may fuse multiply-adds and
#: reassociate its ``omp simd`` sums (as numba's fastmath did); 'kmeans' must
#: round as numpy and scikit-learn do, so neither.  ``-fopenmp-simd`` reads the
#: ``omp simd`` pragmas without linking an OpenMP runtime.  No -march: the
#: sources carry their own copies for AVX2 and AVX-512 (common.h).
UNIX_FLAGS = {
    "skgmm._ckernels._full": [
        "-O3",
        "-fopenmp-simd",
        "-ffp-contract=fast",
        "-fassociative-math",
        "-fno-signed-zeros",
        "-fno-trapping-math",
    ],
    "skgmm._ckernels._kmeans": ["-O3", "-fopenmp-simd", "-fno-fast-math", "-ffp-contract=off"],
    "skgmm._ckernels._hc": ["-O2", "-fno-fast-math", "-ffp-contract=off"],
    "skgmm._ckernels._mstep": ["-O2", "-fno-fast-math", "-ffp-contract=off"],
}
COMMON_UNIX_FLAGS = ["-std=c99", "-fvisibility=hidden"]


class BuildKernels(build_ext):
    """``build_ext`` with per-library flags and a second try without the per-CPU copies."""

    def build_extension(self, ext):
        if self.compiler.compiler_type == "unix":
            ext.extra_compile_args = COMMON_UNIX_FLAGS + UNIX_FLAGS[ext.name]
        try:
            super().build_extension(ext)
        except (CCompilerError, CompileError, LinkError):
            # e.g. a compiler without AVX-512 support: one baseline copy
            self.warn(f"building {ext.name} again without its AVX2 and AVX-512 copies")
            ext.define_macros = [*ext.define_macros, ("SKGMM_NO_CLONES", "1")]
            super().build_extension(ext)

    def get_export_symbols(self, ext):
        # plain libraries: no PyInit_ function to export (MSVC would require one)
        return []


def kernel_library(name, depends=()):
    return Extension(
        f"skgmm._ckernels._{name}",
        sources=[f"{SOURCES}/{name}.c"],
        depends=[f"{SOURCES}/{path}" for path in depends],
        libraries=["m"] if name in ("hc", "full", "mstep") and sys.platform != "win32" else [],
        optional=True,
    )


setup(
    ext_modules=[
        kernel_library("full", ["common.h", "export.h", "full_impl.h", "fused_impl.h", "fused_core.h", "vecmath.h", "factors.h"]),
        kernel_library("kmeans", ["common.h", "export.h", "kmeans_impl.h", "kmeans_seed.h", "kmeans_lloyd.h"]),
        kernel_library("hc", ["export.h"]),
        kernel_library("mstep", ["export.h", "mstep_linalg.h", "mstep_model.h"]),
    ],
    cmdclass={"build_ext": BuildKernels},
)

"""
=============================================
Fitting a memory-mapped file (out of core)
=============================================

:class:`~skgmm.GaussianMixtureEM` reads ``X`` in row blocks, so an ``.npy`` file
opened with ``np.load(path, mmap_mode="r")`` is fitted without being loaded or
copied into memory. The result is identical to fitting the array in memory.
This example fits files of growing size and measures, with :mod:`tracemalloc`,
the memory that numpy allocates during each fit.
"""

# %%
import os
import tempfile
import tracemalloc
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skgmm import GaussianMixtureEM

warnings.simplefilter("ignore", ConvergenceWarning)
folder = tempfile.mkdtemp()
centres = np.random.default_rng(0).normal(scale=3.0, size=(4, 8))


def write(n_rows):
    """An .npy file of ``n_rows`` rows from a 4-component mixture in 8 dimensions."""
    rng = np.random.default_rng(n_rows)
    path = os.path.join(folder, f"features_{n_rows}.npy")
    np.save(
        path,
        centres[rng.integers(4, size=n_rows)] + rng.normal(size=(n_rows, 8)),
    )
    return path


def fit_and_measure(data):
    """Fit and return the model and the peak memory numpy allocated meanwhile (MiB)."""
    tracemalloc.start()
    model = GaussianMixtureEM(
        4, init_params="random_from_data", max_iter=10, random_state=0
    ).fit(data)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return model, peak


# %%
# Same result as in memory
# ------------------------
path = write(200_000)
on_disk, _ = fit_and_measure(np.load(path, mmap_mode="r"))
in_memory, _ = fit_and_measure(np.load(path))
print("identical means:", np.array_equal(on_disk.means_, in_memory.means_))
print(
    "identical covariances:",
    np.array_equal(on_disk.covariances_, in_memory.covariances_),
)

# %%
# Memory against file size
# ------------------------
sizes, peaks = [], []
for n_rows in (200_000, 400_000, 800_000, 1_600_000):
    path = write(n_rows)
    X = np.load(path, mmap_mode="r")
    _, peak = fit_and_measure(X)
    sizes.append(X.nbytes / 2**20)
    peaks.append(peak)
    print(
        f"{n_rows:>7} rows: file {sizes[-1]:5.1f} MiB, allocated while fitting {peak:5.1f} MiB"
    )
    del X
    os.remove(path)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(sizes, sizes, "k--", label="a copy of X")
ax.plot(sizes, peaks, "o-", label="allocated while fitting the memmap")
ax.set_xlabel("file size (MiB)")
ax.set_ylabel("peak allocations (MiB)")
ax.legend()
plt.tight_layout()

# %%
# The allocations grow by the per-row label arrays only (8 bytes a row against
# 64 bytes a row of data), on top of block buffers whose size does not depend
# on the file: ``X`` is never copied. ``benchmarks/OUT_OF_CORE.md`` fits a
# 1.2 GiB file under a 512 MiB memory cap that scikit-learn's
# ``GaussianMixture`` cannot fit under.
plt.show()

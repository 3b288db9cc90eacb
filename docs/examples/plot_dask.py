"""
=====================================================
Fitting a mixture on a Dask array, on a Dask cluster
=====================================================

:class:`~skgmm.GaussianMixtureEM` accepts a :class:`dask.array.Array` chunked
by rows. The fit runs on the cluster of the current ``distributed.Client``. Each
EM iteration is one pass over the chunks, and only small sufficient statistics
come back to the client. Predictions on a dask array are lazy dask arrays.

This example starts a small in-process cluster. On a real cluster only the
``Client(...)`` line changes. It needs the ``dask`` extra (``pip install ".[dask]"``).
"""

# %%
# A cluster, and data that exist only on it
# -----------------------------------------
# The data are generated chunk by chunk on the workers: 600,000 rows from three
# Gaussian components, in 6 chunks of 100,000 rows.
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from skgmm import GaussianMixtureEM

cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)

centres = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 4.0]])
scales = np.array([[1.0, 0.4], [0.5, 1.2], [0.8, 0.8]])
rng = da.random.default_rng(0)
n_samples, chunk_rows = 600_000, 100_000
# Components 0, 1, 2 with probabilities 0.5, 0.3, 0.2. (Dask's ``choice`` with
# ``p=`` draws anew at every compute, so use uniform draws, which do not.)
uniform = rng.random(n_samples, chunks=chunk_rows)
component = (uniform > 0.5).astype(int) + (uniform > 0.8)
noise = rng.standard_normal((n_samples, 2), chunks=(chunk_rows, 2))


def place(noise_block, component_block):
    """Scale and shift each row of a chunk to its component (runs on a worker)."""
    k = component_block[:, 0]
    return noise_block * scales[k] + centres[k]


X = da.map_blocks(
    place, noise, component[:, None], chunks=noise.chunks, dtype=noise.dtype
)
X

# %%
# Fit
# ---
# The same estimator and parameters as on NumPy data. ``X`` is persisted on the
# workers. One scan pass draws the k-means++ sample. Then each iteration is
# one pass and one ``compute``.
gm = GaussianMixtureEM(
    n_components=3, init_params="k-means++", random_state=0
).fit(X)
order = np.argsort(-gm.weights_)
print("iterations:", gm.n_iter_, "converged:", gm.converged_)
print("weights:", np.round(gm.weights_[order], 3))
print("means:\n", np.round(gm.means_[order], 3))

# %%
# Lazy predictions
# ----------------
# ``predict``, ``predict_proba`` and ``score_samples`` return dask arrays
# chunked like ``X``. Reductions over them run on the cluster. ``score`` and
# ``bic`` return numbers.
labels = gm.predict(X)
print(type(labels).__name__, labels.chunks[0])
print("rows per component:", da.bincount(labels, minlength=3).compute()[order])
print(f"mean log-likelihood: {gm.score(X):.4f}, BIC: {gm.bic(X):.1f}")

# %%
# The same model as on NumPy
# --------------------------
# From the same starting parameters, the Dask fit and the in-memory fit agree
# to the last digits. Only the order of the floating-point sums differs.
start = dict(
    weights_init=gm.weights_,
    means_init=gm.means_ + 0.3,
    precisions_init=gm.precisions_,
)
on_dask = GaussianMixtureEM(3, tol=1e-8, **start).fit(X)
on_numpy = GaussianMixtureEM(3, tol=1e-8, **start).fit(X.compute())
print(
    "largest difference in means:",
    np.abs(on_dask.means_ - on_numpy.means_).max(),
)
print(
    "largest difference in covariances:",
    np.abs(on_dask.covariances_ - on_numpy.covariances_).max(),
)

# %%
# A picture of a sample of rows
# -----------------------------
# Only a sample is brought to the client for plotting.
sample = X[::150].compute()
sample_labels = labels[::150].compute()
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(
    sample[:, 0], sample[:, 1], c=sample_labels, s=4, cmap="viridis", alpha=0.5
)
ax.scatter(
    gm.means_[:, 0],
    gm.means_[:, 1],
    marker="x",
    s=120,
    c="red",
    label="fitted means",
)
ax.set_title("Dask fit: a sample of rows coloured by predicted component")
ax.legend()
plt.show()

# %%
client.close()
cluster.close()

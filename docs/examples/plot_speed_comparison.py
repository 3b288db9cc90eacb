"""
===================================================
Speed compared with scikit-learn on a small problem
===================================================

:class:`~skgmm.GaussianMixtureEM` and
:class:`sklearn.mixture.GaussianMixture` fitted side by side from the same
start (the same ``random_state``): the models agree, and we time both. This is
a small problem, so that the documentation builds quickly; the benchmarks in
the repository's ``benchmarks/`` folder (and ``benchmarks/RESULTS.md``) measure
larger ones.
"""

# %%
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from skgmm import GaussianMixtureEM

X, _ = make_blobs(n_samples=5000, n_features=8, centers=5, random_state=0)


def best_time(estimator_class, options, repeats=3):
    """The fastest of a few fits, and the model it produced."""
    times = []
    for _ in range(repeats):
        model = estimator_class(**options)
        start = perf_counter()
        model.fit(X)
        times.append(perf_counter() - start)
    return min(times), model


# %%
rows = []
for covariance_type in ("full", "tied", "diag", "spherical"):
    options = dict(n_components=5, covariance_type=covariance_type, random_state=0, tol=1e-6)
    t_sklearn, reference = best_time(GaussianMixture, options)
    t_skgmm, model = best_time(GaussianMixtureEM, options)
    agree = np.allclose(model.means_, reference.means_, rtol=1e-5, atol=1e-6)
    rows.append((covariance_type, t_sklearn, t_skgmm))
    print(
        f"{covariance_type:>9s}: sklearn {1e3 * t_sklearn:7.1f} ms, skgmm {1e3 * t_skgmm:7.1f} ms, "
        f"ratio {t_sklearn / t_skgmm:4.1f}x, same means: {agree}"
    )

# %%
# Times are measured while the documentation builds, on whatever machine
# builds it; see ``benchmarks/RESULTS.md`` for controlled measurements.
names = [row[0] for row in rows]
positions = np.arange(len(rows))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.bar(positions - 0.2, [1e3 * row[1] for row in rows], width=0.4, label="scikit-learn")
ax.bar(positions + 0.2, [1e3 * row[2] for row in rows], width=0.4, label="skgmm")
ax.set(xticks=positions, xticklabels=names, ylabel="fit time (ms, best of 3)", title="5000 x 8, 5 components")
ax.legend()
plt.show()

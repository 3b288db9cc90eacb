"""
====================================================
Anomaly scores from the log-likelihood
====================================================

Rows that are unlikely under a fitted mixture are candidate anomalies:
:meth:`~skgmm.GaussianMixtureEM.score_samples` gives each row's log-density,
and a threshold at a low percentile of the training scores flags the unusual
ones. ``sample_weight`` lets us down-weight rows known to be suspect.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from skgmm import GaussianMixtureEM

rng = np.random.default_rng(0)
inliers, _ = make_blobs(
    n_samples=500,
    centers=[[0, 0], [5, 5], [0, 6]],
    cluster_std=[1.0, 0.7, 0.5],
    random_state=0,
)
outliers = rng.uniform(-4, 9, size=(25, 2))
X = np.vstack([inliers, outliers])
is_outlier = np.r_[np.zeros(len(inliers), bool), np.ones(len(outliers), bool)]

# %%
# Fit, score every row, and flag the lowest 5 %.
gm = GaussianMixtureEM(3, covariance_type="full", random_state=0).fit(X)
scores = gm.score_samples(X)
threshold = np.percentile(scores, 5)
flagged = scores < threshold
caught = np.sum(flagged & is_outlier)
print(
    f"flagged {flagged.sum()} rows, {caught} of the {is_outlier.sum()} planted outliers among them"
)

# %%
# The score map: the contour is the threshold.
grid_x, grid_y = np.meshgrid(np.linspace(-5, 10, 200), np.linspace(-5, 10, 200))
grid_scores = gm.score_samples(
    np.column_stack([grid_x.ravel(), grid_y.ravel()])
).reshape(grid_x.shape)

fig, ax = plt.subplots(figsize=(6, 5))
image = ax.contourf(
    grid_x, grid_y, np.maximum(grid_scores, -25), levels=20, cmap="viridis"
)
ax.contour(
    grid_x, grid_y, grid_scores, levels=[threshold], colors="red", linewidths=2
)
ax.scatter(*X[~flagged].T, s=6, color="white", alpha=0.7, label="normal")
ax.scatter(*X[flagged].T, s=30, color="red", marker="x", label="flagged")
fig.colorbar(image, ax=ax, label="log-density (clipped at -25)")
ax.legend(loc="lower right")
ax.set_title("rows below the 5th percentile of the log-density")
plt.show()

# %%
# The outliers pulled the fit a little. Refit with the flagged rows given a
# small weight: the components tighten around the real clusters, so the
# inliers become more likely and the planted outliers less likely.
refit = GaussianMixtureEM(3, covariance_type="full", random_state=0).fit(
    X, sample_weight=np.where(flagged, 0.01, 1.0)
)
for name, model in (("first fit", gm), ("refit", refit)):
    s = model.score_samples(X)
    print(
        f"{name}: mean log-density inliers {s[~is_outlier].mean():.2f}, outliers {s[is_outlier].mean():.2f}"
    )

"""
==========================================
Fitting and imputing with missing values
==========================================

:class:`~skgmm.GaussianMixtureEM` fits data whose missing entries are ``NaN``
by exact EM on the observed coordinates, with no imputation beforehand.
Here 30% of the entries of a 2-D mixture are removed at random. The fit with
missing values is compared with what one could do with scikit-learn alone:
fill in the column means, then fit :class:`sklearn.mixture.GaussianMixture`.
Finally :class:`~skgmm.GaussianMixtureImputer` fills in the missing entries
from the fitted mixture.
"""

# %%
# Data with 30% of the entries missing
# ------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.mixture import GaussianMixture

from skgmm import GaussianMixtureEM, GaussianMixtureImputer

rng = np.random.default_rng(0)
means = np.array([[0.0, 0.0], [4.0, 4.0], [0.0, 5.0]])
covariances = np.array(
    [
        [[1.0, 0.8], [0.8, 1.0]],
        [[1.0, -0.6], [-0.6, 1.0]],
        [[0.6, 0.0], [0.0, 0.3]],
    ]
)
labels = rng.integers(3, size=1500)
X = np.stack(
    [rng.multivariate_normal(means[k], covariances[k]) for k in labels]
)
X_missing = X.copy()
X_missing[rng.uniform(size=X.shape) < 0.3] = np.nan
complete = ~np.isnan(X_missing).any(axis=1)
print(
    f"{np.isnan(X_missing).mean():.0%} of entries missing; {complete.mean():.0%} of rows complete"
)

# %%
# Exact EM against mean imputation
# --------------------------------
exact = GaussianMixtureEM(3, random_state=0).fit(X_missing)
filled = SimpleImputer().fit_transform(X_missing)
naive = GaussianMixture(3, random_state=0).fit(filled)
for name, model in [
    ("exact EM with NaN", exact),
    ("mean imputation + sklearn", naive),
]:
    error = max(np.abs(model.means_ - m).sum(axis=1).min() for m in means)
    print(f"{name:28s} worst mean error {error:.2f}")


def ellipses(ax, model, color):
    """Draw each component's 2-sigma ellipse."""
    angles = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(angles), np.sin(angles)])
    for mean, covariance in zip(model.means_, model.covariances_):
        chol = np.linalg.cholesky(covariance)
        ax.plot(*(mean[:, None] + 2 * chol @ circle), color=color)


fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
for ax, model, title in [
    (axes[0], exact, "skgmm: exact EM on the NaN data"),
    (axes[1], naive, "sklearn after mean imputation"),
]:
    ax.scatter(*X[complete].T, s=4, color="0.6", label="complete rows")
    if model is naive:
        ax.scatter(
            *filled[~complete].T,
            s=4,
            color="tab:red",
            label="mean-imputed rows",
        )
    ellipses(ax, model, "tab:blue")
    ax.set_title(title)
    ax.legend(loc="lower right")
plt.tight_layout()

# %%
# The mean-imputed rows line up on the two column-mean lines and pull the
# components towards them. Exact EM uses each incomplete row only through its
# observed coordinate, and its ellipses match the generating components.
#
# Imputation from the mixture
# ---------------------------
# :class:`~skgmm.GaussianMixtureImputer` replaces each missing entry by its
# conditional expectation given the row's observed entry, averaged over the
# components with the row's posterior probabilities.
missing = np.isnan(X_missing)
imputer = GaussianMixtureImputer(3, random_state=0).fit(X_missing)
for name, values in [
    ("mean", filled),
    ("GaussianMixtureImputer", imputer.transform(X_missing)),
]:
    print(
        f"{name:24s} RMSE on missing entries {np.sqrt(np.mean((values - X)[missing] ** 2)):.2f}"
    )

imputed = imputer.transform(X_missing)
fig, ax = plt.subplots(figsize=(5, 4.5))
ax.scatter(*X[complete].T, s=4, color="0.6", label="complete rows")
ax.scatter(*imputed[~complete].T, s=4, color="tab:green", label="imputed rows")
ax.set_title("Conditional-expectation imputation")
ax.legend(loc="lower right")
plt.show()

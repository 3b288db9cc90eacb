"""
==============================================================
How many components? A Dirichlet-process prior against the BIC
==============================================================

Two ways to let the data choose the number of components.
:class:`~skgmm.BayesianGaussianMixtureEM` (scikit-learn's
:class:`~sklearn.mixture.BayesianGaussianMixture` on skgmm's engine) fits
*one* mixture with more components than needed, under a Dirichlet-process
prior on the weights that switches the unneeded ones off.
:class:`~skgmm.GaussianMixtureIC` fits one maximum-likelihood mixture for
every number of components and keeps the lowest BIC. Both run here on the
same data, and the variational fit is compared with scikit-learn's.
"""

# %%
# Data from a known mixture: four elongated clusters of 400, 250, 150 and 100
# points in two dimensions.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.mixture import BayesianGaussianMixture

from skgmm import BayesianGaussianMixtureEM, GaussianMixtureIC
from skgmm.plotting import CriterionDisplay

rng = np.random.RandomState(0)
means = np.array([[0.0, 0.0], [6.0, 1.0], [1.0, 7.0], [7.0, 8.0]])
shapes = [
    np.array([[2.0, 1.2], [1.2, 1.0]]),
    np.array([[1.0, -0.6], [-0.6, 0.8]]),
] * 2
sizes = [400, 250, 150, 100]
X = np.vstack(
    [
        rng.multivariate_normal(m, c, size=n)
        for m, c, n in zip(means, shapes, sizes)
    ]
)

# %%
# The Dirichlet-process mixture. ``n_components=10`` is only an upper bound.
# The prior breaks a stick of length one into the weights, each component
# taking a Beta-distributed share of what the previous ones left; a small
# ``weight_concentration_prior`` makes most of the stick go to the first few
# components that the data support, so the variational fit gives the others
# (almost) no weight. They are still in the model, with their prior's means
# and covariances, but they explain no data.
params = dict(
    n_components=10,
    weight_concentration_prior_type="dirichlet_process",
    weight_concentration_prior=0.01,
    max_iter=500,
    random_state=0,
)
dpgmm = BayesianGaussianMixtureEM(**params).fit(X)
active = dpgmm.weights_ > 0.01
print("weights:", np.round(dpgmm.weights_, 3))
print("components with weight > 1%:", active.sum())
print("converged:", dpgmm.converged_, "after", dpgmm.n_iter_, "iterations")

# %%
# It is scikit-learn's model: the same parameters give the same fit.
reference = BayesianGaussianMixture(**params).fit(X)
print(
    "max |weights_ difference| vs scikit-learn:",
    f"{np.abs(dpgmm.weights_ - reference.weights_).max():.1e}",
)
print(
    "lower_bound_:",
    f"{dpgmm.lower_bound_:.6f} (skgmm), {reference.lower_bound_:.6f} (sklearn)",
)

# %%
# The BIC's choice: one maximum-likelihood fit of ``'full'`` components for
# each number from 1 to 10 (the covariance type of the variational fit), and
# the lowest BIC kept.
selector = GaussianMixtureIC(
    n_components=range(1, 11), covariance_type="full", random_state=0
).fit(X)
print("BIC chooses:", selector.best_params_)

# %%
# The weights of the Dirichlet-process fit beside the BIC curve.
fig, (ax_weights, ax_bic) = plt.subplots(1, 2, figsize=(10, 4))
ax_weights.bar(
    np.arange(params["n_components"]),
    dpgmm.weights_,
    color=np.where(active, "tab:blue", "lightgrey"),
)
ax_weights.axhline(0.01, color="grey", linestyle=":")
ax_weights.set_xticks(np.arange(params["n_components"]))
ax_weights.set_xlabel("component")
ax_weights.set_ylabel("weights_")
ax_weights.set_title(f"Dirichlet process: {active.sum()} components > 1%")
CriterionDisplay.from_estimator(selector, ax=ax_bic)
ax_bic.set_title(f"BIC: {selector.n_components_} components")
fig.tight_layout()

# %%
# The two clusterings. Here they agree on four clusters (the labels differ:
# the Dirichlet-process fit numbers its components in the order of its
# start, with the switched-off ones in between).
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, model, name in zip(
    axes, [dpgmm, selector], ["Dirichlet process", "BIC"]
):
    ax.scatter(X[:, 0], X[:, 1], c=model.predict(X), s=6, cmap="tab10")
    ax.set_title(f"{name}: {len(np.unique(model.predict(X)))} clusters used")
for mean in dpgmm.means_[active]:
    axes[0].scatter(*mean, c="black", marker="x", s=80)
axes[1].scatter(*selector.means_.T, c="black", marker="x", s=80)
fig.tight_layout()

# %%
# Why the two can differ. The BIC compares separate fits, each number of
# components with its own start, and charges every component its parameters
# times :math:`\frac12 \log n`: it picks the best trade-off of likelihood
# against size. The Dirichlet-process fit is a single variational fit from
# one start: a component is switched off when the data it would explain are
# explained as well by the others, at a price set by the priors
# (``weight_concentration_prior``, and the priors on the means and
# covariances), not by :math:`\log n`. So the number of active components
# depends on those priors, on the start (a cluster split between two
# components can stay split) and on the threshold chosen for "active" (here
# 1%); and with much data, both methods add components to describe clusters
# that are not Gaussian. On well-separated Gaussian clusters, as here, they
# agree; where they do not, the BIC answers "how many Gaussians describe the
# density best", the Dirichlet process "how many does this prior let the data
# use".
plt.show()

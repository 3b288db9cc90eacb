"""
==========================================================
Choosing the number of components: BIC, ICL and validation
==========================================================

How many components, and which covariance type? This example answers the
question three ways, as in the :ref:`model selection guide <model_selection>`:
with the BIC table and curve of :class:`~skgmm.GaussianMixtureIC` (mclust's
answer), with cross-validated held-out log-likelihood in
:class:`~sklearn.model_selection.GridSearchCV` (scikit-learn's answer), and with
the ICL, which counts *clusters* rather than Gaussian components. On data that
really is a Gaussian mixture they agree; on skewed clusters they do not.
"""

# %%
# Data from a known mixture: four elongated, partly overlapping components
# in two dimensions.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold

from skgmm import GaussianMixtureEM, GaussianMixtureIC
from skgmm.model_selection import CRITERION_SCORERS

rng = np.random.RandomState(0)
means = np.array([[0.0, 0.0], [6.0, 1.0], [1.0, 7.0], [7.0, 8.0]])
shapes = [
    np.array([[2.0, 1.2], [1.2, 1.0]]),
    np.array([[1.0, -0.6], [-0.6, 0.8]]),
] * 2
X = np.vstack(
    [rng.multivariate_normal(m, c, size=250) for m, c in zip(means, shapes)]
)

# %%
# The BIC table. :class:`~skgmm.GaussianMixtureIC` fits every number of
# components from 1 to 9 with each covariance type (mclust's default grid)
# and keeps the lowest BIC. ``cv_results_`` loads into pandas; pivoted, it is
# mclust's BIC table (lower is better here, as in scikit-learn).
selector = GaussianMixtureIC(random_state=0).fit(X)
table = pd.DataFrame(selector.cv_results_)
bic_table = table.pivot(
    index="param_n_components", columns="param_covariance_type", values="bic"
)
print(bic_table.round(1))
print("chosen:", selector.best_params_)

# %%
# The BIC curve of each covariance type. The drop stops at four components;
# past the minimum, each extra component costs more (``p log n``) than it
# gains in likelihood.
fig, ax = plt.subplots(figsize=(6, 4))
for covariance_type in bic_table.columns:
    ax.plot(
        bic_table.index,
        bic_table[covariance_type],
        marker="o",
        label=covariance_type,
    )
ax.axvline(selector.n_components_, color="grey", linestyle=":")
ax.set_xlabel("number of components")
ax.set_ylabel("BIC (lower is better)")
ax.legend(title="covariance_type")
fig.tight_layout()

# %%
# The chosen mixture behaves as a fitted :class:`~skgmm.GaussianMixtureEM`.
labels = selector.predict(X)
fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(X[:, 0], X[:, 1], c=labels, s=6, cmap="tab10")
ax.scatter(*selector.means_.T, c="black", marker="x", s=80)
ax.set_title(
    f"{selector.n_components_} '{selector.covariance_type_}' components"
)
fig.tight_layout()

# %%
# Cross-validation: the held-out mean log-likelihood (``GaussianMixtureEM.score``,
# GridSearchCV's default) needs no penalty, because overfitting shows on the
# held-out rows. The criteria are scorers too, for ``scoring=``.
search = GridSearchCV(
    GaussianMixtureEM(random_state=0),
    {"n_components": range(1, 8), "covariance_type": ["full", "spherical"]},
    cv=KFold(5, shuffle=True, random_state=0),
).fit(X)
print("held-out log-likelihood chooses:", search.best_params_)

# %%
# When they disagree: skewed clusters. Three clusters, each a log-normal
# blob, are not Gaussian. The BIC models each with several Gaussian
# components (it is a density criterion), while the ICL, which adds the
# entropy of the assignments, prefers components that are well separated and
# stays close to the number of clusters. Both criteria come from the same
# fits: ``cv_results_`` holds every criterion of every candidate. The grid
# goes well past the BIC's choice: a choice at the largest ``n_components``
# tried would only say that the grid was too small.
skewed = np.vstack(
    [
        np.exp(rng.normal(scale=0.4, size=(300, 2))) + offset
        for offset in ([0, 0], [8, 0], [4, 8])
    ]
)
skewed_selector = GaussianMixtureIC(
    n_components=12, covariance_type="full", random_state=0
).fit(skewed)
criteria = pd.DataFrame(skewed_selector.cv_results_).set_index(
    "param_n_components"
)[["bic", "icl"]]
criteria.index.name = "n_components"
print(criteria.round(1))
k_bic, k_icl = criteria["bic"].idxmin(), criteria["icl"].idxmin()
print("BIC chooses", k_bic, "components; ICL chooses", k_icl)

# The ICL's choice, fitted alone (the same hierarchical start).
by_icl = GaussianMixtureIC(
    n_components=[k_icl], covariance_type="full", random_state=0
).fit(skewed)
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
for ax, model, name in zip(axes, [skewed_selector, by_icl], ["BIC", "ICL"]):
    ax.scatter(
        skewed[:, 0], skewed[:, 1], c=model.predict(skewed), s=6, cmap="tab20"
    )
    ax.set_title(f"{name}: {model.n_components_} components")
fig.tight_layout()


# %%
# The same question by cross-validation, with several scores at once: the
# held-out mean log-likelihood, and the criteria computed on the held-out
# folds. The scorers return the criteria negated (greater is better, as
# scikit-learn expects); the table turns them back into criteria (lower is
# better), beside the log-likelihood (higher is better). Held-out likelihood, like the BIC, measures the density, so it also
# prefers more components than clusters here. The held-out criteria choose
# fewer: on a fold, :math:`n` is a fifth of the rows, so the penalty weighs
# more against the likelihood than on the whole data (see the
# :ref:`model selection guide <model_selection>`).
def held_out_log_likelihood(estimator, X, y=None):
    return estimator.score(X)


search = GridSearchCV(
    GaussianMixtureEM(random_state=0),
    {"n_components": range(1, 11)},
    scoring={"log_likelihood": held_out_log_likelihood, **CRITERION_SCORERS},
    refit="log_likelihood",
    cv=KFold(5, shuffle=True, random_state=0),
).fit(skewed)
held_out = pd.DataFrame(
    {
        "log-likelihood": search.cv_results_["mean_test_log_likelihood"],
        **{
            name.upper(): -search.cv_results_[f"mean_test_{name}"]
            for name in CRITERION_SCORERS
        },
    },
    index=pd.Index(range(1, 11), name="n_components"),
)
print(held_out.round(2).to_string())
print("held-out log-likelihood chooses:", search.best_params_)
plt.show()

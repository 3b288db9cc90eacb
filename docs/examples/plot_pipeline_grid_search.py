"""
=========================================================
Choosing the model by cross-validation in a pipeline
=========================================================

:class:`~skgmm.GaussianMixtureEM` is a scikit-learn estimator whose ``score``
is the mean log-likelihood of the data it is given. Inside a
:class:`~sklearn.pipeline.Pipeline` with a scaler in front,
:class:`~sklearn.model_selection.GridSearchCV` therefore chooses the number of
components and the covariance type by held-out likelihood, with no extra code.
"""

# %%
# The data: the wine data set (178 wines, 13 chemical measurements), on very
# different scales, hence the scaler.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgmm import GaussianMixtureEM

X = load_wine().data
pipeline = make_pipeline(StandardScaler(), GaussianMixtureEM(random_state=0))

# %%
# Search the grid. Each candidate is fitted on three quarters of the rows and
# scored (mean log-likelihood) on the remaining quarter.
param_grid = {
    "gaussianmixtureem__n_components": [1, 2, 3, 4],
    "gaussianmixtureem__covariance_type": ["full", "tied", "diag", "spherical"],
}
search = GridSearchCV(
    pipeline, param_grid, cv=KFold(4, shuffle=True, random_state=0)
)
search.fit(X)
print("best parameters:", search.best_params_)
print(f"held-out mean log-likelihood: {search.best_score_:.3f}")

# %%
# The held-out log-likelihood of every candidate (higher is better; the bars
# show the spread over the folds). The winner balances flexibility against
# the number of parameters that 178 rows in 13 dimensions can support.
results = search.cv_results_
fig, ax = plt.subplots(figsize=(6, 4))
for covariance_type in param_grid["gaussianmixtureem__covariance_type"]:
    rows = (
        np.asarray(results["param_gaussianmixtureem__covariance_type"])
        == covariance_type
    )
    ax.errorbar(
        np.asarray(results["param_gaussianmixtureem__n_components"])[
            rows
        ].astype(int),
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows],
        marker="o",
        capsize=3,
        label=covariance_type,
    )
ax.set(xlabel="number of components", ylabel="held-out mean log-likelihood")
ax.set_ylim(bottom=np.nanmax(results["mean_test_score"]) - 15)
ax.legend(title="covariance type")
plt.show()

# %%
# The chosen pipeline is refitted on all rows and used like any model.
best = search.best_estimator_
labels = best.predict(X)
print("rows per component:", np.bincount(labels))

"""
========================
A first Gaussian mixture
========================

Fit a mixture of three Gaussians to two-dimensional data, look at what was
fitted, label the rows, and draw the result. :class:`~skgmm.GaussianMixtureEM`
is used exactly like scikit-learn's :class:`~sklearn.mixture.GaussianMixture`.
"""

# %%
# Data: three groups of points of different sizes, shapes and orientations.
import matplotlib.pyplot as plt
import numpy as np

from skgmm import GaussianMixtureEM
from skgmm.plotting import ConvergenceDisplay, MixtureDisplay

rng = np.random.default_rng(0)
X = np.vstack(
    [
        rng.multivariate_normal([0, 0], [[1.0, 0.8], [0.8, 1.0]], size=400),
        rng.multivariate_normal([4, 1], [[0.3, 0.0], [0.0, 0.3]], size=200),
        rng.multivariate_normal([1, 5], [[2.0, -0.5], [-0.5, 0.5]], size=300),
    ]
)

# %%
# Fit. The fitted mixture is in the attributes that end with an underscore:
# the weight, mean and covariance of each component, and how EM went.
gm = GaussianMixtureEM(n_components=3, random_state=0).fit(X)
print("weights:", gm.weights_.round(3))
print("means:\n", gm.means_.round(2))
print(f"converged: {gm.converged_} after {gm.n_iter_} iterations")
print(f"mean log-likelihood: {gm.lower_bound_:.3f}")

# %%
# Use it. ``predict`` gives each row its most probable component,
# ``predict_proba`` the probability of each component (soft clustering), and
# ``score_samples`` the log-density. The third point is far from all the
# data: it still gets a label, with a probability near 1 for the component
# whose tail is the heaviest there, but its very low log-density says that
# the model does not expect such a row.
new_points = np.array([[0.0, 0.0], [2.0, 2.5], [10.0, -5.0]])
print("labels:", gm.predict(new_points))
print("probabilities:\n", gm.predict_proba(new_points).round(3))
print("log-density:", gm.score_samples(new_points).round(2))

# %%
# Draw it: the data coloured by component, with each component's 1, 2 and
# 3 standard-deviation ellipses, and the mean log-likelihood at each EM
# iteration.
fig, (ax_data, ax_em) = plt.subplots(1, 2, figsize=(10, 4))
MixtureDisplay.from_estimator(gm, X, ax=ax_data)
ConvergenceDisplay.from_estimator(gm, ax=ax_em)
fig.tight_layout()
plt.show()

# %%
# Next: :ref:`choose the number of components <model_selection>` instead of
# giving it, and read the :ref:`user guide <user_guide>` for the model, the
# covariance types and the initialisation.

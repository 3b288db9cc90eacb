"""Plots of fitted Gaussian mixtures (optional: ``pip install 'skgmm[plot]'``).

Three display objects shaped like scikit-learn's (``from_estimator`` builds the
display and draws it, ``plot(ax=None)`` draws it again on any axes):

- :class:`MixtureDisplay`: the data with each component's 1, 2 and 3 sigma
  ellipses and its label, on two chosen features or on the first two
  principal axes (a histogram and the fitted density when there is one
  feature);
- :class:`CriterionDisplay`: an information criterion (BIC, AIC or ICL)
  against the number of components, one curve per covariance type;
- :class:`ConvergenceDisplay`: the lower bound at each EM iteration.

matplotlib is imported only when something is drawn.
"""

# One module per display; what they share lives apart: the optional matplotlib
# import (_drawing), covariance and ellipse geometry (_geometry), and what is
# read from fitted estimators (_results). The private names of the former
# single module are re-exported as they were (skgmm.cli imports _criterion_table).
from skgmm.plotting._convergence import ConvergenceDisplay
from skgmm.plotting._criterion import CriterionDisplay
from skgmm.plotting._drawing import _axes as _axes
from skgmm.plotting._drawing import _matplotlib as _matplotlib
from skgmm.plotting._geometry import _COVARIANCE_TYPES as _COVARIANCE_TYPES
from skgmm.plotting._geometry import full_covariances
from skgmm.plotting._mixture import MixtureDisplay
from skgmm.plotting._mixture import _feature_index as _feature_index
from skgmm.plotting._results import _criterion_table as _criterion_table
from skgmm.plotting._results import _fitted_mixture as _fitted_mixture

__all__ = ["ConvergenceDisplay", "CriterionDisplay", "MixtureDisplay", "full_covariances"]

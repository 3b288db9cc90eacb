"""skgmm: Gaussian mixture models fitted by EM, as scikit-learn estimators."""

from skgmm._bayesian import BayesianGaussianMixtureEM
from skgmm._estimator import GaussianMixtureEM
from skgmm._selection import GaussianMixtureIC, GridEdgeWarning
from skgmm._singular import singular_components
from skgmm.engine.degenerate import DegenerateDataWarning
from skgmm.impute import GaussianMixtureImputer

__version__ = "0.1.0"

__all__ = [
    "BayesianGaussianMixtureEM",
    "DegenerateDataWarning",
    "GaussianMixtureEM",
    "GaussianMixtureIC",
    "GaussianMixtureImputer",
    "GridEdgeWarning",
    "__version__",
    "singular_components",
]

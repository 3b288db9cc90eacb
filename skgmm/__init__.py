"""skgmm: Gaussian mixture models fitted by EM, as scikit-learn estimators."""

from skgmm._estimator import GaussianMixtureEM

__version__ = "0.1.0"

__all__ = ["GaussianMixtureEM", "__version__"]

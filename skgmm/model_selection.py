"""Choosing the number of components and the covariance type.

Model selection composes with scikit-learn: the information criteria are
scorers for ``GridSearchCV(..., scoring=...)``, ``cross_validate`` and
``validation_curve``, and :class:`GaussianMixtureIC` fits a grid and keeps the
mixture the criterion prefers.  Without ``scoring``, scikit-learn's searches
use the estimator's ``score``: the held-out mean log-likelihood.

scikit-learn maximises scores, so the scorers return the *negated* criteria
(greater is better), as its ``neg_*`` scorers do.  Applied to a
:class:`~sklearn.pipeline.Pipeline`, a scorer transforms ``X`` through the
steps before the mixture and evaluates the mixture on that: the criteria of
pipelines sharing the same preprocessing are comparable.
"""

from __future__ import annotations

from skgmm._selection import GaussianMixtureIC

__all__ = ["CRITERION_SCORERS", "GaussianMixtureIC", "aic_scorer", "bic_scorer", "icl_scorer"]


def _mixture_and_data(estimator, X):
    """The mixture at the end of (nested) pipelines, and X transformed up to it."""
    while hasattr(estimator, "steps"):
        if len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator.steps[-1][1]
    return estimator, X


def _criterion(estimator, X, name):
    mixture, X = _mixture_and_data(estimator, X)
    method = getattr(mixture, name, None)
    if method is None:
        raise TypeError(
            f"The {name} scorer needs a mixture with a {name}(X) method (such as "
            f"GaussianMixtureEM), or a Pipeline ending in one; got {type(mixture).__name__}."
        )
    return float(method(X))


def bic_scorer(estimator, X, y=None):
    """Negated Bayesian information criterion, for ``scoring=``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        A fitted mixture with a ``bic`` method, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Data to evaluate the criterion on.
    y : Ignored
        Not used, present for API consistency by convention.

    Returns
    -------
    score : float
        ``-estimator.bic(X)``: greater is better.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skgmm import GaussianMixtureEM
    >>> from skgmm.model_selection import bic_scorer
    >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
    >>> search = GridSearchCV(
    ...     GaussianMixtureEM(random_state=0),
    ...     {"n_components": [1, 2, 3, 4, 5]},
    ...     scoring=bic_scorer,
    ... ).fit(X)
    >>> search.best_params_
    {'n_components': 3}
    """
    return -_criterion(estimator, X, "bic")


def aic_scorer(estimator, X, y=None):
    """Negated Akaike information criterion, for ``scoring=``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        A fitted mixture with an ``aic`` method, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Data to evaluate the criterion on.
    y : Ignored
        Not used, present for API consistency by convention.

    Returns
    -------
    score : float
        ``-estimator.aic(X)``: greater is better.
    """
    return -_criterion(estimator, X, "aic")


def icl_scorer(estimator, X, y=None):
    """Negated integrated completed likelihood, for ``scoring=``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        A fitted mixture with an ``icl`` method, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Data to evaluate the criterion on.
    y : Ignored
        Not used, present for API consistency by convention.

    Returns
    -------
    score : float
        ``-estimator.icl(X)``: greater is better.
    """
    return -_criterion(estimator, X, "icl")


#: The scorers by criterion name, e.g. ``cross_validate(..., scoring=CRITERION_SCORERS)``.
CRITERION_SCORERS = {"bic": bic_scorer, "aic": aic_scorer, "icl": icl_scorer}

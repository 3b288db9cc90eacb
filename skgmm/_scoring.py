"""bic, aic and icl of a fitted mixture: the methods model selection calls."""

from __future__ import annotations

import math

from skgmm.covariance import get_covariance_model
from skgmm.engine.criteria import information_criteria


class InformationCriteriaMixin:
    """:meth:`bic`, :meth:`aic` and :meth:`icl` of a fitted Gaussian mixture.

    The estimator provides ``means_``, ``n_components``, ``covariance_type``,
    :meth:`score` and ``_estimate(X, want="log_resp")``.
    """

    def _n_parameters(self):
        """Return the number of free parameters in the model."""
        n_features = self.means_.shape[1]
        model = get_covariance_model(self.covariance_type)
        covariance = model.n_covariance_parameters(self.n_components, n_features)
        return int(covariance + n_features * self.n_components + self.n_components - 1)

    def bic(self, X):
        """Bayesian information criterion for the current model on the input X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        bic : float
            The lower the better.
        """
        n_samples = len(X)
        return -2 * self.score(X) * n_samples + self._n_parameters() * math.log(n_samples)

    def aic(self, X):
        """Akaike information criterion for the current model on the input X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        aic : float
            The lower the better.
        """
        return -2 * self.score(X) * len(X) + 2 * self._n_parameters()

    def icl(self, X):
        """Integrated completed likelihood criterion for the current model on X.

        The BIC plus twice the entropy of the responsibilities,
        ``bic(X) - 2 * sum(resp * log(resp))``: it penalises components that
        overlap, so it favours well-separated clusters (Biernacki, Celeux &
        Govaert, 2000; mclust's ``icl``, with the sign of :meth:`bic`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        icl : float
            The lower the better.
        """
        return self._information_criteria(X)["icl"]

    def _information_criteria(self, X, sample_weight=None) -> dict:
        """Log-likelihood, parameter count, BIC, AIC and ICL on (weighted) X, in one pass.

        A row of weight ``w`` counts as ``w`` rows, in the log-likelihood, the
        entropy and the ``log n`` of BIC; without weights BIC, AIC and ICL are
        those of :meth:`bic`, :meth:`aic` and :meth:`icl`.
        """
        log_prob_norm, log_resp = self._estimate(X, want="log_resp")
        return information_criteria(log_prob_norm, log_resp, self._n_parameters(), sample_weight)

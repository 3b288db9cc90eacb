"""Imputation of missing values with a Gaussian mixture fitted by exact EM."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skgmm._estimator import GaussianMixtureEM
from skgmm._init import INITIALISERS
from skgmm._validation import FLOAT_DTYPES, Interval, StrOptions, _fit_context
from skgmm.covariance import COVARIANCE_MODELS, get_covariance_model
from skgmm.engine.logsumexp import normalise
from skgmm.sources._patterns import dense_covariances, pattern_kernel, pattern_log_prob, prepare_missing_pass

__all__ = ["GaussianMixtureImputer"]


class GaussianMixtureImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing values from a Gaussian mixture fitted by exact EM.

    :meth:`fit` fits a :class:`~skgmm.GaussianMixtureEM` to the data with its
    missing values (the EM of Ghahramani & Jordan 1994, which uses every
    observed entry). :meth:`transform` replaces each missing entry by its
    conditional expectation given the observed entries of its row,
    ``E[x_m | x_o] = sum_k p(k | x_o) (mu_km + Sigma_k,mo Sigma_k,oo^-1 (x_o - mu_ko))``,
    or, with ``sample_posterior=True``, by a draw from the conditional
    distribution (for multiple imputation).

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components. One component is the Gaussian
        conditional-mean (regression) imputer; more components capture
        clusters and non-linear dependence.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Covariance structure of the components (see
        :class:`~skgmm.GaussianMixtureEM`). Only 'full' and 'tied' use the
        correlations between features to impute; 'diag' and 'spherical'
        impute from the component posteriors only.

    sample_posterior : bool, default=False
        If True, draw each row's missing entries from their conditional
        distribution under the mixture (a component drawn from the row's
        posterior, then a Gaussian draw) instead of taking the conditional
        expectation. Use different ``random_state`` values for multiple
        imputation.

    tol : float, default=1e-3
        Convergence threshold of EM.

    reg_covar : float, default=1e-6
        Regularisation added to the diagonal of the covariances.

    max_iter : int, default=100
        Maximum number of EM iterations.

    n_init : int, default=1
        Number of initialisations; the best is kept.

    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        Initialisation of EM, on the data with missing entries filled by
        column means.

    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation and of the draws of ``sample_posterior``.

    Attributes
    ----------
    mixture_ : GaussianMixtureEM
        The fitted mixture.

    n_iter_ : int
        Number of EM iterations of the kept fit.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    GaussianMixtureEM : The mixture, which fits and scores data with NaN.
    sklearn.impute.SimpleImputer : Column means or medians.
    sklearn.impute.IterativeImputer : Round-robin regression imputation.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmm import GaussianMixtureImputer
    >>> X = np.array([[1.0, 2.0], [2.0, 4.1], [3.0, 5.9], [4.0, np.nan]])
    >>> imputer = GaussianMixtureImputer(random_state=0).fit(X)
    >>> imputer.transform(X)[3].round(1)
    array([4. , 7.9])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCE_MODELS))],
        "sample_posterior": ["boolean"],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(INITIALISERS))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        sample_posterior=False,
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.sample_posterior = sample_posterior
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the mixture to ``X``, whose NaN entries are missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values encoded as NaN.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan", ensure_min_samples=2)
        self._rng = check_random_state(self.random_state)
        self.mixture_ = GaussianMixtureEM(
            self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.random_state,
        ).fit(X)
        self.n_iter_ = self.mixture_.n_iter_
        return self

    def transform(self, X):
        """Fill the missing entries of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values encoded as NaN.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            ``X`` with every NaN replaced by its conditional expectation (or a
            draw, with ``sample_posterior=True``).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan", copy=True)
        missing = np.isnan(X)
        incomplete = np.flatnonzero(missing.any(axis=1))
        if incomplete.size == 0:
            return X
        mixture = self.mixture_
        model = get_covariance_model(mixture.covariance_type)
        params = mixture._fitted_params(np.float64)
        covariances = dense_covariances(model, params)
        observed, inverse = np.unique(~missing[incomplete], axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        # The pass kernel for weights and means; patterns are built here from
        # full covariance matrices, so every covariance type imputes alike.
        mk = prepare_missing_pass(model, params, observed[:0])
        rng = self._rng
        for index, mask in enumerate(observed):
            rows = incomplete[inverse == index]
            X[rows] = self._impute_pattern(mk, covariances, mask, X[rows], rng).astype(X.dtype)
        return X

    def _impute_pattern(self, mk, covariances, observed_mask, X_rows, rng):
        """Fill rows sharing one missingness pattern."""
        X_rows = np.asarray(X_rows, np.float64)
        missing = np.flatnonzero(~observed_mask)
        n_rows = X_rows.shape[0]
        if observed_mask.any():
            pattern = pattern_kernel(covariances, observed_mask)
            log_prob, (_, whitened) = pattern_log_prob(mk, pattern, X_rows)
            normalise(log_prob, 1)
            log_resp = log_prob
            resp = np.exp(log_resp)
            conditional_means = mk.means[:, None, missing] + np.matmul(whitened, pattern.gain)
            conditional_covariance = pattern.conditional_covariance
        else:
            resp = np.broadcast_to(np.exp(mk.log_weights), (n_rows, len(mk.means)))
            conditional_means = np.broadcast_to(mk.means[:, None, :], (len(mk.means), n_rows, missing.size))
            conditional_covariance = covariances
        if not self.sample_posterior:
            X_rows[:, missing] = np.einsum("nk,knm->nm", resp, conditional_means)
            return X_rows
        cumulative = np.cumsum(resp, axis=1)
        draws = rng.uniform(size=(n_rows, 1)) * cumulative[:, -1:]
        components = np.minimum((cumulative < draws).sum(axis=1), resp.shape[1] - 1)
        noise = rng.standard_normal(size=(n_rows, missing.size))
        for k in np.unique(components):
            rows = np.flatnonzero(components == k)
            chol = np.linalg.cholesky(conditional_covariance[k] + 1e-12 * np.eye(missing.size))
            X_rows[np.ix_(rows, missing)] = conditional_means[k, rows] + noise[rows] @ chol.T
        return X_rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

"""Variational Bayesian Gaussian mixture: scikit-learn's contract on the EM engine.

:class:`BayesianGaussianMixtureEM` is a drop-in for
:class:`sklearn.mixture.BayesianGaussianMixture`.  It is the engine's EM loop
(:func:`skgmm.engine.loop.fit_best`) with the step of :mod:`skgmm._variational`:
the fused pass over the data is the engine's Gaussian E-step with the
variational per-component constants (:func:`~skgmm._variational.e_step_terms`)
as its ``log_weights``; its statistics feed the variational M-step, and the
bound (a total, with ``tol`` on the total, as in scikit-learn) is computed
from the same statistics.

The data goes through :func:`skgmm.sources.open_source`, so ``sample_weight``
(a row of weight ``w`` counts as ``w`` rows), float32 and Dask arrays carry
over.  Missing values do not: the expected log-density of the observed
coordinates of a row under the Normal-Wishart posterior is not the Gaussian
marginal plus the same per-component constant, so NaN entries are rejected.
"""

from __future__ import annotations

from numbers import Real
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skgmm._callbacks import monitor_for
from skgmm._estimator import GaussianMixtureEM
from skgmm._init import INITIALISERS
from skgmm._typing import FloatArray
from skgmm._validation import PARAMETER_CONSTRAINTS, _fit_context
from skgmm._variational import (
    WEIGHT_CONCENTRATION_PRIOR_TYPES,
    VariationalParams,
    check_variational_priors,
    compute_weights,
    e_step_terms,
    estimate_resp_log_resp_sum,
    estimate_tied_covariance,
    lower_bound,
    variational_m_step,
)
from skgmm.covariance import get_covariance_model
from skgmm.engine.degenerate import check_feature_scale
from skgmm.engine.loop import EMSettings, fit_best
from skgmm.engine.mstep import MixtureParams, estimate_parameters
from skgmm.sources import MissingValuesSource, open_source

# Starts that give responsibility to one row per component: scikit-learn's
# 'tied' start then depends on the rows' second moment about the origin.
SINGLE_ROW_STARTS = frozenset({"random_from_data", "k-means++"})

_GMM_KEYS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
)

BAYESIAN_PARAMETER_CONSTRAINTS: dict = {
    **{key: PARAMETER_CONSTRAINTS[key] for key in _GMM_KEYS},
    # The variational updates exist for scikit-learn's four structures only.
    "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
    "weight_concentration_prior_type": [StrOptions(set(WEIGHT_CONCENTRATION_PRIOR_TYPES))],
    "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
    "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
    "mean_prior": [None, "array-like"],
    "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
    "covariance_prior": [None, "array-like", Interval(Real, 0.0, None, closed="neither")],
}


class BayesianState(NamedTuple):
    """What a pass over the data needs (the fields of ``MixtureParams``) and the posterior.

    ``weights`` only centre the pass; ``log_weights`` are the variational
    E-step constants.
    """

    weights: FloatArray
    means: FloatArray
    covariances: FloatArray
    precisions_cholesky: FloatArray
    log_weights: FloatArray
    posterior: VariationalParams


def state_of(posterior: VariationalParams, covariance_type: str, dtype) -> BayesianState:
    """The engine's parameters of ``posterior``, for passes over data of ``dtype``."""
    n_features = posterior.means.shape[1]
    return BayesianState(
        weights=compute_weights(posterior.weight_concentration),
        means=np.asarray(posterior.means, dtype),
        covariances=np.asarray(posterior.covariances, dtype),
        precisions_cholesky=np.asarray(posterior.precisions_cholesky, dtype),
        log_weights=e_step_terms(posterior, covariance_type, n_features),
        posterior=posterior,
    )


def data_statistics(source, centre):
    """Weighted mean, scatter about it and total weight of all rows, in one pass.

    The pass is the engine's, with one 'full' component: every row has
    responsibility one.
    """
    full = get_covariance_model("full")
    n_features = source.n_features
    centre = np.asarray(centre, np.float64)
    params = MixtureParams(
        np.ones(1),
        centre[None, :],
        None,
        full.identity_precisions_cholesky(1, n_features, source.dtype),
    )
    stats = source.em_pass(full, params)
    mean = stats.shift[0] + stats.resp_x_sum[0] / stats.resp_sum[0]
    stats = stats.recentred(mean[None, :])
    return mean, stats.scatter[0], stats.weight_sum


def _reject_missing(source):
    if isinstance(source, MissingValuesSource):
        raise ValueError(
            "Input X contains NaN. BayesianGaussianMixtureEM does not support missing values "
            "(GaussianMixtureEM does): impute them, or drop the rows."
        )


class BayesianGaussianMixtureEM(ClusterMixin, DensityMixin, BaseEstimator):
    """Variational Bayesian estimation of a Gaussian mixture, on the blocked EM engine.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`:
    the same parameters, methods and fitted attributes, and the same results
    from the same ``random_state``.  It also accepts ``sample_weight`` (a row
    of weight ``w`` counts as ``w`` copies of it) and Dask arrays; it does
    not accept missing values.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components (an upper bound: the fit may leave
        some with negligible weight).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The type of covariance parameters.
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound (a total over
        the samples, as in scikit-learn).
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of covariances.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations to perform; the best is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
            'hierarchical'}, default='kmeans'
        The method used to initialise the responsibilities ('hierarchical' as
        in :class:`~skgmm.GaussianMixtureEM`).
    weight_concentration_prior_type : {'dirichlet_process', \
            'dirichlet_distribution'}, default='dirichlet_process'
        The type of the weight concentration prior.
    weight_concentration_prior : float or None, default=None
        The Dirichlet concentration of each component (gamma); None: ``1 /
        n_components``.
    mean_precision_prior : float or None, default=None
        The precision prior on the mean distribution (Gaussian); None: 1.
    mean_prior : array-like of shape (n_features,), default=None
        The prior on the mean distribution; None: the (weighted) mean of X.
    degrees_of_freedom_prior : float or None, default=None
        The prior of the number of degrees of freedom of the covariance
        distributions (Wishart); None: ``n_features``.
    covariance_prior : float or array-like, default=None
        The prior on the covariance distribution (Wishart); None: the
        (weighted) empirical covariance of X, shaped by ``covariance_type``.
    random_state : int, RandomState instance or None, default=None
        Controls the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        If True, the solution of the last fit initialises the next one.
    verbose : int, default=0
        Enable verbose output.
    verbose_interval : int, default=10
        Number of iterations between prints.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        As in :class:`sklearn.mixture.BayesianGaussianMixture`.
    weight_concentration_ : tuple of two ndarrays or ndarray
        Beta parameters of the stick lengths ('dirichlet_process') or the
        Dirichlet parameters ('dirichlet_distribution').
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, \
            degrees_of_freedom_prior_, covariance_prior_
        The priors used, defaults filled in.
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,) or float ('tied')
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Lower bound of the evidence (total over samples) of the best fit.
    lower_bounds_ : list of float
        Its value at each iteration of the best fit.
    labels_ : ndarray of shape (n_samples,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    sklearn.mixture.BayesianGaussianMixture : The reference implementation.
    GaussianMixtureEM : Maximum-likelihood mixture on the same engine.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmm import BayesianGaussianMixtureEM
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [12, 4], [10, 7]])
    >>> bgm = BayesianGaussianMixtureEM(n_components=2, random_state=42).fit(X)
    >>> bgm.means_
    array([[2.49... , 2.29...],
           [8.45..., 4.52... ]])
    >>> bgm.predict([[0, 0], [9, 3]])
    array([0, 1])
    """

    _parameter_constraints: dict = BAYESIAN_PARAMETER_CONSTRAINTS

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # -- fitting ----------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters with variational inference.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: a row of weight ``w`` counts as ``w`` copies.

        Returns
        -------
        self : object
        """
        self.fit_predict(X, y, sample_weight=sample_weight)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None, sample_weight=None):
        """Estimate model parameters using X and predict the labels for X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        covariance_type = self.covariance_type
        model = get_covariance_model(covariance_type)
        K = self.n_components
        source = open_source(
            self, X, sample_weight, model=model, n_components=K, reset=True, min_samples=2, n_required=K
        )
        _reject_missing(source)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 0  # 0: continue from the fitted model
        random_state = check_random_state(self.random_state)
        settings = EMSettings(self.max_iter, self.tol, self.reg_covar)
        dtype = source.dtype
        eps10 = 10 * np.finfo(dtype).eps
        with source:
            if source.n_samples < K:
                raise ValueError(
                    "Expected n_samples >= n_components but got "
                    f"n_components = {K}, n_samples = {source.n_samples}. "
                    "Decrease n_components or pass more samples."
                )
            source.prepare_starts(self.init_params if do_init else None, n_init, random_state)
            centre, variance, spread = source.feature_moments()
            check_feature_scale(variance, spread, source.n_samples, dtype, self.reg_covar)
            data = data_statistics(source, centre)
            data_mean, data_scatter, weight_sum = data
            priors = check_variational_priors(
                K,
                covariance_type,
                data_mean,
                data_scatter / (weight_sum - 1),
                weight_concentration_prior_type=self.weight_concentration_prior_type,
                weight_concentration_prior=self.weight_concentration_prior,
                mean_precision_prior=self.mean_precision_prior,
                mean_prior=self.mean_prior,
                degrees_of_freedom_prior=self.degrees_of_freedom_prior,
                covariance_prior=self.covariance_prior,
            )

            def gaussian_statistics(stats):
                # nk with scikit-learn's 10 eps (of a row's weight, as GaussianMixtureEM)
                nk = stats.resp_sum + eps10 * stats.row_weight
                _, xk, sk = estimate_parameters(stats, model, self.reg_covar, dtype)
                return nk, xk, sk

            def start(init):
                rows = source.init_source(init)
                resp = INITIALISERS[self.init_params](rows.X, rows.sample_weight, K, random_state)
                nk, xk, sk = gaussian_statistics(rows.resp_stats(model, resp, K))
                if covariance_type == "tied" and self.init_params in SINGLE_ROW_STARTS:
                    mean, scatter, total = data if rows is source else data_statistics(rows, centre)
                    sk = estimate_tied_covariance(
                        scatter + total * np.outer(mean, mean), nk, xk, self.reg_covar
                    )
                return state_of(
                    variational_m_step(nk, xk, sk, priors, covariance_type), covariance_type, dtype
                )

            def step(stats, state):
                # the statistics are centred on the pass means, those of the E-step
                about_means = stats.recentred(np.asarray(state.posterior.means, np.float64))
                entropy_sum = estimate_resp_log_resp_sum(
                    stats.resp_sum,
                    about_means.scatter,
                    stats.log_likelihood,
                    state.posterior,
                    covariance_type,
                )
                posterior = variational_m_step(*gaussian_statistics(stats), priors, covariance_type)
                bound = lower_bound(posterior, entropy_sum, covariance_type)
                return state_of(posterior, covariance_type, dtype), bound

            warm = None if n_init else (self._fitted_state(dtype), self.lower_bound_)
            best = fit_best(
                source,
                model,
                start,
                settings,
                n_init,
                monitor_for(self.verbose, self.verbose_interval),
                None,
                warm,
                step,
            )
            self._set_attributes(priors, best.params.posterior, dtype)
            self.converged_, self.n_iter_ = best.converged, best.n_iter
            self.lower_bound_, self.lower_bounds_ = best.lower_bound, best.lower_bounds
            # A final E-step, from the stored attributes, so that fit_predict(X)
            # is fit(X).predict(X).
            self.labels_ = source.estimate(model, self._fitted_state(dtype), "labels")
        return self.labels_

    def _set_attributes(self, priors, posterior: VariationalParams, dtype):
        def cast(value):
            return np.asarray(value, dtype) if np.ndim(value) else dtype.type(value)

        self.weight_concentration_prior_ = priors.weight_concentration_prior
        self.mean_precision_prior_ = priors.mean_precision_prior
        self.mean_prior_ = priors.mean_prior
        self.degrees_of_freedom_prior_ = priors.degrees_of_freedom_prior
        self.covariance_prior_ = priors.covariance_prior
        concentration = posterior.weight_concentration
        self.weight_concentration_ = (
            tuple(cast(c) for c in concentration) if isinstance(concentration, tuple) else cast(concentration)
        )
        self.mean_precision_ = cast(posterior.mean_precision)
        self.means_ = cast(posterior.means)
        self.degrees_of_freedom_ = cast(posterior.degrees_of_freedom)
        self.covariances_ = cast(posterior.covariances)
        self.precisions_cholesky_ = cast(posterior.precisions_cholesky)
        self.weights_ = cast(compute_weights(posterior.weight_concentration))
        model = get_covariance_model(self.covariance_type)
        self.precisions_ = cast(model.compute_precisions(np.asarray(posterior.precisions_cholesky)))

    def _fitted_state(self, dtype) -> BayesianState:
        concentration = self.weight_concentration_

        def as64(value):
            return np.asarray(value, np.float64) if np.ndim(value) else float(value)

        posterior = VariationalParams(
            weight_concentration=(
                tuple(as64(c) for c in concentration)
                if isinstance(concentration, tuple)
                else as64(concentration)
            ),
            mean_precision=as64(self.mean_precision_),
            means=as64(self.means_),
            degrees_of_freedom=as64(self.degrees_of_freedom_),
            covariances=as64(self.covariances_),
            precisions_cholesky=as64(self.precisions_cholesky_),
        )
        return state_of(posterior, self.covariance_type, dtype)

    # -- inference --------------------------------------------------------
    def _source(self, X):
        check_is_fitted(self)
        model = get_covariance_model(self.covariance_type)
        source = open_source(
            self,
            X,
            None,
            model=model,
            n_components=self.n_components,
            reset=False,
            fitting=False,
            promote_to=self.means_.dtype,
        )
        _reject_missing(source)
        return model, source

    def _estimate(self, X, want):
        model, source = self._source(X)
        with source:
            return source.estimate(model, self._fitted_state(source.dtype), want)

    def score_samples(self, X):
        """Log of the variational E-step normaliser of each sample (scikit-learn's ``score_samples``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        return self._estimate(X, want=None)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        model, source = self._source(X)
        with source:
            return source.score(model, self._fitted_state(source.dtype), None)

    def predict(self, X):
        """Component labels of the samples in X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self._estimate(X, want="labels")

    def predict_proba(self, X):
        """Responsibilities of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        return self._estimate(X, want="proba")

    def sample(self, n_samples=1):
        """Generate random samples from the fitted mixture (weights, means, covariances).

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        return GaussianMixtureEM.sample(self, n_samples)

"""The public estimator: scikit-learn's contract around the EM engine."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skgmm import _online as online
from skgmm._callbacks import monitor_for
from skgmm._scoring import InformationCriteriaMixin
from skgmm._validation import (
    PARAMETER_CONSTRAINTS,
    _fit_context,
    check_fitted_matches,
    check_initial_parameters,
)
from skgmm.covariance import get_covariance_model
from skgmm.covariance.decomposition import decompose_covariances
from skgmm.engine.degenerate import check_feature_scale
from skgmm.engine.guard import EmptyComponentGuard
from skgmm.engine.loop import EMSettings, fit_best, start_parameters
from skgmm.engine.mstep import MixtureParams
from skgmm.sources import open_source


class GaussianMixtureEM(ClusterMixin, DensityMixin, InformationCriteriaMixin, BaseEstimator):
    """Gaussian mixture fitted by Expectation-Maximisation.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the same
    parameters, methods and fitted attributes, and the same results from the
    same start, computed by a blocked engine over sufficient statistics that is
    faster and uses bounded memory.  It also accepts ``sample_weight``.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.

    covariance_type : str, default='full'
        String describing the type of covariance parameters to use.
        Must be one of:

        - 'full': each component has its own general covariance matrix.
        - 'tied': all components share the same general covariance matrix.
        - 'diag': each component has its own diagonal covariance matrix.
        - 'spherical': each component has its own single variance.

        or one of mclust's parsimonious models (Celeux and Govaert 1995),
        ``Sigma_k = lambda_k D_k A_k D_k^T`` with volume ``lambda_k``
        (``det Sigma_k = lambda_k ** n_features``), shape ``A_k`` (diagonal,
        determinant 1) and orientation ``D_k`` (orthogonal).  The three
        letters give the volume, shape and orientation, in that order: E
        equal for all components, V variable, I the identity:

        - 'EII', 'VII': spherical, equal or variable volumes.
        - 'EEI', 'VEI', 'EVI', 'VVI': diagonal (axis-aligned).
        - 'EEE', 'VEE', 'EVE', 'VVE': a common orientation.
        - 'EEV', 'VEV', 'EVV', 'VVV': orientations of their own.
        - 'E', 'V' (one feature only): equal or variable variances.

        'VII', 'VVI', 'EEE' and 'VVV' are aliases of 'spherical', 'diag',
        'tied' and 'full' (the same model, fit and layout of
        ``covariances_``).  The ten others keep ``covariances_`` of shape
        (n_components, n_features, n_features); with one feature each is
        'E' or 'V' after its volume letter.  ``reg_covar * nk_k`` is added to
        the diagonal of each component's scatter before the M-step, so that
        the covariances stay in the model's family (for 'EII', 'EEI' and
        'EEV', as for the aliases, this adds ``reg_covar`` to their
        diagonal).  VEI, VEE, EVE, VVE and VEV have iterative M-steps; as in
        mclust, all but VEE's continue from the covariances in force.  VVE's
        common orientation is chosen as mclust 6 chooses it, by EVE's
        criterion (which ignores the volumes and can lower VVE's likelihood;
        ``benchmarks/RESULTS.md`` measures the alternative).  The number of
        parameters (:meth:`bic`, :meth:`aic`) is mclust's.  Every model's
        decomposition ``lambda_k D_k diag(A_k) D_k^T`` is in ``volumes_``,
        ``shapes_`` and ``orientations_``.

    tol : float, default=1e-3
        The convergence threshold. EM iterations will stop when the
        change of the mean log-likelihood per sample is below this threshold
        (or, with ``convergence='relative'``, the relative change of the
        total log-likelihood).

    convergence : {'mean', 'relative'}, default='mean'
        What ``tol`` bounds:

        - 'mean': the change of the mean log-likelihood per sample
          (scikit-learn's rule).
        - 'relative': R mclust's rule, ``|L - L_old| / (1 + |L|) < tol`` for
          the total (weighted) log-likelihood ``L``; mclust's default ``tol``
          is 1e-5 (what :class:`~skgmm.GaussianMixtureIC` uses).  It asks for
          more iterations on small data, where ``L`` is small.

    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of covariance,
        so that the covariance matrices are all positive.

    max_iter : int, default=100
        The number of EM iterations to perform.

    n_init : int, default=1
        The number of initialisations to perform. The best result is kept.

    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
            'hierarchical'}, default='kmeans'
        The method used to initialise the responsibilities:

        - 'kmeans': responsibilities from one k-means run.
        - 'k-means++': one k-means++ seed per component.
        - 'random': random responsibilities.
        - 'random_from_data': one random data point per component.
        - 'hierarchical': mclust's start, a cut of a model-based hierarchical
          agglomeration (mclust's ``VVV`` criterion on its ``"SVD"``
          coordinates) of at most 2000 rows, quantile classes for one
          feature; deterministic on smaller data, so ``n_init > 1`` repeats it.
          It often finds better maxima than 'kmeans'; it is the default of
          :class:`~skgmm.GaussianMixtureIC`.

        With ``sample_weight``, every method draws by weight.

    weights_init : array-like of shape (n_components,), default=None
        The user-provided initial weights.
        If None, weights are initialised using the `init_params` method.

    means_init : array-like of shape (n_components, n_features), default=None
        The user-provided initial means.
        If None, means are initialised using the `init_params` method.

    precisions_init : array-like, default=None
        The user-provided initial precisions (inverse of the covariance
        matrices). If None, precisions are initialised using the
        `init_params` method. The shape depends on `covariance_type`::

            (n_components,)                        if 'spherical' ('VII'),
            (n_features, n_features)               if 'tied' ('EEE'),
            (n_components, n_features)             if 'diag' ('VVI'),
            (n_components, n_features, n_features) otherwise

    random_state : int, RandomState instance or None, default=None
        Controls the random seed given to the initialisation method and to
        :meth:`sample`. Pass an int for reproducible output across calls.

    warm_start : bool, default=False
        If True, the solution of the last fit is used as initialisation for
        the next call of fit, and `n_init` is ignored. The fitted model must
        match the current parameters and data: a changed ``n_components`` or
        ``covariance_type``, or data with another number of features, raises
        a ``ValueError`` (set ``warm_start=False`` to start afresh).

    verbose : int, default=0
        Enable verbose output. If 1 then it prints the current
        initialisation and each iteration step. If greater than 1 then
        it prints also the log probability and the time needed for each step.

    verbose_interval : int, default=10
        Number of iterations between two progress prints.

    learning_decay : float, default=0.7
        Exponent of the step size of :meth:`partial_fit` (stepwise EM): the
        batch number ``t`` gets weight ``(t + learning_offset) **
        -learning_decay`` in the running statistics. Values in (0.5, 1]
        guarantee convergence; smaller values adapt faster and are noisier.
        Named as in :class:`~sklearn.decomposition.LatentDirichletAllocation`.

    learning_offset : float, default=10.0
        Offset of the step size of :meth:`partial_fit`; larger values
        down-weight the early batches.

    Attributes
    ----------
    weights_ : array-like of shape (n_components,)
        The weight of each mixture component.

    means_ : array-like of shape (n_components, n_features)
        The mean of each mixture component.

    covariances_ : array-like
        The covariance of each mixture component, shaped as `precisions_init`.

    precisions_ : array-like
        The precision matrices (inverse covariances) of the components.

    precisions_cholesky_ : array-like
        The upper-triangular Cholesky factors of the precision matrices,
        ``precision = L @ L.T``.

    converged_ : bool
        True when convergence of the best fit of EM was reached.

    n_iter_ : int
        Number of EM iterations the best fit ran (to convergence, or max_iter).

    lower_bound_ : float
        Mean log-likelihood per sample of the training data (weighted by
        `sample_weight`) with respect to the model of the best fit of EM.

    lower_bounds_ : list of float
        The values of `lower_bound_` at each iteration of the best fit.

    volumes_ : ndarray of shape (n_components,)
        Volume ``lambda_k = det(covariance_k) ** (1 / n_features)`` of each
        component (mclust's ``scale``).

    shapes_ : ndarray of shape (n_components, n_features)
        Shape ``A_k`` of each component: positive, product 1 (mclust's
        ``shape``); along the features for the diagonal models, along the
        common axes for common orientations ('tied', 'VEE', 'EVE', 'VVE'),
        decreasing otherwise.

    orientations_ : ndarray of shape (n_components, n_features, n_features)
        Orientation ``D_k`` of each component, orthogonal, its columns the
        axes of ``shapes_`` (mclust's ``orientation``), so that
        ``covariance_k = volumes_[k] * D_k @ diag(shapes_[k]) @ D_k.T``.

    n_steps_ : int
        Number of :meth:`partial_fit` updates since the last initialisation
        (or :meth:`fit`). Defined only after :meth:`partial_fit`.

    n_samples_seen_ : int
        Number of samples given to :meth:`partial_fit` since then. Defined
        only after :meth:`partial_fit`.

    labels_ : ndarray of shape (n_samples,)
        Component of each training sample under the fitted model.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.mixture.GaussianMixture : The reference implementation.
    sklearn.mixture.BayesianGaussianMixture : Variational Gaussian mixture.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmm import GaussianMixtureEM
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixtureEM(n_components=2, random_state=0).fit(X)
    >>> gm.means_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])
    array([1, 0])
    """

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        convergence="mean",
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.convergence = convergence
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # -- fitting ----------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of samples (online, stepwise EM).

        The sufficient statistics of the batch are blended into running
        statistics with weight ``(n_steps_ + learning_offset) **
        -learning_decay``, and one M-step follows (Cappé & Moulines 2009).
        The first call initialises the mixture from its batch with
        ``init_params`` (and the ``*_init`` arrays); it needs at least
        ``n_components`` samples. Later calls, and a call on a model fitted by
        :meth:`fit`, start from the current parameters whatever
        ``warm_start`` says; running statistics restart after a :meth:`fit`.
        Conversely, :meth:`fit` with ``warm_start=True`` continues exact batch
        EM from the parameters that ``partial_fit`` reached. Batches should be
        shuffled (not sorted by cluster). NaN entries are missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of samples.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's rows.

        Returns
        -------
        self : object
            The updated mixture.
        """
        return online.partial_fit(self, X, sample_weight)

    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters with the EM algorithm.

        The model is fitted ``n_init`` times and the run with the largest
        final mean log-likelihood is kept. Each run alternates E and M steps
        until the change of the mean log-likelihood is below ``tol``, or
        ``max_iter`` steps; a :class:`~sklearn.exceptions.ConvergenceWarning`
        is raised if the kept run did not converge.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample. NaN entries are missing values,
            fitted by exact EM on the observed coordinates of each row.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: a row of weight ``w`` counts as ``w`` copies
            of it. None gives every row weight 1.

        Returns
        -------
        self : object
            The fitted mixture.
        """
        self.fit_predict(X, y, sample_weight=sample_weight)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None, sample_weight=None):
        """Estimate model parameters using X and predict the labels for X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample. NaN entries are missing values,
            fitted by exact EM on the observed coordinates of each row.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: a row of weight ``w`` counts as ``w`` copies.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        self.__dict__.pop("_online_state", None)  # running statistics of partial_fit end here
        model = get_covariance_model(self.covariance_type)
        source = open_source(
            self,
            X,
            sample_weight,
            model=model,
            n_components=self.n_components,
            reset=True,
            min_samples=2,
            n_required=self.n_components,
        )
        inits = check_initial_parameters(self, model, source.n_features)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init:
            check_fitted_matches(self, model, source.n_features, "fit")
        n_init = self.n_init if do_init else 0  # 0: continue from the fitted model
        random_state = check_random_state(self.random_state)
        need_init = do_init and any(value is None for value in inits.values())
        settings = EMSettings(self.max_iter, self.tol, self.reg_covar, self.convergence == "relative")
        with source:
            if source.n_samples < self.n_components:
                raise ValueError(
                    "Expected n_samples >= n_components but got "
                    f"n_components = {self.n_components}, n_samples = {source.n_samples}. "
                    "Decrease n_components or pass more samples."
                )
            source.prepare_starts(self.init_params if need_init else None, n_init, random_state)
            mean, variance, spread = source.feature_moments()
            check_feature_scale(variance, spread, source.n_samples, source.dtype, self.reg_covar)
            guard = EmptyComponentGuard(source, model, self.reg_covar, variance)
            warm = None if n_init else (self._fitted_params(source.dtype), self.lower_bound_)
            best = fit_best(
                source,
                model,
                lambda init: start_parameters(
                    source,
                    model,
                    inits,
                    self.init_params,
                    self.n_components,
                    self.reg_covar,
                    random_state,
                    init,
                ),
                settings,
                n_init,
                monitor_for(self.verbose, self.verbose_interval),
                guard,
                warm,
            )
            self._set_run_attributes(model, best)
            # Always do a final e-step so that the labels returned by
            # fit_predict(X) are consistent with fit(X).predict(X), whatever
            # max_iter and tol are.
            self.labels_ = source.estimate(model, best.params, "labels")
        return self.labels_

    def _fitted_params(self, dtype=None):
        params = MixtureParams(self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)
        if dtype is None:
            return params
        return MixtureParams(*(np.asarray(p, dtype=dtype) for p in params[:4]))  # the four arrays

    def _set_run_attributes(self, model, run):
        """The fitted attributes of an EM run (:class:`~skgmm.engine.loop.EMRun`), but ``labels_``."""
        self._set_params_attributes(model, run.params)
        self.converged_, self.n_iter_ = run.converged, run.n_iter
        self.lower_bound_, self.lower_bounds_ = run.lower_bound, run.lower_bounds

    def _set_params_attributes(self, model, params):
        self.weights_ = params.weights
        self.means_ = params.means
        self.covariances_ = params.covariances
        self.precisions_cholesky_ = params.precisions_cholesky
        self.precisions_ = model.compute_precisions(params.precisions_cholesky)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN entries are missing values (exact EM on the observed coordinates).
        tags.input_tags.allow_nan = True
        return tags

    # -- volume, shape and orientation (mclust's parameterisation) --------
    def _decomposition(self):
        check_is_fitted(self)
        n_components, n_features = self.means_.shape
        model = get_covariance_model(self.covariance_type)
        dense = model.dense_covariances(self.covariances_, n_components, n_features)
        return decompose_covariances(self.covariance_type, dense)

    @property
    def volumes_(self):
        """Volume of each component, ``det(covariance) ** (1 / n_features)``: (n_components,)."""
        return self._decomposition().volumes

    @property
    def shapes_(self):
        """Shape of each component, positive with product 1: (n_components, n_features)."""
        return self._decomposition().shapes

    @property
    def orientations_(self):
        """Principal axes (columns) of each component: (n_components, n_features, n_features)."""
        return self._decomposition().orientations

    # -- inference --------------------------------------------------------
    def _source(self, X, sample_weight=None):
        """The source of data to score or predict, in the model's (promoted) dtype."""
        check_is_fitted(self)
        model = get_covariance_model(self.covariance_type)
        source = open_source(
            self,
            X,
            sample_weight,
            model=model,
            n_components=self.n_components,
            reset=False,
            fitting=False,
            promote_to=self.means_.dtype,
        )
        return model, source

    def _estimate(self, X, want):
        model, source = self._source(X)
        with source:
            return source.estimate(model, self._fitted_params(source.dtype), want)

    def score_samples(self, X):
        """Compute the log-likelihood of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            Log-likelihood of each sample in `X` under the current model.
        """
        return self._estimate(X, want=None)

    def score(self, X, y=None, sample_weight=None):
        """Compute the per-sample average log-likelihood of the given data X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the average; None weighs rows equally.

        Returns
        -------
        log_likelihood : float
            Mean log-likelihood of `X` under the Gaussian mixture model.
        """
        model, source = self._source(X, sample_weight)
        with source:
            return source.score(model, self._fitted_params(source.dtype), source.sample_weight)

    def predict(self, X):
        """Predict the labels for the data samples in X using the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.

        Raises
        ------
        ValueError
            For rows that no component can produce in floating point (their
            :meth:`score_samples` is ``-inf``, e.g. ``[[1e200, 0]]``): their
            label is not defined.
        """
        return self._estimate(X, want="labels")

    def predict_proba(self, X):
        """Evaluate the posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Posterior probability of each Gaussian component for each sample.
            Every row sums to 1 (NaN entries are marginalised out).

        Raises
        ------
        ValueError
            For rows that no component can produce in floating point (their
            :meth:`score_samples` is ``-inf``, e.g. ``[[1e200, 0]]``): their
            probabilities are not defined, and a row of zeros would be wrong.
        """
        return self._estimate(X, want="proba")

    def sample(self, n_samples=1):
        """Generate random samples from the fitted Gaussian mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Randomly generated sample, in the dtype of the fitted model.
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least one sample."
            )
        rng = check_random_state(self.random_state)
        weights = np.asarray(self.weights_, dtype=np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        model = get_covariance_model(self.covariance_type)
        X = model.sample(
            rng, np.asarray(self.means_, np.float64), np.asarray(self.covariances_, np.float64), counts
        )
        y = np.repeat(np.arange(self.n_components), counts)
        return X.astype(self.means_.dtype, copy=False), y

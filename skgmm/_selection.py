"""GaussianMixtureIC: fit a grid of mixtures and keep the one an information criterion prefers."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skgmm._candidates import fit_candidates, results_table
from skgmm._init import HIERARCHICAL_SUBSET, hierarchical_partitions
from skgmm._validation import FLOAT_DTYPES, PARAMETER_CONSTRAINTS, _fit_context, check_sample_weight
from skgmm._warnings import warn_user
from skgmm.covariance import COVARIANCE_MODELS
from skgmm.engine.degenerate import DegenerateDataWarning
from skgmm.sources.missing import check_observed_features, has_missing, initialisation_data

CRITERIA = ("bic", "aic", "icl")


class GridEdgeWarning(UserWarning):
    """The model chosen by :class:`GaussianMixtureIC` lies on the edge of its grid.

    The chosen number of components is the largest tried (or the smallest,
    when that is more than 1): the criterion may keep improving beyond the
    grid, and a wider ``n_components`` may choose another model.
    """


class GaussianMixtureIC(ClusterMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture whose size and covariance type an information criterion chooses.

    Fits a :class:`~skgmm.GaussianMixtureEM` for every pair of a grid of
    ``n_components`` and ``covariance_type`` values (by default mclust's
    1 to 9 components and all four covariance types), keeps the one with the
    lowest criterion (BIC by default) on the training data, and then behaves
    as that model: ``predict``, ``predict_proba``, ``score``, ``sample`` and
    the fitted attributes are those of ``best_estimator_``.  The whole table
    is in ``cv_results_``.  Named after :class:`sklearn.linear_model.LassoLarsIC`.

    Work shared between candidates is done once: the hierarchical
    agglomeration (``init_params='hierarchical'``) is one tree cut at every
    number of components, and every start (initial responsibilities) of a
    given number of components is shared by the covariance types.

    NaN entries of ``X`` are missing values, as for
    :class:`~skgmm.GaussianMixtureEM`: starts are drawn from the data with
    each feature's missing entries filled by its mean, and every candidate is
    fitted, and its criterion computed, on the observed values only.

    When the chosen number of components is the largest of the grid (or its
    smallest, above 1), a :class:`~skgmm.GridEdgeWarning` says that the
    criterion may keep improving beyond the grid.  :meth:`summary` prints the
    best models and the chosen one as mclust's ``summary`` does.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    n_components : int or array-like of int, default=(1, 2, ..., 9)
        Candidate numbers of components. An int ``K`` means ``1, ..., K``.
        Candidates larger than the number of samples (of positive weight)
        are skipped.

    covariance_type : str or array-like of str, \
            default=('full', 'tied', 'diag', 'spherical')
        Candidate covariance types: scikit-learn's 'full', 'tied', 'diag'
        and 'spherical', and R mclust's 14 models by their three-letter names
        ('EII', 'VII', 'EEI', 'VEI', 'EVI', 'VVI', 'EEE', 'VEE', 'EVE', 'VVE',
        'EEV', 'VEV', 'EVV', 'VVV'; 'E' and 'V' for one feature), see
        :class:`~skgmm.GaussianMixtureEM`.  Pass all 14 for mclust's grid.

    criterion : {'bic', 'aic', 'icl'}, default='bic'
        The criterion minimised:

        - 'bic': Bayesian information criterion, ``-2 log L + p log n``.
        - 'aic': Akaike information criterion, ``-2 log L + 2 p``.
        - 'icl': integrated completed likelihood, the BIC plus twice the
          entropy of the responsibilities; it prefers well-separated clusters.

        With ``sample_weight``, ``log L`` is the weighted log-likelihood and
        ``n`` the total weight.

    tol : float, default=1e-5
        Convergence threshold of each EM fit (see ``convergence``).

    convergence : {'relative', 'mean'}, default='relative'
        What ``tol`` bounds (see :class:`~skgmm.GaussianMixtureEM`): by
        default R mclust's rule, the relative change of the total
        log-likelihood ``|L - L_old| / (1 + |L|)``, with mclust's tolerance;
        'mean' is scikit-learn's change of the mean log-likelihood.

    reg_covar : float, default=1e-6
        Regularisation added to the diagonal of every covariance.

    max_iter : int, default=1000
        Maximum number of EM iterations of each fit (mclust sets none).

    n_init : int or 'auto', default='auto'
        Starts per candidate; each candidate keeps its best fit, a sound one
        before a singular one (see ``cv_results_``). With
        ``init_params='hierarchical'`` the first start is the hierarchical
        one, mclust's, and the others are 'kmeans' starts (the hierarchical
        one would only repeat). 'auto' is 1 when the hierarchical tree holds
        every row (at most 2,000 of positive weight: mclust's start exactly),
        and 2 above, where the tree is a random subset's and the start varies
        with it; 1 for the other ``init_params``.

    init_params : {'hierarchical', 'kmeans', 'k-means++', 'random', \
            'random_from_data'}, default='hierarchical'
        How each start is drawn (see :class:`~skgmm.GaussianMixtureEM`).

    random_state : int, RandomState instance or None, default=None
        Seeds the starts and :meth:`sample`. The candidates receive seeds
        drawn from it, so the results do not depend on ``n_jobs``.

    n_jobs : int, default=None
        Numbers of components fitted in parallel (with joblib). None means 1
        unless in a :obj:`joblib.parallel_backend` context; -1 uses all
        processors.

    verbose : int, default=0
        Verbosity of joblib.

    Attributes
    ----------
    best_estimator_ : GaussianMixtureEM
        The chosen, fitted mixture. Its parameters reproduce its fit.

    best_params_ : dict
        ``n_components`` and ``covariance_type`` of the chosen mixture.

    best_index_ : int
        Row of the chosen mixture in ``cv_results_``.

    n_components_ : int
        Number of components of the chosen mixture.

    covariance_type_ : str
        Covariance type of the chosen mixture.

    criterion_ : float
        The criterion of the chosen mixture.

    cv_results_ : dict of ndarray
        One entry per candidate, loadable with ``pandas.DataFrame``:
        ``param_n_components``, ``param_covariance_type``, ``params``,
        ``bic``, ``aic``, ``icl``, ``log_likelihood`` (total, weighted),
        ``n_parameters``, ``converged``, ``n_iter``, ``rank_criterion`` (1
        is chosen), ``excluded`` (why a singular fit was passed over, else
        '') and ``error`` (the message of a failed fit, else '').
        A singular candidate (see :func:`skgmm.singular_components`: a
        component with no spread in some direction, held up by ``reg_covar``
        alone, or with less than one row's weight; R's mclust reports no BIC
        for such fits) keeps its criteria but ranks after every sound one
        and is never chosen, unless every candidate is singular: then the
        best of them is chosen with a :class:`~skgmm.DegenerateDataWarning`.
        A failed fit has NaN criteria and ranks last.

    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Parameters of the chosen mixture.

    converged_ : bool
        Whether the chosen mixture's fit converged.

    n_iter_ : int
        EM iterations of the chosen mixture's fit.

    lower_bound_ : float
        Mean log-likelihood of the training data under the chosen mixture.

    labels_ : ndarray of shape (n_samples,)
        Component of each training sample under the chosen mixture.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    GaussianMixtureEM : One mixture of a given size and covariance type.
    skgmm.model_selection.bic_scorer : The BIC as a scorer for GridSearchCV.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skgmm import GaussianMixtureIC
    >>> X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> gm = GaussianMixtureIC(n_components=5, covariance_type=["full", "spherical"]).fit(X)
    >>> gm.best_params_
    {'n_components': 3, 'covariance_type': 'spherical'}
    >>> gm.predict(X[:4]).shape
    (4,)
    """

    _parameter_constraints: dict = {
        "n_components": [PARAMETER_CONSTRAINTS["n_components"][0], "array-like"],
        "covariance_type": [StrOptions(set(COVARIANCE_MODELS)), "array-like"],
        "criterion": [StrOptions(set(CRITERIA))],
        "tol": PARAMETER_CONSTRAINTS["tol"],
        "convergence": PARAMETER_CONSTRAINTS["convergence"],
        "reg_covar": PARAMETER_CONSTRAINTS["reg_covar"],
        "max_iter": PARAMETER_CONSTRAINTS["max_iter"],
        "n_init": [*PARAMETER_CONSTRAINTS["n_init"], StrOptions({"auto"})],
        "init_params": PARAMETER_CONSTRAINTS["init_params"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=(1, 2, 3, 4, 5, 6, 7, 8, 9),
        *,
        covariance_type=("full", "tied", "diag", "spherical"),
        criterion="bic",
        tol=1e-5,
        convergence="relative",
        reg_covar=1e-6,
        max_iter=1000,
        n_init="auto",
        init_params="hierarchical",
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.tol = tol
        self.convergence = convergence
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Fit every candidate mixture and keep the one the criterion prefers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample. NaN entries are missing values.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: a row of weight ``w`` counts as ``w`` copies.

        Returns
        -------
        self : object
            The fitted selector.
        """
        self.fit_predict(X, y, sample_weight=sample_weight)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit every candidate and return the labels of X under the chosen one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample. NaN entries are missing values.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: a row of weight ``w`` counts as ``w`` copies.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_min_samples=2, ensure_all_finite="allow-nan")
        sample_weight = check_sample_weight(sample_weight, X, 1)
        # NaN marks a missing value: starts come from mean-filled data (rows
        # with nothing observed weigh 0), the fits use the exact likelihood.
        X_init, weight_init = X, sample_weight
        if has_missing(X):
            check_observed_features(X)
            X_init, weight_init = initialisation_data(X, sample_weight)
        n_usable = len(X) if weight_init is None else int(np.count_nonzero(weight_init))
        all_components = self._check_n_components()
        n_components_list = [k for k in all_components if k <= n_usable]
        if not n_components_list:
            raise ValueError(
                f"Every candidate n_components in {all_components} exceeds the {n_usable} samples "
                "(of positive weight); give smaller n_components or more data."
            )
        covariance_types = self._check_covariance_types()

        random_state = check_random_state(self.random_state)
        # Seeds fixed up front, one per (n_components, start): the candidates do
        # not depend on how they are scheduled.
        n_init = self.n_init
        if n_init == "auto":
            # mclust's start is exact on up to HIERARCHICAL_SUBSET rows; on more it is
            # a random subset's, and a k-means start guards against an unlucky draw.
            n_init = 2 if self.init_params == "hierarchical" and n_usable > HIERARCHICAL_SUBSET else 1
        seeds = random_state.randint(np.iinfo(np.int32).max, size=(len(n_components_list), n_init))
        partitions, tree_seed = None, None
        if self.init_params == "hierarchical":
            # The tree's own seed (it draws the subset of more than HIERARCHICAL_SUBSET
            # rows) is the hierarchical candidates' random_state: refits draw it again.
            tree_seed = int(random_state.randint(np.iinfo(np.int32).max))
            partitions = hierarchical_partitions(
                X_init, weight_init, n_components_list, np.random.RandomState(tree_seed)
            )

        settings = dict(
            tol=self.tol, convergence=self.convergence, reg_covar=self.reg_covar, max_iter=self.max_iter
        )
        settings["n_total"] = float(len(X) if sample_weight is None else np.sum(sample_weight))
        settings["features"] = getattr(self, "feature_names_in_", None)
        per_k = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(fit_candidates)(
                X,
                sample_weight,
                (X_init, weight_init),
                k,
                covariance_types,
                (self.init_params, None if partitions is None else (partitions[k], tree_seed), seeds[i]),
                settings,
            )
            for i, k in enumerate(n_components_list)
        )
        candidates = [candidate for row in per_k for candidate in row]
        self.cv_results_ = results_table(candidates, self.criterion)
        if all(c["estimator"] is None for c in candidates):
            raise ValueError(
                "Every candidate mixture failed to fit; the first error was: " + candidates[0]["error"]
            )
        self.best_index_ = int(np.argmin(self.cv_results_["rank_criterion"]))
        best = candidates[self.best_index_]
        if best["excluded"]:
            warn_user(
                f"Every candidate mixture is singular ({best['excluded']} for the best); the best by "
                f"{self.criterion.upper()} is kept anyway, but its criterion is spuriously low: remove "
                "duplicated rows, add noise to discretised features or give a larger reg_covar.",
                DegenerateDataWarning,
            )
        for warning in best["warnings"]:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        self.best_estimator_ = best["estimator"]
        self.best_params_ = dict(self.cv_results_["params"][self.best_index_])
        self.n_components_ = self.best_params_["n_components"]
        self.covariance_type_ = self.best_params_["covariance_type"]
        self.criterion_ = float(self.cv_results_[self.criterion][self.best_index_])
        self._n_total = settings["n_total"]
        tried = sorted({c["n_components"] for c in candidates if c["estimator"] is not None})
        if len(tried) > 1 and (
            self.n_components_ == tried[-1] or (self.n_components_ == tried[0] and tried[0] > 1)
        ):
            side = "largest" if self.n_components_ == tried[-1] else "smallest"
            warn_user(
                f"The chosen n_components={self.n_components_} is the {side} of the grid "
                f"{tried[0]}..{tried[-1]}: the criterion may keep improving beyond the grid; "
                "try a wider n_components.",
                GridEdgeWarning,
            )
        for name in (
            "weights_",
            "means_",
            "covariances_",
            "precisions_",
            "precisions_cholesky_",
            "converged_",
            "n_iter_",
            "lower_bound_",
            "labels_",
        ):
            setattr(self, name, getattr(self.best_estimator_, name))
        # The clustering table of summary(): rows (total weight) per component.
        self._cluster_sizes = np.bincount(self.labels_, weights=sample_weight, minlength=self.n_components_)
        return self.labels_

    def _check_n_components(self):
        if isinstance(self.n_components, Integral):
            return list(range(1, int(self.n_components) + 1))
        values = np.asarray(self.n_components).ravel()
        if values.size == 0 or not all(
            isinstance(v, Integral | np.integer) and not isinstance(v, bool) and v >= 1
            for v in values.tolist()
        ):
            raise ValueError(
                f"n_components must be a positive int or a non-empty list of positive ints, got {self.n_components!r}."
            )
        return sorted({int(v) for v in values})

    def _check_covariance_types(self):
        values = (
            [self.covariance_type] if isinstance(self.covariance_type, str) else list(self.covariance_type)
        )
        unknown = [v for v in values if v not in COVARIANCE_MODELS]
        if not values or unknown:
            raise ValueError(
                f"covariance_type must be one of {sorted(COVARIANCE_MODELS)} or a non-empty list of them, "
                f"got {self.covariance_type!r}."
            )
        return list(dict.fromkeys(values))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN entries are missing values, as for GaussianMixtureEM.
        tags.input_tags.allow_nan = True
        return tags

    # -- summary, as mclust's ----------------------------------------------
    def summary(self, n_best=3):
        """The best models and the chosen one, as R mclust's ``summary`` prints them.

        The ``n_best`` best candidates by the criterion (singular ones left
        out, see ``cv_results_``) with their differences from the best, as
        ``summary(mclustBIC)``; then the chosen model's log-likelihood,
        ``n`` (total weight), ``df`` (number of free parameters), BIC and ICL,
        and its clustering table (training rows per component), as
        ``summary(Mclust(...))``; then the singular candidates passed over.
        skgmm's criteria are lower-is-better: its BIC is minus mclust's.

        Parameters
        ----------
        n_best : int, default=3
            Number of best models listed.

        Returns
        -------
        text : str
            The summary, several lines; ``print`` it.
        """
        from skgmm._summary import collect, text

        check_is_fitted(self)
        return text(collect(self, n_best))

    def _repr_html_(self):
        """The summary as HTML tables once fitted (scikit-learn's diagram before)."""
        from skgmm._summary import collect, to_html

        if not hasattr(self, "cv_results_"):
            from sklearn.utils._repr_html.estimator import estimator_html_repr

            return estimator_html_repr(self)
        return to_html(collect(self))

    def _repr_mimebundle_(self, **kwargs):
        """Jupyter's representations: the summary's HTML once fitted."""
        output = super()._repr_mimebundle_(**kwargs)
        if hasattr(self, "cv_results_"):
            output["text/html"] = self._repr_html_()
        return output

    # -- the chosen model -------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan")

    def score_samples(self, X):
        """Log-likelihood of each sample under the chosen mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            Log-likelihood of each sample.
        """
        X = self._validated(X)
        return self.best_estimator_.score_samples(X)

    def score(self, X, y=None, sample_weight=None):
        """Mean log-likelihood of X under the chosen mixture.

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
            Mean log-likelihood of `X`.
        """
        X = self._validated(X)
        return self.best_estimator_.score(X, sample_weight=sample_weight)

    def predict(self, X):
        """Component of each sample under the chosen mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        X = self._validated(X)
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """Posterior probability of each component of the chosen mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, one per row.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Posterior probability of each component (of the chosen mixture)
            for each sample.
        """
        X = self._validated(X)
        return self.best_estimator_.predict_proba(X)

    def sample(self, n_samples=1):
        """Generate random samples from the chosen mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Randomly generated sample.
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self)
        return self.best_estimator_.sample(n_samples)

    def bic(self, X):
        """Bayesian information criterion of the chosen mixture on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        bic : float
            The lower the better.
        """
        X = self._validated(X)
        return self.best_estimator_.bic(X)

    def aic(self, X):
        """Akaike information criterion of the chosen mixture on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        aic : float
            The lower the better.
        """
        X = self._validated(X)
        return self.best_estimator_.aic(X)

    def icl(self, X):
        """Integrated completed likelihood of the chosen mixture on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        icl : float
            The lower the better.
        """
        X = self._validated(X)
        return self.best_estimator_.icl(X)

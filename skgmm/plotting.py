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

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["ConvergenceDisplay", "CriterionDisplay", "MixtureDisplay", "full_covariances"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _matplotlib():
    """Import :mod:`matplotlib`, or fail naming the extra that installs it."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skgmm.plotting requires matplotlib; install it with: pip install 'skgmm[plot]'"
        ) from exc
    return matplotlib


def _axes(ax):
    """The axes to draw on: ``ax``, or a new pyplot figure's axes when None."""
    _matplotlib()
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def full_covariances(covariances, covariance_type: str, n_components: int, n_features: int) -> np.ndarray:
    """Expand fitted covariances of any type to one full matrix per component.

    Parameters
    ----------
    covariances : array-like
        The ``covariances_`` of a fitted mixture, shaped by its covariance type.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        The covariance type the array is shaped for.
    n_components : int
        Number of mixture components.
    n_features : int
        Number of features.

    Returns
    -------
    covariances : ndarray of shape (n_components, n_features, n_features)
        The covariance matrix of each component.

    Examples
    --------
    >>> from skgmm.plotting import full_covariances
    >>> full_covariances([1.0, 4.0], "spherical", 2, 2)[1]
    array([[4., 0.],
           [0., 4.]])
    """
    cov = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        full = cov
    elif covariance_type == "tied":
        full = np.broadcast_to(cov, (n_components, n_features, n_features))
    elif covariance_type == "diag":
        full = cov[:, :, np.newaxis] * np.eye(n_features)
    elif covariance_type == "spherical":
        full = cov[:, np.newaxis, np.newaxis] * np.eye(n_features)
    else:
        raise ValueError(
            f"covariance_type must be one of {', '.join(map(repr, _COVARIANCE_TYPES))}; got {covariance_type!r}."
        )
    return np.array(full, dtype=np.float64).reshape(n_components, n_features, n_features)


def _fitted_mixture(estimator):
    """The fitted Gaussian mixture inside ``estimator`` (itself, or a selector's best model)."""
    check_is_fitted(estimator)
    best = getattr(estimator, "best_estimator_", None)
    return best if best is not None and hasattr(best, "means_") else estimator


def _feature_index(feature, feature_names) -> int:
    if isinstance(feature, str):
        if feature_names is None or feature not in list(feature_names):
            raise ValueError(f"Unknown feature {feature!r}; the model's features are {feature_names!r}.")
        return list(feature_names).index(feature)
    return int(feature)


class MixtureDisplay:
    """Data and mixture components in a plane, with 1, 2 and 3 sigma ellipses.

    The plane is either two of the features (the exact marginal of each
    component) or, by default when there are more than two features, the
    first two principal axes of the data (the exact marginal of each component
    along that linear projection). With a single feature the display shows a
    histogram of the data and the fitted density with its weighted components.

    Build it with :meth:`from_estimator`; the constructor takes projected
    quantities.

    Parameters
    ----------
    means : ndarray of shape (n_components, 2) or (n_components, 1)
        Component means in the plotted coordinates.
    covariances : ndarray of shape (n_components, 2, 2) or (n_components, 1, 1)
        Component covariances in the plotted coordinates.
    weights : ndarray of shape (n_components,)
        Mixing weights.
    X : ndarray of shape (n_samples, 2) or (n_samples, 1), default=None
        Data in the plotted coordinates, drawn as points (or a histogram).
    labels : ndarray of shape (n_samples,), default=None
        Component of each sample, used to colour the points.
    n_std : sequence of float, default=(1, 2, 3)
        Mahalanobis radii of the ellipses drawn for each component.
    xlabel, ylabel : str, default=None
        Axis labels.
    title : str, default=None
        Axes title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.
    scatter_ : matplotlib PathCollection or None
        The data points (None without data or with one feature).
    ellipses_ : list of list of matplotlib Ellipse
        ``ellipses_[k][j]`` is component ``k``'s ellipse at radius ``n_std[j]``.
    texts_ : list of matplotlib Text
        One label per component, at its mean.
    lines_ : list of matplotlib Line2D
        With one feature: the mixture density, then one curve per component.

    See Also
    --------
    CriterionDisplay : Information criterion against the number of components.
    ConvergenceDisplay : Lower bound at each EM iteration.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skgmm import GaussianMixtureEM
    >>> from skgmm.plotting import MixtureDisplay
    >>> X = load_iris().data
    >>> gm = GaussianMixtureEM(3, random_state=0).fit(X)
    >>> display = MixtureDisplay.from_estimator(gm, X)
    >>> len(display.ellipses_), len(display.ellipses_[0])
    (3, 3)
    """

    def __init__(
        self,
        *,
        means,
        covariances,
        weights,
        X=None,
        labels=None,
        n_std: Sequence[float] = (1, 2, 3),
        xlabel: str | None = None,
        ylabel: str | None = None,
        title: str | None = None,
    ):
        self.means = np.asarray(means, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.X = None if X is None else np.asarray(X, dtype=np.float64)
        self.labels = None if labels is None else np.asarray(labels)
        self.n_std = tuple(n_std)
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.title = title

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X=None,
        *,
        features: Sequence[int | str] | None = None,
        n_std: Sequence[float] = (1, 2, 3),
        feature_names: Sequence[str] | None = None,
        ax=None,
        title: str | None = None,
        scatter_kwargs: Mapping[str, Any] | None = None,
        ellipse_kwargs: Mapping[str, Any] | None = None,
    ) -> MixtureDisplay:
        """Draw a fitted mixture, and optionally data, in a plane.

        Parameters
        ----------
        estimator : fitted GaussianMixtureEM, GaussianMixture or selector
            A fitted Gaussian mixture (anything with ``means_``,
            ``covariances_``, ``covariance_type`` and ``weights_``), or a
            fitted selector with a ``best_estimator_``.
        X : array-like of shape (n_samples, n_features), default=None
            Data to draw, coloured by predicted component.
        features : pair of int or str, default=None
            The two features to plot (indices, or names when the model has
            ``feature_names_in_`` or ``feature_names`` is given). None: the
            features themselves when there are two, else the first two
            principal axes of ``X`` (of the mixture when ``X`` is None).
        n_std : sequence of float, default=(1, 2, 3)
            Mahalanobis radii of the ellipses.
        feature_names : sequence of str, default=None
            Names of the features, for axis labels.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        title : str, default=None
            Axes title; None describes the model.
        scatter_kwargs : dict, default=None
            Passed to :meth:`matplotlib.axes.Axes.scatter`.
        ellipse_kwargs : dict, default=None
            Passed to :class:`matplotlib.patches.Ellipse`.

        Returns
        -------
        display : MixtureDisplay
            The drawn display.
        """
        gm = _fitted_mixture(estimator)
        means = np.asarray(gm.means_, dtype=np.float64)
        n_components, n_features = means.shape
        cov = full_covariances(gm.covariances_, gm.covariance_type, n_components, n_features)
        if feature_names is None:
            feature_names = getattr(gm, "feature_names_in_", None)
        if feature_names is None:
            feature_names = [f"feature {j}" for j in range(n_features)]
        feature_names = [str(name) for name in feature_names]
        labels = None
        if X is not None:
            labels = gm.predict(X)
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != n_features:
                raise ValueError(f"X must have shape (n_samples, {n_features}); got {X.shape}.")
            # Rows with missing values have no place in the plane: draw the complete ones.
            complete = ~np.isnan(X).any(axis=1)
            X, labels = X[complete], labels[complete]
        if title is None:
            title = f"{n_components} components, {gm.covariance_type!r} covariance"

        equal_aspect = False
        if n_features == 1:
            xlabel, ylabel, projection, center = feature_names[0], "density", np.eye(1), np.zeros(1)
        elif features is not None or n_features == 2:
            i, j = (0, 1) if features is None else (_feature_index(f, feature_names) for f in features)
            projection = np.zeros((n_features, 2))
            projection[i, 0] = projection[j, 1] = 1.0
            center = np.zeros(n_features)
            xlabel, ylabel = feature_names[i], feature_names[j]
        else:
            if X is not None:
                center = X.mean(axis=0)
                spread = np.cov(X, rowvar=False)
            else:
                weights = np.asarray(gm.weights_, dtype=np.float64)
                center = weights @ means
                deviation = means - center
                spread = np.einsum("k,kij->ij", weights, cov) + (weights * deviation.T) @ deviation
            eigenvalues, eigenvectors = np.linalg.eigh(spread)
            projection = eigenvectors[:, np.argsort(eigenvalues)[::-1][:2]]
            xlabel, ylabel = "principal axis 1", "principal axis 2"
            equal_aspect = True

        display = cls(
            means=(means - center) @ projection,
            covariances=np.einsum("di,kde,ej->kij", projection, cov, projection),
            weights=gm.weights_,
            X=None if X is None else (X - center) @ projection,
            labels=labels,
            n_std=n_std,
            xlabel=xlabel,
            ylabel=ylabel,
            title=title,
        )
        display.plot(ax=ax, scatter_kwargs=scatter_kwargs, ellipse_kwargs=ellipse_kwargs)
        if equal_aspect:  # both axes are in the data's units: keep the shapes true
            display.ax_.set_aspect("equal", adjustable="datalim")
        return display

    def plot(
        self,
        ax=None,
        *,
        scatter_kwargs: Mapping[str, Any] | None = None,
        ellipse_kwargs: Mapping[str, Any] | None = None,
    ) -> MixtureDisplay:
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        scatter_kwargs : dict, default=None
            Passed to :meth:`matplotlib.axes.Axes.scatter`.
        ellipse_kwargs : dict, default=None
            Passed to :class:`matplotlib.patches.Ellipse`.

        Returns
        -------
        display : MixtureDisplay
            Itself, with ``ax_``, ``figure_`` and the artists set.
        """
        ax = _axes(ax)
        from matplotlib import colormaps
        from matplotlib.patches import Ellipse

        n_components = len(self.weights)
        if n_components <= 10:
            colors = colormaps["tab10"](np.arange(n_components))
        else:
            colors = colormaps["viridis"](np.linspace(0.0, 1.0, n_components))
        self.scatter_, self.ellipses_, self.texts_, self.lines_ = None, [], [], []
        if self.means.shape[1] == 1:
            self._plot_1d(ax, colors)
        else:
            if self.X is not None:
                kwargs = {"s": 12, "alpha": 0.6, "linewidths": 0}
                kwargs.update(scatter_kwargs or {})
                point_colors = colors[self.labels] if self.labels is not None else "0.5"
                self.scatter_ = ax.scatter(self.X[:, 0], self.X[:, 1], c=point_colors, **kwargs)
            for k in range(n_components):
                eigenvalues, eigenvectors = np.linalg.eigh(self.covariances[k])
                eigenvalues = np.clip(eigenvalues, 0.0, None)
                angle = np.degrees(np.arctan2(eigenvectors[1, 1], eigenvectors[0, 1]))
                ellipses = []
                for radius in self.n_std:
                    kwargs = {"fill": False, "edgecolor": colors[k], "linewidth": 1.5, "alpha": 0.9}
                    kwargs.update(ellipse_kwargs or {})
                    ellipse = Ellipse(
                        self.means[k],
                        2 * radius * np.sqrt(eigenvalues[1]),
                        2 * radius * np.sqrt(eigenvalues[0]),
                        angle=angle,
                        **kwargs,
                    )
                    ax.add_patch(ellipse)
                    ellipses.append(ellipse)
                self.ellipses_.append(ellipses)
                self.texts_.append(
                    ax.text(
                        *self.means[k],
                        f"{k}",
                        ha="center",
                        va="center",
                        fontweight="bold",
                        color="black",
                        bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": colors[k]},
                    )
                )
            ax.autoscale_view()
        ax.set(xlabel=self.xlabel, ylabel=self.ylabel, title=self.title)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _plot_1d(self, ax, colors):
        means = self.means[:, 0]
        sds = np.sqrt(np.clip(self.covariances[:, 0, 0], 0.0, None))
        low = np.min(means - 4 * sds) if self.X is None else min(self.X.min(), np.min(means - 4 * sds))
        high = np.max(means + 4 * sds) if self.X is None else max(self.X.max(), np.max(means + 4 * sds))
        grid = np.linspace(low, high, 400)
        densities = (
            self.weights[:, None]
            * np.exp(-0.5 * ((grid - means[:, None]) / sds[:, None]) ** 2)
            / (sds[:, None] * np.sqrt(2 * np.pi))
        )
        if self.X is not None:
            ax.hist(self.X[:, 0], bins="auto", density=True, color="0.8")
        (total,) = ax.plot(grid, densities.sum(axis=0), color="black", label="mixture")
        self.lines_.append(total)
        for k, density in enumerate(densities):
            (line,) = ax.plot(grid, density, color=colors[k], linestyle="--")
            self.lines_.append(line)
            self.texts_.append(ax.text(means[k], density.max(), f"{k}", ha="center", va="bottom"))


def _criterion_table(cv_results, criterion: str):
    """(n_components grid, {covariance_type: values}) from a ``cv_results_``-like dict."""
    results = {key: np.asarray(value) for key, value in cv_results.items()}
    ks = results.get("param_n_components", results.get("n_components"))
    covs = results.get("param_covariance_type", results.get("covariance_type"))
    if ks is None or covs is None:
        raise ValueError("cv_results must have 'param_n_components' and 'param_covariance_type' entries.")
    candidates = [criterion, f"{criterion}_", f"mean_{criterion}", criterion.upper()]
    key = next((name for name in candidates if name in results), None)
    if key is None:
        raise ValueError(f"cv_results has no {criterion!r} column; columns: {sorted(results)}.")
    ks = ks.astype(int)
    grid = np.unique(ks)
    table = {}
    for cov in dict.fromkeys(str(c) for c in covs):
        values = np.full(len(grid), np.nan)
        rows = covs.astype(str) == cov
        values[np.searchsorted(grid, ks[rows])] = results[key][rows].astype(float)
        table[cov] = values
    return grid, table


class CriterionDisplay:
    """An information criterion against the number of components, per covariance type.

    The plot of mclust's BIC table: one curve per covariance type, the lowest
    value (the chosen model, as ``GaussianMixture.bic`` is lower-is-better)
    marked.

    Parameters
    ----------
    n_components : array-like of shape (n_k,)
        The numbers of components tried.
    values : dict of str to array-like of shape (n_k,)
        The criterion of each covariance type at each number of components
        (NaN where not fitted).
    criterion : str, default='BIC'
        Name of the criterion, for the axis label.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.
    lines_ : dict of str to matplotlib Line2D
        One curve per covariance type.
    best_ : tuple of (int, str)
        The number of components and covariance type with the lowest value.
    best_marker_ : matplotlib Line2D
        Marker on the best model.

    See Also
    --------
    MixtureDisplay : Data and components with their ellipses.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skgmm.plotting import CriterionDisplay
    >>> display = CriterionDisplay.from_table(
    ...     [1, 2, 3], {"full": [30.0, 20.0, 25.0], "diag": [32.0, 24.0, 23.0]}
    ... ).plot()
    >>> display.best_
    (2, 'full')
    """

    def __init__(self, *, n_components, values: Mapping[str, Any], criterion: str = "BIC"):
        self.n_components = np.asarray(n_components, dtype=int)
        self.values = {str(cov): np.asarray(v, dtype=np.float64) for cov, v in values.items()}
        self.criterion = criterion

    @classmethod
    def from_table(
        cls, n_components, values: Mapping[str, Any], *, criterion: str = "BIC"
    ) -> CriterionDisplay:
        """Build (without drawing) a display from a table of criterion values.

        Parameters
        ----------
        n_components : array-like of shape (n_k,)
            The numbers of components tried.
        values : dict of str to array-like of shape (n_k,)
            The criterion for each covariance type.
        criterion : str, default='BIC'
            Name of the criterion.

        Returns
        -------
        display : CriterionDisplay
            The display; call :meth:`plot` to draw it.
        """
        return cls(n_components=n_components, values=values, criterion=criterion)

    @classmethod
    def from_cv_results(cls, cv_results, *, criterion: str = "bic", ax=None) -> CriterionDisplay:
        """Draw the criterion table of a ``cv_results_``-like dict of arrays.

        Parameters
        ----------
        cv_results : dict of str to array-like
            Columns ``param_n_components``, ``param_covariance_type`` and one
            named after ``criterion`` (``'bic'``, ``'aic'``, ``'icl'``).
        criterion : str, default='bic'
            The column to plot.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        Returns
        -------
        display : CriterionDisplay
            The drawn display.
        """
        grid, table = _criterion_table(cv_results, criterion)
        return cls(n_components=grid, values=table, criterion=criterion.upper()).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, criterion: str | None = None, ax=None) -> CriterionDisplay:
        """Draw the criterion table of a fitted selector such as ``GaussianMixtureIC``.

        Parameters
        ----------
        estimator : fitted selector
            An estimator with a ``cv_results_`` dict that has
            ``param_n_components``, ``param_covariance_type`` and criterion
            columns.
        criterion : str, default=None
            The column to plot; None uses the estimator's ``criterion``
            (else ``'bic'``).
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        Returns
        -------
        display : CriterionDisplay
            The drawn display.
        """
        check_is_fitted(estimator, "cv_results_")
        criterion = criterion or str(getattr(estimator, "criterion", "bic"))
        return cls.from_cv_results(estimator.cv_results_, criterion=criterion, ax=ax)

    def plot(self, ax=None) -> CriterionDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        Returns
        -------
        display : CriterionDisplay
            Itself, with ``ax_``, ``figure_``, ``lines_`` and ``best_`` set.
        """
        ax = _axes(ax)
        markers = dict(zip(_COVARIANCE_TYPES, "osD^", strict=True))
        self.lines_ = {}
        best_value, self.best_ = np.inf, None
        for cov, values in self.values.items():
            (self.lines_[cov],) = ax.plot(self.n_components, values, marker=markers.get(cov, "o"), label=cov)
            if np.any(np.isfinite(values)):
                i = int(np.nanargmin(values))
                if values[i] < best_value:
                    best_value, self.best_ = values[i], (int(self.n_components[i]), cov)
        if self.best_ is not None:
            (self.best_marker_,) = ax.plot(
                [self.best_[0]],
                [best_value],
                marker="*",
                markersize=16,
                color="gold",
                markeredgecolor="black",
                linestyle="none",
                label=f"best: {self.best_[0]}, {self.best_[1]}",
            )
        ax.set(
            xlabel="number of components",
            ylabel=f"{self.criterion} (lower is better)",
            xticks=self.n_components,
        )
        ax.legend(title="covariance type")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class ConvergenceDisplay:
    """The lower bound (mean log-likelihood) at each EM iteration.

    Parameters
    ----------
    lower_bounds : array-like of shape (n_iter,)
        The ``lower_bounds_`` of a fitted mixture.
    tol : float, default=None
        The convergence threshold, shown in the legend.
    converged : bool, default=None
        Whether the fit converged, shown in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.
    line_ : matplotlib Line2D
        The curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skgmm import GaussianMixtureEM
    >>> from skgmm.plotting import ConvergenceDisplay
    >>> gm = GaussianMixtureEM(3, random_state=0).fit(load_iris().data)
    >>> display = ConvergenceDisplay.from_estimator(gm)
    >>> len(display.line_.get_xdata()) == gm.n_iter_
    True
    """

    def __init__(self, *, lower_bounds, tol: float | None = None, converged: bool | None = None):
        self.lower_bounds = np.asarray(lower_bounds, dtype=np.float64)
        self.tol = tol
        self.converged = converged

    @classmethod
    def from_estimator(cls, estimator, *, ax=None) -> ConvergenceDisplay:
        """Draw the convergence curve of a fitted mixture.

        Parameters
        ----------
        estimator : fitted GaussianMixtureEM or selector
            A fitted mixture with ``lower_bounds_`` (or a selector whose
            ``best_estimator_`` has them).
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        Returns
        -------
        display : ConvergenceDisplay
            The drawn display.
        """
        gm = _fitted_mixture(estimator)
        check_is_fitted(gm, "lower_bounds_")
        display = cls(
            lower_bounds=gm.lower_bounds_,
            tol=getattr(gm, "tol", None),
            converged=getattr(gm, "converged_", None),
        )
        return display.plot(ax=ax)

    def plot(self, ax=None) -> ConvergenceDisplay:
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        Returns
        -------
        display : ConvergenceDisplay
            Itself, with ``ax_``, ``figure_`` and ``line_`` set.
        """
        ax = _axes(ax)
        iterations = np.arange(1, len(self.lower_bounds) + 1)
        label = "lower bound" if self.tol is None else f"lower bound (tol={self.tol:g})"
        (self.line_,) = ax.plot(iterations, self.lower_bounds, marker=".", label=label)
        title = "EM convergence"
        if self.converged is not None:
            title += (
                f" ({'converged' if self.converged else 'not converged'} in {len(iterations)} iterations)"
            )
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set(xlabel="EM iteration", ylabel="mean log-likelihood per sample", title=title)
        ax.legend(loc="lower right")
        self.ax_, self.figure_ = ax, ax.figure
        return self

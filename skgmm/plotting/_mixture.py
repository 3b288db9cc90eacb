"""MixtureDisplay: data and mixture components in a plane, with their ellipses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skgmm.plotting._drawing import _axes
from skgmm.plotting._geometry import _ellipse_axes, _mixture_moments, _principal_axes, full_covariances
from skgmm.plotting._results import _fitted_mixture


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
                center, spread = X.mean(axis=0), np.cov(X, rowvar=False)
            else:
                center, spread = _mixture_moments(np.asarray(gm.weights_, dtype=np.float64), means, cov)
            projection = _principal_axes(spread)
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
                kwargs = {"s": 12, "alpha": 0.6, "linewidths": 0, **(scatter_kwargs or {})}
                point_colors = colors[self.labels] if self.labels is not None else "0.5"
                self.scatter_ = ax.scatter(self.X[:, 0], self.X[:, 1], c=point_colors, **kwargs)
            for k in range(n_components):
                major, minor, angle = _ellipse_axes(self.covariances[k])
                kwargs = {"fill": False, "edgecolor": colors[k], "linewidth": 1.5, "alpha": 0.9}
                kwargs.update(ellipse_kwargs or {})
                ellipses = [
                    Ellipse(self.means[k], 2 * radius * major, 2 * radius * minor, angle=angle, **kwargs)
                    for radius in self.n_std
                ]
                for ellipse in ellipses:
                    ax.add_patch(ellipse)
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
        low, high = np.min(means - 4 * sds), np.max(means + 4 * sds)
        if self.X is not None:
            low, high = min(self.X.min(), low), max(self.X.max(), high)
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

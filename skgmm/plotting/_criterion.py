"""CriterionDisplay: an information criterion against the number of components."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skgmm.plotting._drawing import _axes
from skgmm.plotting._geometry import _COVARIANCE_TYPES
from skgmm.plotting._results import _criterion_table

# One style per covariance type of the registry, as mclust's plot(BIC) gives
# each model its own symbol and line type: distinct markers (never '*', the
# best model's), line styles cycling under them, and colours from tab20.
_MARKERS = (
    "o",
    "s",
    "D",
    "^",
    "v",
    "<",
    ">",
    "p",
    "P",
    "X",
    "h",
    "H",
    "8",
    "d",
    "x",
    "+",
    "1",
    "2",
    "3",
    "4",
)
_LINESTYLES = ("-", "--", "-.", ":")
_STYLE_INDEX = {cov: i for i, cov in enumerate(_COVARIANCE_TYPES)}


def _style(cov: str, position: int) -> dict:
    """Marker, line style and colour of a covariance type's curve."""
    import matplotlib as mpl

    index = _STYLE_INDEX.get(cov, position)
    colours = mpl.colormaps["tab20"].colors
    return dict(
        marker=_MARKERS[index % len(_MARKERS)],
        linestyle=_LINESTYLES[index % len(_LINESTYLES)],
        color=colours[(2 * index + index // 10) % len(colours)],
    )


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
        self.lines_ = {}
        best_value, self.best_ = np.inf, None
        for position, (cov, values) in enumerate(self.values.items()):
            (self.lines_[cov],) = ax.plot(self.n_components, values, label=cov, **_style(cov, position))
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
        ax.legend(title="covariance type", ncol=1 if len(self.values) <= 6 else 2, fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self

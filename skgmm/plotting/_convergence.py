"""ConvergenceDisplay: the lower bound at each EM iteration."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skgmm.plotting._drawing import _axes
from skgmm.plotting._results import _fitted_mixture


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

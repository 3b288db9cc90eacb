"""The figure of a fit: data and ellipses, BIC curves, convergence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from skgmm.cli._errors import CLIError
from skgmm.cli._tables import Table, _split_keys

if TYPE_CHECKING:
    from skgmm.cli._fitting import FitResult


def _check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError("drawing needs matplotlib: pip install 'skgmm[plot]'") from None


def write_figure(
    path: str,
    result: FitResult,
    table: Table,
    title: str | None = None,
    features: Sequence[str] | None = None,
) -> None:
    """Draw the data with the components' ellipses, the BIC curves and the convergence curve.

    Parameters
    ----------
    path : str
        Image file to write; the format follows its extension (png, pdf, svg...).
    result : FitResult
        The fit.
    table : Table
        The data it was fitted on.
    title : str, default=None
        Figure title.
    features : pair of str, default=None
        The two features (names, or indices among the fitted ones) to draw the
        data on; None draws the first two principal axes when there are more
        than two features.
    """
    _check_matplotlib()
    from matplotlib.figure import Figure

    from skgmm.plotting import ConvergenceDisplay, CriterionDisplay, MixtureDisplay

    with_table = result.table is not None and result.n_candidates > 1
    n_panels = 3 if with_table else 2
    figure = Figure(figsize=(5.2 * n_panels, 4.6), layout="constrained")
    axes = figure.subplots(1, n_panels)
    if features is not None:
        keys = _split_keys(features)
        if len(keys) != 2:
            raise CLIError(f"--plot-features needs two features, got {len(keys)}")
        features = [key if key in table.names or not key.lstrip("-").isdigit() else int(key) for key in keys]
        for key in features:
            if isinstance(key, str) and key not in table.names:
                raise CLIError(f"--plot-features: no feature {key!r}; features are {', '.join(table.names)}")
            if isinstance(key, int) and not -len(table.names) <= key < len(table.names):
                raise CLIError(f"--plot-features: index {key} out of range ({len(table.names)} features)")
    MixtureDisplay.from_estimator(
        result.model, table.X, features=features, feature_names=table.names, ax=axes[0]
    )
    if with_table:
        CriterionDisplay.from_table(result.grid, result.table).plot(ax=axes[1])
    ConvergenceDisplay.from_estimator(result.model, ax=axes[-1])
    if title:
        figure.suptitle(title)
    try:
        figure.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot write figure {path}: {exc}") from None

"""What every display needs to draw: matplotlib, imported only then, and axes."""

from __future__ import annotations


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

"""Warnings that point at the user's line, not at skgmm's or scikit-learn's."""

from __future__ import annotations

import sys
import warnings

_LIBRARIES = ("skgmm", "sklearn", "joblib", "threadpoolctl")


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stack level of the first frame outside the libraries.

    The estimators are reached through scikit-learn's wrappers
    (``_fit_context``, ``set_output``), so a fixed ``stacklevel`` would name a
    line of ``sklearn/base.py``.
    """
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in _LIBRARIES:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)

"""Covariance structures: one strategy object per ``covariance_type``, in a registry.

Each strategy (:class:`~skgmm.covariance.base.CovarianceModel`) holds all that
depends on the structure; the engine looks one up with
:func:`get_covariance_model` and never branches on the type again.  The
per-block kernels that need more than a few lines live in
:mod:`skgmm.covariance.kernels`.
"""

from __future__ import annotations

from skgmm.covariance.base import CovarianceModel, Kernel
from skgmm.covariance.diagonal import DiagCovariance, SphericalCovariance
from skgmm.covariance.full import FullCovariance
from skgmm.covariance.mclust import (
    DIAGONAL_MODELS,
    MCLUST_ALIASES,
    PARSIMONIOUS_MODELS,
    DiagonalParsimoniousCovariance,
    ParsimoniousCovariance,
)
from skgmm.covariance.tied import TiedCovariance

#: Every valid ``covariance_type``: scikit-learn's four, mclust's names of them
#: (aliases: the same strategy objects, whose ``name`` is scikit-learn's), and
#: mclust's other models (see :mod:`skgmm.covariance.mclust`).
COVARIANCE_MODELS: dict[str, CovarianceModel] = {
    model.name: model
    for model in (FullCovariance(), TiedCovariance(), DiagCovariance(), SphericalCovariance())
}
COVARIANCE_MODELS.update({alias: COVARIANCE_MODELS[name] for alias, name in MCLUST_ALIASES.items()})
# VVE's common orientation by EVE's criterion, as mclust 6 chooses it, so that
# fits retrace mclust's.  The likelihood's own orientation step (available as
# ParsimoniousCovariance("VVE", vve_orientation="likelihood")) raises VVE's
# likelihood at every step, but from mclust's start it ended 17-37 lower on
# some classic data sets, as often as it ended higher (benchmarks/RESULTS.md).
COVARIANCE_MODELS.update(
    {
        name: (DiagonalParsimoniousCovariance if name in DIAGONAL_MODELS else ParsimoniousCovariance)(name)
        for name in PARSIMONIOUS_MODELS
    }
)


def get_covariance_model(covariance_type: str) -> CovarianceModel:
    """Look up the strategy for ``covariance_type``."""
    try:
        return COVARIANCE_MODELS[covariance_type]
    except KeyError:
        raise ValueError(
            f"Unknown covariance_type {covariance_type!r}; valid types are {sorted(COVARIANCE_MODELS)}."
        ) from None


__all__ = ["COVARIANCE_MODELS", "CovarianceModel", "Kernel", "get_covariance_model"]

"""mclust's model names and their parameter counts (``nMclustParams``)."""

from __future__ import annotations

#: mclust's models for two or more features, in the order of its documentation.
MULTIVARIATE_MODELS = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip
#: mclust's models for one feature: equal and variable variances.
UNIVARIATE_MODELS = ("E", "V")


def check_model(model: str, n_features: int) -> None:
    """Raise ValueError unless ``model`` is an mclust model name valid for ``n_features``."""
    valid = UNIVARIATE_MODELS if n_features == 1 else MULTIVARIATE_MODELS
    if model not in valid:
        raise ValueError(
            f"Unknown covariance model {model!r} for {n_features} feature(s); valid models are "
            f"{', '.join(valid)}."
        )


def n_covariance_parameters(model: str, n_components: int, n_features: int) -> int:
    """Free parameters of the covariances alone, as mclust counts them."""
    check_model(model, n_features)
    k, d = n_components, n_features
    rotations = d * (d - 1) // 2
    counts = {
        "E": 1, "V": k,
        "EII": 1, "VII": k, "EEI": d, "VEI": k + d - 1, "EVI": 1 + k * (d - 1), "VVI": k * d,
        "EEE": d + rotations, "VEE": k + d - 1 + rotations, "EVE": 1 + k * (d - 1) + rotations,
        "VVE": k * d + rotations, "EEV": d + k * rotations, "VEV": k + d - 1 + k * rotations,
        "EVV": 1 + k * (d - 1) + k * rotations, "VVV": k * (d + rotations),
    }  # fmt: skip
    return counts[model]


def n_parameters(model: str, n_components: int, n_features: int) -> int:
    """Free parameters of the mixture (weights, means, covariances): mclust's ``nMclustParams``."""
    means_and_weights = n_components * n_features + n_components - 1
    return means_and_weights + n_covariance_parameters(model, n_components, n_features)

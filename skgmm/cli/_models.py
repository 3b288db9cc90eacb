"""Model files: writing a fitted model, loading it back, and reading data for it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from skgmm.cli._errors import CLIError
from skgmm.cli._tables import Table, _header_names, read_table


def _supports_missing_values(estimator) -> bool:
    try:
        return bool(estimator.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:
        return False


def _save_model(model, path: str, columns: Sequence[str]) -> None:
    """Write ``model`` with joblib, remembering the ``columns`` it was fitted on."""
    import joblib

    # The CLI remembers which columns it fitted on, so `skgmm predict` picks them again.
    model._skgmm_columns = list(columns)
    try:
        joblib.dump(model, path)
    except OSError as exc:
        raise CLIError(f"cannot write model {path}: {exc.strerror}") from None


def _load_model(path: str):
    import joblib

    if not Path(path).is_file():
        raise CLIError(f"{path}: no such model file")
    try:
        model = joblib.load(path)
    except Exception:
        raise CLIError(
            f"{path}: not a model file written by `skgmm fit --out` (joblib could not read it)"
        ) from None
    if not (hasattr(model, "predict_proba") and hasattr(model, "score_samples")):
        raise CLIError(f"{path}: holds a {type(model).__name__}, not a fitted Gaussian mixture")
    return model


def _table_for_model(model, args: argparse.Namespace) -> Table:
    """Read ``args.data``: the columns asked for, else those the model was fitted on when the file has them."""
    columns = args.columns
    if not columns and getattr(model, "_skgmm_columns", None) and Path(args.data).suffix.lower() != ".npy":
        raw_names = _header_names(args.data)
        if raw_names is not None and set(model._skgmm_columns) <= set(raw_names):
            columns = model._skgmm_columns
    allow_nan = _supports_missing_values(model)
    table = read_table(args.data, columns, allow_nan=allow_nan)
    expected = getattr(model, "n_features_in_", table.X.shape[1])
    if table.X.shape[1] != expected:
        raise CLIError(
            f"the model was fitted on {expected} features but {table.source} gives {table.X.shape[1]}; "
            "choose the columns with --columns"
        )
    return table

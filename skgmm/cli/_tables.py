"""Reading data files (delimited text, ``.npy``, Parquet) into numeric tables."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skgmm.cli._errors import CLIError

_MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "n/a", "?"})


@dataclass
class Table:
    """Numeric columns read from a file.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The selected feature columns.
    names : list of str
        Their names (``x0``, ``x1``, ... when the file has no header).
    sample_weight : ndarray of shape (n_samples,) or None
        The sample-weight column, if one was asked for.
    source : str
        Where the data came from, for messages.
    """

    X: np.ndarray
    names: list[str]
    sample_weight: np.ndarray | None = None
    source: str = "data"


@dataclass
class _RawTable:
    """All columns of a file, not yet converted: name -> sequence of values."""

    columns: dict[str, Any]
    has_names: bool
    source: str
    to_float: Any = field(default=None)


def _parse_float(value: str) -> float:
    text = value.strip()
    if text.lower() in _MISSING_TOKENS:
        return math.nan
    return float(text)


def _is_number(value: str) -> bool:
    try:
        _parse_float(value)
    except ValueError:
        return False
    return True


def _text_column_to_float(name: str, values: Sequence[str], source: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=str).astype(np.float64)
    except ValueError:
        pass
    out = np.empty(len(values))
    for row, value in enumerate(values):
        try:
            out[row] = _parse_float(value)
        except ValueError:
            raise CLIError(
                f"{source}: column {name!r} is not numeric (row {row + 1}: {value.strip()!r}); "
                "choose numeric columns with --columns"
            ) from None
    return out


def _read_text(path: Path) -> _RawTable:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise CLIError(f"{path}: the file has no data")
    first = lines[0]
    delimiter = max(",\t;", key=first.count)
    if first.count(delimiter) == 0:
        rows = [line.split() for line in lines]
    else:
        rows = [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]
    n_columns = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != n_columns:
            raise CLIError(f"{path}: row {number} has {len(row)} fields, the first row has {n_columns}")
    numeric_first = [_is_number(cell) for cell in rows[0]]
    numeric_second = [_is_number(cell) for cell in rows[1]] if len(rows) > 1 else numeric_first
    has_header = not any(numeric_first) or any(
        second and not first for first, second in zip(numeric_first, numeric_second, strict=True)
    )
    names = rows[0] if has_header else [f"x{j}" for j in range(n_columns)]
    body = rows[1:] if has_header else rows
    if not body:
        raise CLIError(f"{path}: the file has a header but no data rows")
    columns = {str(name): [row[j] for row in body] for j, name in enumerate(names)}
    return _RawTable(columns, has_header, str(path), _text_column_to_float)


def _read_npy(path: Path) -> _RawTable:
    array = np.load(path, allow_pickle=False)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise CLIError(f"{path}: expected a 1- or 2-dimensional array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise CLIError(f"{path}: the array is not numeric (dtype {array.dtype})")
    columns = {f"x{j}": array[:, j] for j in range(array.shape[1])}
    return _RawTable(columns, False, str(path))


def _read_parquet(path: Path) -> _RawTable:
    try:
        import pandas as pd
    except ImportError:
        raise CLIError(
            "reading Parquet files needs pandas and pyarrow: pip install 'skgmm[parquet]'"
        ) from None
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise CLIError(f"reading Parquet files needs pyarrow: pip install 'skgmm[parquet]' ({exc})") from None

    def to_float(name, values, source):
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise CLIError(
                f"{source}: column {name!r} is not numeric (dtype {values.dtype}); choose numeric columns with --columns"
            )
        return values.to_numpy(dtype=np.float64, na_value=np.nan)

    return _RawTable({str(name): frame[name] for name in frame.columns}, True, str(path), to_float)


def _read_raw(path: Path) -> _RawTable:
    """All columns of ``path``, read by the reader its extension names."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path)
    return _read_text(path)


def _header_names(path: str) -> list[str] | None:
    """The column names of a file that has them; None when it has none or cannot be read."""
    try:
        raw = _read_raw(Path(path))
    except (CLIError, OSError):
        return None
    return list(raw.columns) if raw.has_names else None


def _split_keys(items: Sequence) -> list[str]:
    """Column keys given one per argument or comma-separated, stripped, empty ones dropped.

    >>> _split_keys(["a, b", "2", ","])
    ['a', 'b', '2']
    """
    return [key.strip() for item in items for key in str(item).split(",") if key.strip()]


def _column_name(raw: _RawTable, key: str) -> str:
    if key in raw.columns:
        return key
    names = list(raw.columns)
    try:
        index = int(key)
    except ValueError:
        raise CLIError(f"{raw.source}: no column {key!r}; columns are {', '.join(names)}") from None
    if not -len(names) <= index < len(names):
        raise CLIError(f"{raw.source}: column index {index} out of range (the file has {len(names)} columns)")
    return names[index]


def read_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    sample_weight: str | None = None,
    *,
    allow_nan: bool = False,
) -> Table:
    """Read the numeric columns of a CSV, ``.npy`` or Parquet file.

    Parameters
    ----------
    path : str or Path
        The file. ``.npy`` is read by NumPy, ``.parquet``/``.pq`` by pandas,
        anything else as delimited text (comma, tab, semicolon or
        whitespace, with a header row detected automatically).
    columns : sequence of str, default=None
        Feature columns, by name or 0-based index; None takes every column
        except the sample-weight one.
    sample_weight : str, default=None
        The column (name or index) holding sample weights.
    allow_nan : bool, default=False
        Whether missing values are passed on instead of being an error.

    Returns
    -------
    table : Table
        The features, their names and the sample weights.
    """
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if path.is_dir():
        raise CLIError(f"{path}: is a directory, not a data file")
    raw = _read_raw(path)
    to_float = raw.to_float or (lambda name, values, source: np.asarray(values, dtype=np.float64))

    weight_name = None if sample_weight is None else _column_name(raw, sample_weight)
    if columns:
        names = [_column_name(raw, key) for key in _split_keys(columns)]
    else:
        names = [name for name in raw.columns if name != weight_name]
    if not names:
        raise CLIError(f"{raw.source}: no feature columns left")
    X = np.column_stack([to_float(name, raw.columns[name], raw.source) for name in names])
    weights = None
    if weight_name is not None:
        weights = to_float(weight_name, raw.columns[weight_name], raw.source)
        if not np.all(np.isfinite(weights)):
            raise CLIError(
                f"{raw.source}: sample-weight column {weight_name!r} has missing or infinite values"
            )
    if np.isinf(X).any():
        row, col = np.argwhere(np.isinf(X))[0]
        raise CLIError(f"{raw.source}: column {names[col]!r} has an infinite value (row {row + 1})")
    missing = np.isnan(X)
    if missing.any() and not allow_nan:
        row, col = np.argwhere(missing)[0]
        raise CLIError(
            f"{raw.source}: {int(missing.sum())} missing value(s), first in column {names[col]!r} at row {row + 1}; "
            "this model does not handle missing values: drop or impute those rows"
        )
    return Table(X, names, weights, raw.source)

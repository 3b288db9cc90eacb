"""The ``skgmm`` command line (also ``python -m skgmm``).

Commands::

    skgmm fit DATA [--n-components auto|K] [--covariance-type auto|full|tied|diag|spherical]
                   [--columns C ...] [--sample-weight COLUMN] [--out MODEL] [--labels FILE] [--plot FILE]
    skgmm predict MODEL DATA [--proba]
    skgmm score MODEL DATA
    skgmm sample MODEL N
    skgmm demo                      (the default: fit the iris data set and draw it)

DATA is a CSV or other delimited text file (with or without a header row), a
NumPy ``.npy`` file, or a Parquet file (needs ``pip install 'skgmm[parquet]'``).
Columns are chosen by name or by 0-based index. MODEL files are written with
joblib (a pickle): load only model files you trust.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import skgmm
from skgmm import GaussianMixtureEM, __version__

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "n/a", "?"})
_COMMANDS = ("fit", "predict", "score", "sample", "demo")


class CLIError(Exception):
    """An expected failure, reported as one line with exit status 1."""


# -- reading data -------------------------------------------------------------
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
    suffix = path.suffix.lower()
    if suffix == ".npy":
        raw = _read_npy(path)
    elif suffix in (".parquet", ".pq"):
        raw = _read_parquet(path)
    else:
        raw = _read_text(path)
    to_float = raw.to_float or (lambda name, values, source: np.asarray(values, dtype=np.float64))

    weight_name = None if sample_weight is None else _column_name(raw, sample_weight)
    if columns:
        keys = [key for item in columns for key in str(item).split(",") if key.strip()]
        names = [_column_name(raw, key.strip()) for key in keys]
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


def _supports_missing_values(estimator) -> bool:
    try:
        return bool(estimator.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:
        return False


# -- progress -----------------------------------------------------------------
class Progress:
    """One self-rewriting status line on a terminal (EM iteration, log-likelihood, time)."""

    def __init__(self, stream: TextIO, delay: float = 0.3):
        self.stream = stream
        self.delay = delay
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.width = 0
        self.candidate = ""

    def set_candidate(self, text: str) -> None:
        self.candidate = text

    def monitor(self):
        """A fit monitor that reports EM iterations to this line."""
        from skgmm._callbacks import FitMonitor

        progress = self

        class _LineMonitor(FitMonitor):
            def on_init_begin(self, init):
                self.init = init
                self.tick = time.perf_counter()

            def on_iteration_end(self, n_iter, lower_bound, change):
                now = time.perf_counter()
                per_iteration, self.tick = now - self.tick, now
                progress.draw(
                    f"{progress.candidate}  init {self.init + 1}  iteration {n_iter}  "
                    f"log-likelihood {lower_bound:.5f}  {1e3 * per_iteration:.1f} ms/iteration"
                )

        return _LineMonitor()

    def draw(self, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and (now - self.start < self.delay or now - self.last_draw < 0.1):
            return
        self.last_draw = now
        text = text[:150]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


@contextlib.contextmanager
def _monitoring(progress: Progress | None):
    """Route the estimators' per-iteration hook to ``progress`` while fitting."""
    import skgmm._estimator as estimator_module

    original = getattr(estimator_module, "monitor_for", None)
    if progress is None or original is None:
        yield
        return
    estimator_module.monitor_for = lambda verbose, verbose_interval: progress.monitor()
    try:
        yield
    finally:
        estimator_module.monitor_for = original
        progress.clear()


# -- fitting ------------------------------------------------------------------
@dataclass
class FitResult:
    """A fitted model and, when it was chosen from a grid, the criterion table."""

    model: Any
    grid: np.ndarray | None = None
    table: dict[str, np.ndarray] | None = None
    n_candidates: int = 1
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    singular: list[tuple[int, str]] = field(default_factory=list)
    runners_up_checked: bool = True


def singular_components(model) -> list[int]:
    """Components whose covariance the data leave singular, propped up by ``reg_covar`` alone.

    Such a component sits on a point, a line or a plane (duplicated or
    discretised values): its density, hence the likelihood and the BIC, is
    spuriously large. R's mclust reports no BIC for such fits; the command line
    likewise passes over them when it chooses a model.

    Parameters
    ----------
    model : fitted GaussianMixtureEM
        The mixture.

    Returns
    -------
    components : list of int
        The singular components (empty for a sound fit).
    """
    from skgmm.plotting import full_covariances

    n_components, n_features = model.means_.shape
    covariances = full_covariances(model.covariances_, model.covariance_type, n_components, n_features)
    spread = np.linalg.eigvalsh(covariances) - model.reg_covar  # what the data contribute
    tolerance = np.sqrt(np.finfo(model.means_.dtype).eps)
    # Singular: flat in some direction compared with its own widest one, or a
    # point compared with the widest component of the mixture.
    widest = max(float(spread.max()), 0.0)
    return [
        k
        for k in range(n_components)
        if spread[k].min() <= tolerance * max(spread[k].max(), 0.0) or spread[k].max() <= tolerance * widest
    ]


def _parse_n_components(value: str) -> str | int:
    if value == "auto":
        return value
    try:
        return _positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {value!r}") from None


def fit_table(table: Table, args: argparse.Namespace, progress: Progress | None = None) -> FitResult:
    """Fit one model, or choose one by BIC when ``n_components`` or ``covariance_type`` is 'auto'.

    Parameters
    ----------
    table : Table
        The data.
    args : argparse.Namespace
        ``n_components``, ``covariance_type``, ``max_components``, ``n_init``,
        ``max_iter``, ``tol``, ``random_state`` and ``verbose``.
    progress : Progress, default=None
        Where to report iterations.

    Returns
    -------
    result : FitResult
        The model and the BIC table.
    """
    X, weights = table.X, table.sample_weight
    n_samples = X.shape[0]
    if args.n_components == "auto":
        ks = list(range(1, min(args.max_components, n_samples) + 1))
    else:
        ks = [args.n_components]
    covs = list(COVARIANCE_TYPES) if args.covariance_type == "auto" else [args.covariance_type]
    options = dict(max_iter=args.max_iter, tol=args.tol, random_state=args.random_state)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, _monitoring(progress):
        warnings.simplefilter("always")
        if len(ks) * len(covs) == 1:
            if progress:
                progress.set_candidate(f"K={ks[0]} {covs[0]}")
            model = GaussianMixtureEM(ks[0], covariance_type=covs[0], n_init=args.n_init or 1, **options)
            model.fit(X, sample_weight=weights)
            result = FitResult(model)
        else:
            result = _fit_selector(X, weights, ks, covs, options, args, progress)
    result.seconds = time.perf_counter() - start
    messages = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    result.warnings = list(messages)
    return result


def _fit_selector(X, weights, ks, covs, options, args, progress) -> FitResult:
    """Choose through :class:`skgmm.GaussianMixtureIC`."""
    from skgmm.plotting import _criterion_table

    if progress:
        progress.set_candidate(f"{len(ks) * len(covs)} candidates")
    extra = {} if args.n_init is None else {"n_init": args.n_init}
    selector = skgmm.GaussianMixtureIC(
        n_components=ks, covariance_type=covs, criterion="bic", **options, **extra
    )
    model_warnings = _fit_recording_warnings(selector, X, weights)
    model = selector.best_estimator_
    try:
        grid, table = _criterion_table(selector.cv_results_, "bic")
    except (AttributeError, ValueError):
        _reissue(model_warnings)
        return FitResult(model, None, None, len(ks) * len(covs))
    # Pass over singular fits, best first, refitting each runner-up alone (the
    # selector keeps only its best model). On small data every candidate may be
    # looked at (tiny data put many singular fits first), and the three
    # runners-up shown in the summary are checked too; on large data a dozen
    # refits at most.
    ranked = sorted(
        (value, int(k), cov)
        for cov, values in table.items()
        for k, value in zip(grid, values)
        if np.isfinite(value)
    )
    check_runners_up = X.size <= 1_000_000
    singular, passed_over, chosen, n_sound = [], [], None, 0
    for _value, k, cov in ranked if check_runners_up else ranked[:12]:
        if chosen is not None and (not check_runners_up or n_sound == 3):
            break
        if (k, cov) == (model.n_components, model.covariance_type):
            candidate, candidate_warnings = model, model_warnings
        else:
            refit = skgmm.GaussianMixtureIC(
                n_components=[k], covariance_type=[cov], criterion="bic", **options, **extra
            )
            candidate_warnings = _fit_recording_warnings(refit, X, weights)
            candidate = refit.best_estimator_
            table[cov][np.searchsorted(grid, k)] = _bic(candidate, X, weights)
        if singular_components(candidate):
            singular.append((k, cov))
            if chosen is None:
                passed_over.append((k, cov))
        elif chosen is None:
            chosen, chosen_warnings = candidate, candidate_warnings
        else:
            n_sound += 1
    if chosen is None:  # every candidate looked at is singular: keep the selector's choice
        chosen, chosen_warnings, passed_over = model, model_warnings, []
        singular = [entry for entry in singular if entry != (model.n_components, model.covariance_type)]
    _reissue(chosen_warnings)  # only the chosen model's, not those of the fits passed over
    for k, cov in singular:
        table[cov][np.searchsorted(grid, k)] = np.nan
    result = FitResult(chosen, grid, table, len(ks) * len(covs))
    result.singular = passed_over
    result.runners_up_checked = check_runners_up
    return result


def _fit_recording_warnings(selector, X, weights) -> list:
    """Fit ``selector`` and return the warnings it raised, instead of showing them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selector.fit(X, sample_weight=weights)
    return caught


def _reissue(caught) -> None:
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _bic(model, X, weights) -> float:
    """BIC, counting a row of weight w as w rows when there are weights."""
    if weights is None:
        return float(model.bic(X))
    return model._information_criteria(X, weights)["bic"]


# -- printing -----------------------------------------------------------------
def _short(name: str, width: int = 12) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def summary(result: FitResult, table: Table, verbose: bool = False) -> str:
    """A readable report of a fit.

    Parameters
    ----------
    result : FitResult
        The fit.
    table : Table
        The data it was fitted on.
    verbose : bool, default=False
        Also show the whole criterion table, all features and the covariances.

    Returns
    -------
    text : str
        The report, several lines.
    """
    model, X, weights = result.model, table.X, table.sample_weight
    n_samples, n_features = X.shape
    k, cov = model.n_components, model.covariance_type
    names = table.names
    lines = [
        f"data: {table.source}, {n_samples} samples x {n_features} features"
        + ("" if weights is None else f", weighted by a column (total weight {np.sum(weights):g})")
    ]
    n_missing = int(np.isnan(X).sum())
    if n_missing:
        lines[0] += f", {n_missing} missing values (EM uses each row's observed features)"
    chosen = f"model: {k} component{'s' if k > 1 else ''}, {cov!r} covariance"
    if result.table is not None and result.n_candidates > 1:
        covs = ", ".join(result.table)
        low, high = result.grid.min(), result.grid.max()
        ks = f"K = {low}" if low == high else f"K = {low}..{high}"
        chosen += f" (chosen by BIC among {result.n_candidates} candidates: {ks} x {covs})"
    lines.append(chosen)
    log_likelihood = model.score(X, sample_weight=weights)
    total_weight = n_samples if weights is None else float(np.sum(weights))
    lines.append(
        f"log-likelihood: {log_likelihood:.4f} per sample, {log_likelihood * total_weight:.2f} in total;"
        f"  BIC {_bic(model, X, weights):.2f}"
    )
    status = "converged" if model.converged_ else "did NOT converge"
    lines.append(
        f"EM: {status} in {model.n_iter_} iterations (n_init={model.n_init}, tol={model.tol:g});"
        f"  time {result.seconds:.2f} s" + (" for all candidates" if result.n_candidates > 1 else "")
    )
    if result.table is not None and result.n_candidates > 1:
        lines.extend(_criterion_lines(result, verbose))
    if result.singular:
        passed = ", ".join(f"K={k} {cov}" for k, cov in result.singular)
        lines.append(
            f"passed over, with a lower BIC but singular (a component with no spread in some direction, "
            f"held up by reg_covar alone): {passed}"
        )
    shown = n_features if verbose else min(n_features, 6)
    header = f"{'component':>9s}  {'weight':>7s}  " + "  ".join(f"{_short(n):>12s}" for n in names[:shown])
    lines.append("means:" if shown == n_features else f"means (first {shown} of {n_features} features):")
    lines.append(header)
    for c in range(k):
        row = "  ".join(f"{value:12.4g}" for value in model.means_[c, :shown])
        lines.append(f"{c:>9d}  {model.weights_[c]:7.3f}  {row}")
    if verbose:
        with np.printoptions(precision=4, suppress=True, linewidth=110):
            lines.append(f"covariances_ ({cov}, shape {model.covariances_.shape}):")
            lines.append(str(model.covariances_))
    return "\n".join(lines)


def _criterion_lines(result: FitResult, verbose: bool) -> list[str]:
    entries = [
        (value, int(k), cov)
        for cov, values in result.table.items()
        for k, value in zip(result.grid, values, strict=True)
        if np.isfinite(value)
    ]
    entries.sort()
    best = entries[0][0]
    if not verbose:
        others = ", ".join(f"K={k} {cov} (+{value - best:.1f})" for value, k, cov in entries[1:4])
        note = "" if result.runners_up_checked else " (not checked for singular fits)"
        return [f"next best by BIC{note}: {others}"] if others else []
    lines = ["BIC (lower is better):", f"{'K':>4s}  " + "  ".join(f"{cov:>12s}" for cov in result.table)]
    for i, k in enumerate(result.grid):
        cells = "  ".join(f"{values[i]:12.2f}" for values in result.table.values())
        lines.append(f"{k:>4d}  {cells}")
    return lines


# -- outputs ------------------------------------------------------------------
def _write_labels(path: str, model, X: np.ndarray) -> None:
    labels = model.predict(X)
    proba = model.predict_proba(X)
    with _open_output(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["label"] + [f"proba_{k}" for k in range(proba.shape[1])])
        for label, row in zip(labels, proba, strict=True):
            writer.writerow([int(label)] + [f"{p:.6g}" for p in row])


@contextlib.contextmanager
def _open_output(path: str | None):
    """A text stream: standard output for None or '-', else the file (its directory must exist)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", newline="")
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None
    with handle:
        yield handle


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
        keys = [key.strip() for item in features for key in str(item).split(",") if key.strip()]
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


# -- commands -----------------------------------------------------------------
def _say(args, *lines: str) -> None:
    if not args.quiet:
        for line in lines:
            print(line)


def _progress_for(args) -> Progress | None:
    return Progress(sys.stderr) if sys.stderr.isatty() and not args.quiet else None


def _report_warnings(args, result: FitResult) -> None:
    if args.quiet:
        return
    for message in result.warnings[: None if args.verbose else 3]:
        print(f"skgmm: warning: {message}", file=sys.stderr)


def _fit_and_report(table: Table, args, title: str | None = None) -> FitResult:
    if args.plot:
        _check_matplotlib()
    result = fit_table(table, args, _progress_for(args))
    _report_warnings(args, result)
    _say(args, summary(result, table, verbose=args.verbose))
    if args.out:
        import joblib

        # The CLI remembers which columns it fitted on, so `skgmm predict` picks them again.
        result.model._skgmm_columns = list(table.names)
        try:
            joblib.dump(result.model, args.out)
        except OSError as exc:
            raise CLIError(f"cannot write model {args.out}: {exc.strerror}") from None
        _say(args, f"model written to {args.out}")
    if args.labels:
        _write_labels(args.labels, result.model, table.X)
        _say(args, f"labels and probabilities written to {args.labels}")
    if args.plot:
        write_figure(args.plot, result, table, title, getattr(args, "plot_features", None))
        _say(args, f"figure written to {args.plot}")
    return result


def _command_fit(args) -> int:
    allow_nan = _supports_missing_values(GaussianMixtureEM())
    table = read_table(args.data, args.columns, args.sample_weight, allow_nan=allow_nan)
    if table.X.shape[0] < 2:
        raise CLIError(f"{table.source}: need at least 2 rows to fit, got {table.X.shape[0]}")
    _fit_and_report(table, args, title=Path(args.data).name)
    return 0


def _command_demo(args) -> int:
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score

    iris = load_iris()
    names = [name.replace(" (cm)", "") for name in iris.feature_names]
    table = Table(iris.data, names, None, "iris (scikit-learn's copy of Fisher's data)")
    plot = args.plot
    try:
        _check_matplotlib()
    except CLIError as exc:
        _say(args, f"{exc} (no figure this time)")
        plot = None
    args = argparse.Namespace(**{**vars(args), "plot": plot})
    _say(args, "skgmm demo: choosing the number of components and covariance type by BIC")
    result = _fit_and_report(table, args, title="iris: Gaussian mixture chosen by BIC")
    ari = adjusted_rand_score(iris.target, result.model.predict(iris.data))
    _say(args, f"agreement with the three iris species (adjusted Rand index): {ari:.2f}")
    return 0


def _load_model(path: str):
    import joblib

    if not Path(path).is_file():
        raise CLIError(f"{path}: no such model file")
    try:
        model = joblib.load(path)
    except Exception as exc:
        raise CLIError(f"{path}: not a model file written by `skgmm fit --out` ({exc})") from None
    if not (hasattr(model, "predict_proba") and hasattr(model, "score_samples")):
        raise CLIError(f"{path}: holds a {type(model).__name__}, not a fitted Gaussian mixture")
    return model


def _table_for_model(model, args) -> Table:
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


def _header_names(path: str) -> list[str] | None:
    try:
        raw = _read_parquet(Path(path)) if Path(path).suffix.lower() in (".parquet", ".pq") else None
        if raw is None:
            raw = _read_text(Path(path))
    except (CLIError, OSError):
        return None
    return list(raw.columns) if raw.has_names else None


def _command_predict(args) -> int:
    model = _load_model(args.model)
    table = _table_for_model(model, args)
    with _open_output(args.out) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if args.proba:
            proba = model.predict_proba(table.X)
            writer.writerow(["label"] + [f"proba_{k}" for k in range(proba.shape[1])])
            for row in proba:
                writer.writerow([int(np.argmax(row))] + [f"{p:.6g}" for p in row])
        else:
            writer.writerow(["label"])
            writer.writerows([int(label)] for label in model.predict(table.X))
    return 0


def _command_score(args) -> int:
    model = _load_model(args.model)
    table = _table_for_model(model, args)
    log_prob = model.score_samples(table.X)
    if args.per_sample:
        with _open_output(args.out) as handle:
            handle.write("log_likelihood\n")
            handle.writelines(f"{value:.8g}\n" for value in log_prob)
        return 0
    mean = float(np.mean(log_prob, dtype=np.float64))
    if args.quiet:
        print(f"{mean:.8g}")
    else:
        print(f"mean log-likelihood per sample: {mean:.6f} ({len(log_prob)} samples from {table.source})")
        print(f"total log-likelihood: {mean * len(log_prob):.4f};  BIC {float(model.bic(table.X)):.4f}")
    return 0


def _command_sample(args) -> int:
    model = _load_model(args.model)
    if args.random_state is not None:
        model.set_params(random_state=args.random_state)
    X, y = model.sample(args.n_samples)
    names = getattr(model, "_skgmm_columns", None) or [f"x{j}" for j in range(X.shape[1])]
    with _open_output(args.out) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*names, "component"])
        for row, label in zip(X, y, strict=True):
            writer.writerow([f"{value:.8g}" for value in row] + [int(label)])
    return 0


# -- parser -------------------------------------------------------------------
def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--n-components",
        "-k",
        type=_parse_n_components,
        default="auto",
        metavar="auto|K",
        help="number of components, or 'auto' to choose 1..--max-components by BIC (default: auto)",
    )
    parser.add_argument(
        "--covariance-type",
        "-c",
        choices=("auto", *COVARIANCE_TYPES),
        default="auto",
        help="covariance type, or 'auto' to choose by BIC (default: auto)",
    )
    parser.add_argument(
        "--max-components", type=_positive_int, default=9, help="largest K tried by auto (default: 9)"
    )
    parser.add_argument("--n-init", type=_positive_int, default=None, help="EM starts per model (default: 1)")
    parser.add_argument(
        "--max-iter", type=_positive_int, default=100, help="EM iterations at most (default: 100)"
    )
    parser.add_argument("--tol", type=float, default=1e-3, help="convergence threshold (default: 1e-3)")
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed, for reproducible fits (default: 0)"
    )
    parser.add_argument("--out", "-o", metavar="MODEL", help="write the fitted model here (joblib)")
    parser.add_argument("--labels", metavar="FILE", help="write labels and probabilities here (CSV)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skgmm`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with one sub-command per task.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print only results"
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print more (full BIC table, covariances)",
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
    )
    parser = argparse.ArgumentParser(
        prog="skgmm",
        description="Gaussian mixture models from the command line. Without a command, runs the demo.",
        parents=[common],
    )
    parser.set_defaults(quiet=False, verbose=False, debug=False)
    parser.add_argument("--version", action="version", version=f"skgmm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = commands.add_parser(
        "fit",
        parents=[common],
        help="fit a mixture to a data file",
        description="Fit a Gaussian mixture to DATA and print a summary.",
    )
    fit.add_argument("data", metavar="DATA", help="CSV/text, .npy or .parquet file")
    _add_fit_options(fit)
    fit.add_argument(
        "--columns",
        nargs="+",
        metavar="C",
        help="feature columns by name or 0-based index (space- or comma-separated; default: all)",
    )
    fit.add_argument("--sample-weight", metavar="COLUMN", help="column of sample weights (name or index)")
    fit.add_argument("--plot", metavar="FILE", help="write a figure here (png, pdf, svg...)")
    fit.add_argument(
        "--plot-features",
        nargs="+",
        metavar="F",
        help="two features to draw the data on (default: the first two principal axes when d > 2)",
    )

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="fit the iris data set and draw the result",
        description="Fit the iris data set, choosing K and the covariance type by BIC.",
    )
    _add_fit_options(demo)
    demo.add_argument(
        "--plot",
        metavar="FILE",
        default="skgmm-demo.png",
        help="where to write the figure (default: skgmm-demo.png)",
    )

    for name, text in (("predict", "print the component of each row"), ("score", "print the log-likelihood")):
        sub = commands.add_parser(
            name, parents=[common], help=text, description=text[0].upper() + text[1:] + "."
        )
        sub.add_argument("model", metavar="MODEL", help="a model written by `skgmm fit --out`")
        sub.add_argument("data", metavar="DATA", help="CSV/text, .npy or .parquet file")
        sub.add_argument(
            "--columns",
            nargs="+",
            metavar="C",
            help="feature columns (default: those the model was fitted on, else all)",
        )
        sub.add_argument("--out", "-o", metavar="FILE", help="write to this file instead of standard output")
    commands.choices["predict"].add_argument("--proba", action="store_true", help="also print probabilities")
    commands.choices["score"].add_argument(
        "--per-sample", action="store_true", help="print each row's log-likelihood (CSV)"
    )

    sample = commands.add_parser(
        "sample",
        parents=[common],
        help="draw samples from a model (CSV)",
        description="Draw N samples from a fitted model, as CSV.",
    )
    sample.add_argument("model", metavar="MODEL", help="a model written by `skgmm fit --out`")
    sample.add_argument("n_samples", metavar="N", type=_positive_int, help="number of samples")
    sample.add_argument("--random-state", type=int, default=None, help="seed (default: the model's)")
    sample.add_argument("--out", "-o", metavar="FILE", help="write to this file instead of standard output")
    return parser


_HANDLERS = {
    "fit": _command_fit,
    "demo": _command_demo,
    "predict": _command_predict,
    "score": _command_score,
    "sample": _command_sample,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skgmm`` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments; None reads ``sys.argv``. No command runs the demo.

    Returns
    -------
    status : int
        0 on success, 1 on an error (reported as one line on standard
        error), 2 on a usage error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.command is None:
        demo_args = [*(["--quiet"] if args.quiet else []), *(["--verbose"] if args.verbose else [])]
        demo_args += ["--debug"] if args.debug else []
        args = parser.parse_args(["demo", *demo_args])
    try:
        return _HANDLERS[args.command](args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("\nskgmm: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, CLIError | OSError | ValueError):
            message = f"{type(exc).__name__}: {message}"
        print(f"skgmm: error: {message}", file=sys.stderr)
        return 1

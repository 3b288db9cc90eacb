"""``skgmm fit DATA``: fit a mixture to a data file, print a summary, write the model, labels and figure."""

from __future__ import annotations

import argparse
from pathlib import Path

from skgmm import GaussianMixtureEM
from skgmm.cli._errors import CLIError
from skgmm.cli._figure import _check_matplotlib, write_figure
from skgmm.cli._fitting import FitResult, fit_table
from skgmm.cli._models import _save_model, _supports_missing_values
from skgmm.cli._outputs import _write_labels
from skgmm.cli._progress import _progress_for
from skgmm.cli._report import _report_warnings, _say, chosen_model, summary
from skgmm.cli._tables import Table, read_table


def _fit_and_report(table: Table, args: argparse.Namespace, title: str | None = None) -> FitResult:
    """Fit ``table``, print the summary, and write what ``--out``, ``--labels`` and ``--plot`` ask for."""
    if args.plot:
        _check_matplotlib()
    result = fit_table(table, args, _progress_for(args))
    _report_warnings(args, result)
    _say(args, summary(result, table, verbose=args.verbose))
    if args.quiet and not (args.out or args.labels or args.plot):
        # --quiet prints only results: with no file to write, the result is the model chosen
        print(chosen_model(result))
    if args.out:
        _save_model(result.model, args.out, table.names)
        _say(args, f"model written to {args.out}")
    if args.labels:
        _write_labels(args.labels, result.model, table.X)
        _say(args, f"labels and probabilities written to {args.labels}")
    if args.plot:
        write_figure(args.plot, result, table, title, getattr(args, "plot_features", None))
        _say(args, f"figure written to {args.plot}")
    return result


def run(args: argparse.Namespace) -> int:
    allow_nan = _supports_missing_values(GaussianMixtureEM())
    table = read_table(args.data, args.columns, args.sample_weight, allow_nan=allow_nan)
    if table.X.shape[0] < 2:
        raise CLIError(f"{table.source}: need at least 2 rows to fit, got {table.X.shape[0]}")
    _fit_and_report(table, args, title=Path(args.data).name)
    return 0

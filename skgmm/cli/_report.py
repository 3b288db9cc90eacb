"""What the command line prints: the summary of a fit, its BIC table, warnings."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from skgmm.cli._fitting import FitResult, _bic
from skgmm.cli._tables import Table


def _say(args: argparse.Namespace, *lines: str) -> None:
    """Print ``lines`` unless ``--quiet``."""
    if not args.quiet:
        for line in lines:
            print(line)


def _report_warnings(args: argparse.Namespace, result: FitResult) -> None:
    """Print the fit's warnings on standard error: the first three, or all with ``--verbose``."""
    if args.quiet:
        return
    for message in result.warnings[: None if args.verbose else 3]:
        print(f"skgmm: warning: {message}", file=sys.stderr)


def _short(name: str, width: int = 12) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def chosen_model(result: FitResult) -> str:
    """The summary's line of the fitted model: components, covariance, and how it was chosen."""
    k, cov = result.model.n_components, result.model.covariance_type
    chosen = f"model: {k} component{'s' if k > 1 else ''}, {cov!r} covariance"
    if result.table is not None and result.n_candidates > 1:
        covs = ", ".join(result.table)
        low, high = result.grid.min(), result.grid.max()
        ks = f"K = {low}" if low == high else f"K = {low}..{high}"
        chosen += f" (chosen by BIC among {result.n_candidates} candidates: {ks} x {covs})"
    return chosen


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
    lines.append(chosen_model(result))
    log_likelihood = model.score(X, sample_weight=weights)
    total_weight = n_samples if weights is None else float(np.sum(weights))
    lines.append(
        f"log-likelihood: {log_likelihood:.4f} per sample, {log_likelihood * total_weight:.2f} in total;"
        f"  BIC {_bic(model, X, weights):.2f}"
    )
    status = "converged" if model.converged_ else "did NOT converge"
    lines.append(
        f"EM: {status} in {model.n_iter_} iterations (n_init={model.n_init}, tol={model.tol:g}"
        f"{' on the relative change, as mclust' if getattr(model, 'convergence', 'mean') == 'relative' else ''});"
        f"  time {result.seconds:.2f} s" + (" for all candidates" if result.n_candidates > 1 else "")
    )
    if result.selector is not None and hasattr(result.selector, "cv_results_"):
        # mclust's summary: the top models by BIC, the chosen model's
        # log-likelihood, n, df, BIC, ICL and clustering table, and the
        # singular candidates passed over.
        lines.extend(["", result.selector.summary(), ""])
    if verbose and result.table is not None and result.n_candidates > 1:
        lines.extend(_criterion_lines(result))
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


def _criterion_lines(result: FitResult) -> list[str]:
    lines = [
        "BIC (lower is better; singular fits left blank):",
        f"{'K':>4s}  " + "  ".join(f"{cov:>12s}" for cov in result.table),
    ]
    for i, k in enumerate(result.grid):
        cells = "  ".join(f"{values[i]:12.2f}" for values in result.table.values())
        lines.append(f"{k:>4d}  {cells}")
    return lines

"""The argument parser of the ``skgmm`` command: one sub-command per task."""

from __future__ import annotations

import argparse

from skgmm import __version__
from skgmm.cli._fitting import COVARIANCE_TYPES

_DATA_HELP = "CSV/text, .npy or .parquet file"
_MODEL_HELP = "a model written by `skgmm fit --out`"


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _parse_n_components(value: str) -> str | int:
    if value == "auto":
        return value
    try:
        return _positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {value!r}") from None


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
        choices=("auto", "mclust", *COVARIANCE_TYPES),
        default="auto",
        metavar="auto|mclust|TYPE",
        help="covariance type: full, tied, diag, spherical or one of mclust's names (VEV, EEI, ...), "
        "'auto' to choose among the first four by BIC, or 'mclust' to choose among mclust's 14 "
        "(default: auto)",
    )
    parser.add_argument(
        "--max-components", type=_positive_int, default=9, help="largest K tried by auto (default: 9)"
    )
    parser.add_argument("--n-init", type=_positive_int, default=None, help="EM starts per model (default: 1)")
    parser.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        help="EM iterations at most (default: 100 for one model, 1000 for a grid)",
    )
    parser.add_argument(
        "--tol",
        type=float,
        default=None,
        help="convergence threshold (default: 1e-3 on the mean log-likelihood for one model; "
        "for a grid mclust's 1e-5 on the relative change of the total)",
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed, for reproducible fits (default: 0)"
    )
    parser.add_argument("--out", "-o", metavar="MODEL", help="write the fitted model here (joblib)")
    parser.add_argument("--labels", metavar="FILE", help="write labels and probabilities here (CSV)")


def _add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", "-o", metavar="FILE", help="write to this file instead of standard output")


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
    fit.add_argument("data", metavar="DATA", help=_DATA_HELP)
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
        sub.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
        sub.add_argument("data", metavar="DATA", help=_DATA_HELP)
        sub.add_argument(
            "--columns",
            nargs="+",
            metavar="C",
            help="feature columns (default: those the model was fitted on, else all)",
        )
        _add_output_option(sub)
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
    sample.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    sample.add_argument("n_samples", metavar="N", type=_positive_int, help="number of samples")
    sample.add_argument("--random-state", type=int, default=None, help="seed (default: the model's)")
    _add_output_option(sample)
    parser.subcommands = commands.choices  # their own parsers, for their usage errors (see main)
    return parser

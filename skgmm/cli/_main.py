"""The entry point: parse the arguments, run the command, turn errors into one line and an exit status."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from skgmm.cli._commands import demo, fit, predict, sample, score
from skgmm.cli._errors import CLIError
from skgmm.cli._parser import build_parser

_HANDLERS = {
    "fit": fit.run,
    "demo": demo.run,
    "predict": predict.run,
    "score": score.run,
    "sample": sample.run,
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
        args, extras = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
        if extras:  # reported with the usage of the command they were given to
            command = parser.subcommands.get(args.command, parser)
            command.error(f"unrecognized arguments: {' '.join(extras)}")
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
    except BrokenPipeError:
        # The reader went away (``skgmm predict ... | head``): stop quietly, as Unix tools do.
        # Python would report the failed flush of stdout at exit: point it at devnull.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if args.debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, CLIError | OSError | ValueError):
            message = f"{type(exc).__name__}: {message}"
        print(f"skgmm: error: {message}", file=sys.stderr)
        return 1

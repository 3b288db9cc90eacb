"""The error that the command line reports as one line."""


class CLIError(Exception):
    """An expected failure, reported as one line with exit status 1."""

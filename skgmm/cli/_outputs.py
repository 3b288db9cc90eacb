"""Where results go: standard output or a file, and the CSV of labels and probabilities."""

from __future__ import annotations

import contextlib
import csv
import sys
from typing import TextIO

import numpy as np

from skgmm.cli._errors import CLIError


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


def _write_label_rows(handle: TextIO, labels: np.ndarray, proba: np.ndarray) -> None:
    """CSV rows ``label, proba_0, ..., proba_{K-1}``, with a header.

    Parameters
    ----------
    handle : text stream
        Where to write.
    labels : ndarray of shape (n_samples,)
        The component of each row.
    proba : ndarray of shape (n_samples, n_components)
        The probability of each component for each row.
    """
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["label"] + [f"proba_{k}" for k in range(proba.shape[1])])
    for label, row in zip(labels, proba, strict=True):
        writer.writerow([int(label)] + [f"{p:.6g}" for p in row])


def _write_labels(path: str, model, X: np.ndarray) -> None:
    labels = model.predict(X)
    proba = model.predict_proba(X)
    with _open_output(path) as handle:
        _write_label_rows(handle, labels, proba)

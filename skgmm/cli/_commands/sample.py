"""``skgmm sample MODEL N``: draw N rows from a fitted model, with the component of each, as CSV."""

from __future__ import annotations

import argparse
import csv

from skgmm.cli._models import _load_model
from skgmm.cli._outputs import _open_output


def run(args: argparse.Namespace) -> int:
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

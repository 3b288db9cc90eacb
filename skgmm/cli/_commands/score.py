"""``skgmm score MODEL DATA``: the mean log-likelihood and BIC of a data file, or each row's log-likelihood."""

from __future__ import annotations

import argparse

import numpy as np

from skgmm.cli._models import _load_model, _table_for_model
from skgmm.cli._outputs import _open_output


def run(args: argparse.Namespace) -> int:
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

"""``skgmm predict MODEL DATA``: the component of each row (and with ``--proba`` their probabilities), as CSV."""

from __future__ import annotations

import argparse
import csv

from skgmm.cli._models import _load_model, _table_for_model
from skgmm.cli._outputs import _open_output, _write_label_rows


def run(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    table = _table_for_model(model, args)
    with _open_output(args.out) as handle:
        if args.proba:
            proba = model.predict_proba(table.X)
            _write_label_rows(handle, proba.argmax(axis=1), proba)
        else:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["label"])
            writer.writerows([int(label)] for label in model.predict(table.X))
    return 0

"""GaussianMixtureIC's summary, laid out as R mclust's ``summary(Mclust(...))`` and ``summary(mclustBIC)``.

skgmm's criteria are "lower is better": ``BIC = -2 log L + p log n``, minus
mclust's (which is ``2 log L - p log n``, "higher is better"); the summary
says so.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np


@dataclass
class _Summary:
    criterion: str
    top: list[tuple[str, float]]  # (label, criterion value), best first
    passed_over: list[tuple[str, float, str]]  # singular candidates better than the chosen one
    chosen: str
    covariance_type: str
    n_components: int
    log_likelihood: float
    n: float
    df: int
    bic: float
    icl: float
    aic: float
    sizes: np.ndarray
    all_singular: bool


def _label(k, cov) -> str:
    return f"{cov},{int(k)}"  # mclust writes "VEV,2"


def collect(ic, n_best: int = 3) -> _Summary:
    """What the summary shows, from a fitted GaussianMixtureIC."""
    results = ic.cv_results_
    criterion = ic.criterion
    values = np.asarray(results[criterion], dtype=float)
    excluded = np.asarray(results["excluded"], dtype=object)
    order = np.argsort(results["rank_criterion"], kind="stable")
    labels = [_label(k, c) for k, c in zip(results["param_n_components"], results["param_covariance_type"])]
    best = ic.best_index_
    all_singular = bool(excluded[best])
    sound = [i for i in order if np.isfinite(values[i]) and (all_singular or not excluded[i])]
    top = [(labels[i], float(values[i])) for i in sound[:n_best]]
    passed_over = [
        (labels[i], float(values[i]), str(excluded[i]))
        for i in np.argsort(np.where(np.isfinite(values), values, np.inf), kind="stable")
        if excluded[i] and i != best and np.isfinite(values[i]) and values[i] < values[best]
    ]
    n_components = int(ic.n_components_)
    return _Summary(
        criterion=criterion.upper(),
        top=top,
        passed_over=passed_over,
        chosen=labels[best],
        covariance_type=str(ic.covariance_type_),
        n_components=n_components,
        log_likelihood=float(results["log_likelihood"][best]),
        n=float(ic._n_total),
        df=int(results["n_parameters"][best]),
        bic=float(results["bic"][best]),
        icl=float(results["icl"][best]),
        aic=float(results["aic"][best]),
        sizes=np.asarray(ic._cluster_sizes, dtype=float),
        all_singular=all_singular,
    )


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _model_columns(s: _Summary) -> list[tuple[str, str]]:
    columns = [
        ("log-likelihood", f"{s.log_likelihood:.3f}"),
        ("n", _number(s.n)),
        ("df", str(s.df)),
        ("BIC", f"{s.bic:.4f}"),
        ("ICL", f"{s.icl:.4f}"),
    ]
    if s.criterion == "AIC":
        columns.append(("AIC", f"{s.aic:.4f}"))
    return columns


def _sign_note(s: _Summary) -> str:
    return (
        f"lower is better; mclust's {s.criterion} is minus this"
        if s.criterion != "AIC"
        else "lower is better"
    )


def text(s: _Summary) -> str:
    """The summary as plain text."""
    rule = "-" * 62
    lines = [rule, "Gaussian finite mixture fitted by EM, chosen by " + s.criterion, rule, ""]
    lines.append(f"Top {len(s.top)} models based on the {s.criterion} criterion ({_sign_note(s)}):")
    first = s.top[0][1]
    rows = [
        ("", [label for label, _ in s.top]),
        (s.criterion, [f"{value:.4f}" for _, value in s.top]),
        (f"{s.criterion} diff", [f"{value - first:.4f}" for _, value in s.top]),
    ]
    head = max(len(name) for name, _ in rows)
    widths = [max(len(row[1][j]) for row in rows) for j in range(len(s.top))]
    for name, cells in rows:
        lines.append(f"{name:<{head}} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    lines.append("")
    lines.append(
        f"Chosen model {s.chosen}: {s.covariance_type!r} covariance, "
        f"{s.n_components} component{'s' if s.n_components > 1 else ''}"
    )
    lines.append("")
    columns = _model_columns(s)
    widths = [max(len(name), len(value)) for name, value in columns]
    lines.append(" " + " ".join(f"{name:>{w}}" for (name, _), w in zip(columns, widths)))
    lines.append(" " + " ".join(f"{value:>{w}}" for (_, value), w in zip(columns, widths)))
    lines.append("")
    lines.append("Clustering table:")
    cells = [(str(k), _number(round(size, 6))) for k, size in enumerate(s.sizes)]
    widths = [max(len(a), len(b)) for a, b in cells]
    lines.append(" " + " ".join(f"{a:>{w}}" for (a, _), w in zip(cells, widths)))
    lines.append(" " + " ".join(f"{b:>{w}}" for (_, b), w in zip(cells, widths)))
    if s.all_singular:
        lines.append("")
        lines.append("Every candidate is singular: the chosen model's criterion is spuriously low.")
    if s.passed_over:
        lines.append("")
        lines.append(
            f"Passed over, with a lower {s.criterion} but singular (R's mclust reports no BIC for them):"
        )
        for label, value, reason in s.passed_over:
            lines.append(f"  {label}: {s.criterion} {value:.4f}, {reason}")
    return "\n".join(lines)


def to_html(s: _Summary) -> str:
    """The summary as HTML tables, for notebooks."""
    esc = html.escape

    def table(header, rows, caption):
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        return (
            f"<table class='skgmm-summary'><caption>{esc(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    first = s.top[0][1]
    parts = [
        "<div class='skgmm-summary'>",
        f"<p><b>GaussianMixtureIC</b>: {esc(s.chosen)} ({esc(repr(s.covariance_type))} covariance), "
        f"{s.n_components} component{'s' if s.n_components > 1 else ''}, chosen by {esc(s.criterion)}.</p>",
        table(
            ["model", s.criterion, f"{s.criterion} diff"],
            [[label, f"{value:.4f}", f"{value - first:.4f}"] for label, value in s.top],
            f"Top {len(s.top)} models based on the {s.criterion} criterion ({_sign_note(s)})",
        ),
        table(
            [name for name, _ in _model_columns(s)],
            [[value for _, value in _model_columns(s)]],
            f"Chosen model {s.chosen}",
        ),
        table(
            ["component", *map(str, range(len(s.sizes)))],
            [["size", *(_number(round(size, 6)) for size in s.sizes)]],
            "Clustering table",
        ),
    ]
    if s.passed_over:
        parts.append(
            table(
                ["model", s.criterion, "why"],
                [[label, f"{value:.4f}", reason] for label, value, reason in s.passed_over],
                f"Passed over, with a lower {s.criterion} but singular",
            )
        )
    parts.append("</div>")
    return "".join(parts)

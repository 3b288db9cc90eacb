"""Information criteria (BIC, AIC, ICL) from one E-step's per-row results."""

from __future__ import annotations

import math

import numpy as np


def information_criteria(log_prob_norm, log_resp, n_parameters: int, sample_weight=None) -> dict:
    """Log-likelihood, parameter count, BIC, AIC and ICL of (weighted) rows.

    A row of weight ``w`` counts as ``w`` rows, in the log-likelihood, the
    entropy and the ``log n`` of BIC.  ICL is BIC plus twice the entropy of
    the responsibilities (Biernacki, Celeux & Govaert, 2000).
    """
    log_resp = np.asarray(log_resp, np.float64)
    with np.errstate(under="ignore"):
        resp = np.exp(log_resp)
    # 0 log 0 = 0: rows with no responsibility for a component add nothing.
    entropy_rows = -np.multiply(resp, log_resp, out=np.zeros_like(resp), where=resp > 0).sum(axis=1)
    weights = np.ones(len(log_prob_norm)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    log_likelihood = float(weights @ np.asarray(log_prob_norm, np.float64))
    bic = -2 * log_likelihood + n_parameters * math.log(weights.sum())
    return dict(
        log_likelihood=log_likelihood,
        n_parameters=n_parameters,
        bic=bic,
        aic=-2 * log_likelihood + 2 * n_parameters,
        icl=bic + 2 * float(weights @ entropy_rows),
    )

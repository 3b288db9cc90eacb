"""Passes over the row blocks of an in-memory array: the engine's hot path.

A pass gives each thread's run of blocks (see :class:`~skgmm.engine.threads.BlockRunner`)
to the covariance strategy's block kernels and merges the per-run sufficient
statistics in row order, so results do not depend on timing.  One kernel
serves fitting (:func:`em_pass`), initialisation (:func:`resp_stats`) and
prediction (:func:`estimate`).
"""

from __future__ import annotations

import functools

import numpy as np

from skgmm.covariance.kernels import kmeans_kernels
from skgmm.covariance.kernels.fused import FUSED_MAX_FEATURES
from skgmm.engine.logsumexp import normalise
from skgmm.engine.mstep import MixtureParams, PassKernel, prepare_pass
from skgmm.engine.stats import SufficientStats, merge_stats
from skgmm.engine.threads import BlockRunner

#: Values (rows x features) of the chunks of rows :func:`labelled_stats` gathers.
LABELLED_CHUNK_VALUES = 2**18


def _accumulate(pk: PassKernel, X, sample_weight, blocks, block_sums) -> SufficientStats:
    """Sum ``block_sums(block, X_block, weights)`` over blocks into centred statistics.

    ``block_sums`` returns ``(log_likelihood, raw)``; the raw sums are the
    strategy's own, added in float64 and mapped to centred statistics once.
    """
    if len(blocks) == 1 and blocks[0].start == 0 and blocks[0].stop == len(X):
        # The whole array in one block (small data): no slicing, no copies.
        log_likelihood, raw = block_sums(blocks[0], X, sample_weight)
        weight_sum = float(
            len(X) if sample_weight is None else np.add.reduce(sample_weight, dtype=np.float64)
        )
        if pk.kernel.fused is None:  # (the fused kernel's sums are float64 already)
            raw = [np.asarray(a, np.float64) for a in raw]
        return _statistics(pk, raw, log_likelihood, weight_sum, len(X))
    log_likelihood, weight_sum, n_rows = 0.0, 0.0, 0
    totals = None
    for block in blocks:
        X_block = X[block]
        weights = None if sample_weight is None else sample_weight[block]
        block_ll, raw = block_sums(block, X_block, weights)
        log_likelihood += block_ll
        n_rows += len(X_block)
        weight_sum += float(len(X_block) if weights is None else weights.sum(dtype=np.float64))
        if totals is None:
            # Copied only when other blocks add to them: the raw sums may be
            # views of the thread's scratch buffers (finish_sums returns new arrays).
            copy = len(blocks) > 1
            totals = [np.array(a, dtype=np.float64) if copy else np.asarray(a, np.float64) for a in raw]
        else:
            for total, value in zip(totals, raw):
                total += value
    return _statistics(pk, totals, log_likelihood, weight_sum, n_rows)


def _statistics(pk: PassKernel, raw, log_likelihood, weight_sum, n_rows) -> SufficientStats:
    """The centred statistics of a pass's summed raw sums."""
    resp_sum, resp_x_sum, scatter = pk.model.statistics(pk.kernel, tuple(raw))
    return SufficientStats(
        resp_sum=resp_sum,
        resp_x_sum=resp_x_sum,
        scatter=scatter,
        shift=np.add(pk.kernel.means_c, pk.origin, dtype=np.float64),
        log_likelihood=log_likelihood,
        weight_sum=weight_sum,
        scatter_kind=pk.model.scatter_kind,
        n_rows=n_rows,
    )


def _merged(results) -> SufficientStats:
    return results[0] if len(results) == 1 else functools.reduce(merge_stats, results)


def em_stats(pk: PassKernel, X, sample_weight, blocks, work: dict) -> SufficientStats:
    """Fused E-step and statistics of the row blocks ``blocks`` of ``X`` (one thread's run)."""

    def block_sums(block, X_block, weights):
        return pk.model.em_block_sums(pk.kernel, X_block, pk.origin, pk.log_weights, weights, work)

    return _accumulate(pk, X, sample_weight, blocks, block_sums)


def em_pass(runner: BlockRunner, X, sample_weight, pk: PassKernel) -> SufficientStats:
    """One EM iteration's fused pass: log-likelihood and statistics of all rows."""
    if len(runner.slices) == 1:  # one block, in the calling thread (small data: every call counts)
        return em_stats(pk, X, sample_weight, runner.slices, runner.work_for(runner.slices))
    return _merged(runner.map(lambda blocks: em_stats(pk, X, sample_weight, blocks, runner.work_for(blocks))))


def dense_resp(resp, block, n_components, dtype):
    """Dense responsibilities of a block from labels (one-hot; -1 = none) or an array."""
    if resp.ndim == 2:
        return np.asarray(resp[block], dtype)
    labels = resp[block]
    dense = np.zeros((len(labels), n_components), dtype=dtype)
    rows = np.flatnonzero(labels >= 0)
    dense[rows, labels[rows]] = 1
    return dense


def resp_stats(runner: BlockRunner, X, sample_weight, resp, model, n_components) -> SufficientStats:
    """Statistics of given responsibilities (labels or dense), centred exactly on their means.

    Two passes: the first finds the means, the second centres on them.
    Labels are summed per label where that costs less (:func:`_sum_per_label`,
    :func:`labelled_stats`): a row then costs one component's products, not
    ``n_components``'.
    """
    n_features = X.shape[1]
    dtype = X.dtype
    identity = model.identity_precisions_cholesky(n_components, n_features, dtype)

    def kernel_at(means):
        return prepare_pass(model, MixtureParams(np.ones(n_components), means, None, identity), dtype)

    first_pk = kernel_at(np.zeros((n_components, n_features)))
    if resp.ndim == 1 and _sum_per_label(first_pk.kernel.fused, n_features, model.scatter_kind):
        return labelled_stats(X, sample_weight, resp, n_components, model.scatter_kind)

    def one_pass(means, pk=None):
        pk = kernel_at(means) if pk is None else pk

        def block_sums(block, X_block, weights, work):
            wresp = dense_resp(resp, block, n_components, X_block.dtype)
            if weights is not None:
                wresp = wresp * weights[:, None]  # not in place: resp may be the caller's
            raw = model.resp_sums(pk.kernel, X_block, pk.origin, wresp, weights, work)
            return 0.0, raw

        def run(blocks):
            work = runner.work_for(blocks)
            return _accumulate(pk, X, sample_weight, blocks, lambda b, X_b, w: block_sums(b, X_b, w, work))

        return _merged(runner.map(run))

    first = one_pass(None, first_pk)
    means = first.shift + first.resp_x_sum / np.maximum(first.resp_sum, np.finfo(np.float64).tiny)[:, None]
    return one_pass(means)


def _sum_per_label(fused, n_features, scatter_kind) -> bool:
    """Whether :func:`resp_stats` sums hard labels per label rather than as one-hot responsibilities.

    Per label where the compiled per-label moments of a diagonal scatter are
    built (:func:`labelled_stats`: one pass, 5x less than the fused kernel's
    at 100k x 16, K=8).  Otherwise per label unless the strategy's kernel is
    the fused one of few features or of a diagonal scatter, whose compiled
    pass over every component costs less (measured, 2 cores: at 100k rows, K=8
    and d=4 or 8, 1.3-2x less; with d=16 'diag', 1.5x less; with d=10 or 16
    'full', 1.6-1.8x more).
    """
    if scatter_kind == "diag" and kmeans_kernels() is not None:
        return True
    return fused is None or (fused.scatter_kind != "diag" and n_features > FUSED_MAX_FEATURES)


def labelled_stats(X, sample_weight, labels, n_components, scatter_kind) -> SufficientStats:
    """:func:`resp_stats` of hard labels (-1: a row of no component), summed per label in float64.

    The rows of each label are gathered a chunk at a time (no copy of X)
    and summed by one product per chunk, ``[x - s, 1]^T W [x - s, 1]``,
    centred on the mean ``s`` of the label's first chunk (the M-step
    corrects for the rest exactly; ``s`` is the label's mean wherever one
    chunk holds its rows).  A diagonal scatter of float data is summed by one
    compiled pass instead where the kernels are built
    (:func:`skgmm._kmeans_kernels.label_moments`: each label centred on its
    own mean).
    """
    n_samples = X.shape[0]
    kernels = kmeans_kernels()
    if scatter_kind == "diag" and kernels is not None and X.dtype in (np.float64, np.float32):
        resp_sum, shift, scatter = kernels.label_moments(
            X, sample_weight, labels.astype(np.int64, copy=False), n_components
        )
        x_sum = np.zeros_like(shift)  # centred on the means themselves
    else:
        resp_sum, x_sum, scatter, shift = _labelled_sums(X, sample_weight, labels, n_components, scatter_kind)
    return SufficientStats(
        resp_sum=resp_sum,
        resp_x_sum=x_sum,
        scatter=scatter,
        shift=shift,
        log_likelihood=0.0,
        weight_sum=float(
            n_samples if sample_weight is None else np.add.reduce(sample_weight, dtype=np.float64)
        ),
        scatter_kind=scatter_kind,
        n_rows=n_samples,
    )


def _labelled_sums(X, sample_weight, labels, n_components, scatter_kind):
    """``(resp_sum, x_sum, scatter, shift)`` of :func:`labelled_stats`, gathered and summed in numpy."""
    n_features = X.shape[1]
    # labels of fewer than 2**15 components sort by radix (6x faster than intp's sort)
    small = n_components < 2**15
    order = np.argsort(labels.astype(np.int16) if small else labels, kind="stable")
    ends = np.cumsum(np.bincount(labels + 1, minlength=n_components + 1))  # label k: ends[k]:ends[k + 1]
    chunk = min(max(1024, LABELLED_CHUNK_VALUES // max(n_features, 1)), max(max(np.diff(ends), default=1), 1))
    extended = np.ones((chunk, n_features + 1))  # [x - s, 1]
    d = n_features
    diagonal = scatter_kind == "diag"
    # per label, about its shift: [x - s, 1]^T W [x - s, 1], or its last row and the squares
    sums = np.zeros((n_components, d + 1) if diagonal else (n_components, d + 1, d + 1))
    squares = np.zeros((n_components, d)) if diagonal else None
    shift = np.zeros((n_components, d))
    for k in range(n_components):
        for a in range(ends[k], ends[k + 1], chunk):
            indices = order[a : min(a + chunk, ends[k + 1])]
            m = len(indices)
            rows = X.take(indices, axis=0)  # (numpy's take is slower into a given array)
            if a == ends[k]:
                shift[k] = (extended[:m, d] @ rows) / m
            block = extended[:m]
            np.subtract(rows, shift[k], out=block[:, :d], casting="unsafe")
            weighted = block
            if sample_weight is not None:
                weighted = block * np.asarray(sample_weight[indices], np.float64)[:, None]
            if diagonal:
                sums[k] += weighted.T @ block[:, d]
                squares[k] += np.einsum("ij,ij->j", weighted[:, :d], block[:, :d])
            else:
                sums[k] += weighted.T @ block
    moments = sums if diagonal else sums[:, d]  # [sum w (x - s), sum w]
    resp_sum, x_sum = moments[:, d].copy(), moments[:, :d].copy()
    if diagonal:
        scatter = squares
    elif scatter_kind == "full":
        scatter = sums[:, :d, :d].copy()
    else:
        scatter = np.add.reduce(sums[:, :d, :d], axis=0)
    return resp_sum, x_sum, scatter, shift


def estimate(runner: BlockRunner, X, pk: PassKernel, want="log_resp"):
    """Per-row log-likelihood and, as asked, log-responsibilities or labels.

    Parameters
    ----------
    want : {'log_resp', 'labels', None}

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
        With ``want='labels'``, each row's largest weighted log-density
        instead (no log-sum-exp): ``-inf`` exactly where the log-likelihood
        is, NaN where it is, which is all that callers of labels check.
    extra : ndarray of shape (n_samples, n_components) or (n_samples,) or None
    """
    n_samples = X.shape[0]
    n_components = pk.log_weights.shape[0]
    log_prob_norm = np.empty(n_samples, dtype=X.dtype)
    if want == "log_resp":
        extra = np.empty((n_samples, n_components), dtype=X.dtype)
    elif want == "labels":
        extra = np.empty(n_samples, dtype=np.intp)
    else:
        extra = None

    model, kernel, origin, log_weights = pk.model, pk.kernel, pk.origin, pk.log_weights

    def run(blocks):
        work = runner.work_for(blocks)
        for block in blocks:
            if want == "labels":
                # the label's term, not the log-sum-exp: see the docstring
                extra[block], log_prob_norm[block] = model.block_labels(
                    kernel, X[block], origin, log_weights, work
                )
            elif want is None:
                log_prob_norm[block] = model.block_log_likelihood(kernel, X[block], origin, log_weights, work)
            else:
                weighted = model.weighted_log_prob_block(kernel, X[block], origin, log_weights, work)
                # component-major blocks reduce over components along contiguous rows
                axis, by_axis = (0, weighted.T) if weighted.T.flags.c_contiguous else (1, weighted)
                log_prob_norm[block] = normalise(by_axis, axis)
                extra[block] = weighted

    runner.map(run)
    return log_prob_norm, extra

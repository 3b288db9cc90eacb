"""'tied': all components share one general covariance matrix (mclust's EEE)."""

from __future__ import annotations

import numpy as np

from skgmm.covariance.base import (
    LOG_2PI,
    CovarianceModel,
    Kernel,
    check_symmetric_positive_definite,
    cholesky_precisions,
    covariance_cholesky,
    shift_correction,
    upper_cholesky_of_precisions,
    work_buffers,
)
from skgmm.covariance.kernels.fused import centred_scatter, fused_kernel


class TiedCovariance(CovarianceModel):
    """All components share one general covariance matrix.

    One whitening product serves every component; the log-densities are then
    one product of ``[y, |y|^2, 1]`` with ``[m_k, -1/2, c_k]``.  That expanded
    square cancels ``|y|^2`` against ``|m_k|^2``, so it is formed in float64
    whatever the data's dtype: in float32 a cluster 1e4 standard deviations
    from the mixture mean would lose about a nat.
    """

    name = "tied"
    scatter_kind = "tied"
    shared = True

    def covariance_shape(self, n_components, n_features):
        return (n_features, n_features)

    def n_covariance_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def prepare(self, means_c, precisions_cholesky, dtype):
        prec_chol = np.asarray(precisions_cholesky, dtype=np.float64)
        log_det = np.add.reduce(np.log(prec_chol.diagonal()))
        n_components, n_features = means_c.shape
        fused = fused_kernel(
            "tied",
            np.broadcast_to(prec_chol, (n_components, n_features, n_features)),
            n_features,
            diagonal=False,
            dtype=dtype,
        )
        if fused is not None:
            return Kernel(means_c=means_c, arrays={}, fused=fused)
        # coef = [m_k, -1/2, c_k] with m_k the whitened means, filled in place
        coef = np.empty((n_components, n_features + 2))
        white_means = np.matmul(np.asarray(means_c, np.float64), prec_chol, out=coef[:, :n_features])
        coef[:, n_features] = -0.5
        quadratic = np.add.reduce(np.square(white_means), axis=1)
        coef[:, n_features + 1] = log_det - 0.5 * n_features * LOG_2PI - 0.5 * quadratic
        return Kernel(means_c=means_c, arrays={"whiten": prec_chol, "coef": coef})

    def block_log_densities(self, kernel, X_block, origin, log_weights, work):
        """Centred rows ``[x - o, 1]`` and weighted log-densities (K, n_rows), float64."""
        n_rows, n_features = X_block.shape
        coef = kernel.arrays["coef"]
        n_components = coef.shape[0]

        def make():
            features = np.empty((n_rows, n_features + 2))
            features[:, n_features + 1] = 1
            centred = np.empty((n_rows, n_features + 1))
            centred[:, n_features] = 1
            return features, centred, np.empty((n_components, n_rows))

        features, centred, log_prob = work_buffers(work, ("tied", n_rows), make)
        Xc = centred[:, :n_features]
        np.subtract(X_block, origin, out=Xc)
        whitened = features[:, :n_features]
        np.matmul(Xc, kernel.arrays["whiten"], out=whitened)
        np.einsum("bd,bd->b", whitened, whitened, out=features[:, n_features])
        np.matmul(coef, features.T, out=log_prob)
        log_prob += np.asarray(log_weights, np.float64)[:, None]
        return centred, log_prob

    def block_sums(self, kernel, centred, resp, sample_weight):
        # [sum r (x - o), sum r] in one product, and the total scatter about the
        # origin o: moved onto the means once per pass (finish_sums).
        x_sum = np.asarray(resp, np.float64) @ centred
        Xc = centred[:, :-1]
        weighted = Xc if sample_weight is None else Xc * np.asarray(sample_weight, np.float64)[:, None]
        return x_sum, weighted.T @ Xc

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        n_rows, n_features = X_block.shape

        def make():
            centred = np.empty((n_rows, n_features + 1))
            centred[:, n_features] = 1
            return centred

        centred = work_buffers(work, ("tied-resp", n_rows), make)
        np.subtract(X_block, origin, out=centred[:, :n_features])
        return self.block_sums(kernel, centred, np.asarray(wresp).T, sample_weight)

    def finish_sums(self, kernel, raw):
        x_sum_and_count, total = raw
        means_c = kernel.means_c.astype(np.float64)
        nk = x_sum_and_count[:, -1]
        x_sum = x_sum_and_count[:, :-1]
        cross = x_sum.T @ means_c
        scatter = total - cross - cross.T + means_c.T @ (means_c * nk[:, None])
        return nk, x_sum - nk[:, None] * means_c, scatter

    def estimate_covariances(self, stats, nk, reg_covar):
        small = centred_scatter(
            stats, nk, np.add.reduce(nk, keepdims=True), reg_covar
        )  # in one compiled call
        if small is not None:
            return small
        a, factor = shift_correction(stats, nk)
        covariance = (stats.scatter - (a.T * factor) @ a) / nk.sum()
        covariance = 0.5 * (covariance + covariance.T)
        covariance[np.diag_indices_from(covariance)] += reg_covar
        return covariance

    def compute_precisions_cholesky(self, covariances):
        covariances = np.asarray(covariances)
        return cholesky_precisions(covariances[None].astype(np.float64), covariances.dtype)[0]

    def precisions_cholesky_from_precisions(self, precisions):
        return upper_cholesky_of_precisions(precisions)

    def compute_precisions(self, precisions_cholesky):
        return precisions_cholesky @ precisions_cholesky.T

    def covariances_from_precisions_cholesky(self, precisions_cholesky):
        cov_chol = covariance_cholesky(np.asarray(precisions_cholesky, np.float64)[None])[0]
        return cov_chol @ cov_chol.T

    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        return np.eye(n_features, dtype=dtype)

    def dense_covariances(self, covariances, n_components, n_features):
        covariances = np.asarray(covariances, np.float64)
        return np.broadcast_to(covariances, (n_components, *covariances.shape))

    def check_precisions(self, precisions):
        check_symmetric_positive_definite(precisions, self.name)

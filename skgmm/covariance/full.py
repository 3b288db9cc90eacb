"""'full': each component has its own general covariance matrix (mclust's VVV)."""

from __future__ import annotations

import numpy as np

from skgmm.covariance.base import (
    LOG_2PI,
    CovarianceModel,
    Kernel,
    add_to_diagonals,
    check_symmetric_positive_definite,
    cholesky_precisions,
    covariance_cholesky,
    scatter_about_means,
    upper_cholesky_of_precisions,
)
from skgmm.covariance.kernels import compiled_kernels
from skgmm.covariance.kernels.full import (
    shared_rows_of_table,
    weighted_log_prob_into,
    white_sums,
    whiten_block,
    whitening_bounds,
    whitening_slices,
)
from skgmm.covariance.kernels.fused import centred_scatter, fused_kernel


class FullCovariance(CovarianceModel):
    """Each component has its own general covariance matrix."""

    name = "full"
    scatter_kind = "full"

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def prepare(self, means_c, precisions_cholesky, dtype):
        prec_chol = np.asarray(precisions_cholesky, dtype=np.float64)
        n_components, n_features = means_c.shape
        fused = fused_kernel(self.scatter_kind, prec_chol, n_features, diagonal=False, dtype=dtype)
        if fused is not None:
            return Kernel(means_c=means_c, arrays={}, fused=fused)
        log_det = np.add.reduce(np.log(prec_chol.diagonal(axis1=1, axis2=2)), axis=1)
        # [-mu_k L_k; L_k]^T, so that [1, x - o] @ its transpose = (x - mu_k) L_k
        whiten_aug = np.empty((n_components, n_features + 1, n_features))
        np.matmul(np.asarray(means_c, np.float64)[:, None, :], prec_chol, out=whiten_aug[:, :1])
        np.negative(whiten_aug[:, 0], out=whiten_aug[:, 0])
        whiten_aug[:, 1:] = prec_chol
        compiled = compiled_kernels()
        bounds = whitening_bounds(n_features, compiled is not None)
        return Kernel(
            means_c=means_c,
            arrays={
                "bounds": bounds,
                "whiten_slices": whitening_slices(whiten_aug.transpose(0, 2, 1), bounds, dtype),
                # with the compiled kernels: where each (component, feature) row is
                "rows_of": None
                if compiled is None
                else shared_rows_of_table(bounds, n_components, compiled.TILE),
                "cov_chol": covariance_cholesky(prec_chol),
                "constant": (log_det - 0.5 * n_features * LOG_2PI).astype(dtype, copy=False),
            },
        )

    def block_log_densities(self, kernel, X_block, origin, log_weights, work):
        block = whiten_block(kernel, X_block, origin, work)
        weighted_log_prob_into(kernel, block, log_weights)
        return block, block.resp

    def block_sums(self, kernel, block, resp, sample_weight):
        resp_sum = np.add.reduce(resp, axis=1, dtype=np.float64)
        white_sum, scatter = white_sums(kernel, block, resp)
        return resp_sum, np.asarray(white_sum, np.float64), np.asarray(scatter, np.float64)

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        block = whiten_block(kernel, X_block, origin, work)
        block.resp[...] = wresp.T
        return self.block_sums(kernel, block, block.resp, sample_weight)

    def finish_sums(self, kernel, raw):
        # x - mu = y C^T with C the covariance Cholesky factor (C = L^-T).
        resp_sum, white_sum, white_scatter = raw
        cov_chol = kernel.arrays["cov_chol"]
        resp_x_sum = np.matmul(cov_chol, white_sum[:, :, None])[:, :, 0]
        scatter = np.matmul(np.matmul(cov_chol, white_scatter), cov_chol.transpose(0, 2, 1))
        return resp_sum, resp_x_sum, scatter

    def estimate_covariances(self, stats, nk, reg_covar):
        small = centred_scatter(stats, nk, nk, reg_covar)  # all of it in one compiled call
        if small is not None:
            return small
        covariances = scatter_about_means(stats, nk)
        covariances /= nk[:, None, None]
        add_to_diagonals(covariances, reg_covar)
        return covariances

    def compute_precisions_cholesky(self, covariances):
        return cholesky_precisions(np.asarray(covariances, np.float64), covariances.dtype)

    def precisions_cholesky_from_precisions(self, precisions):
        return upper_cholesky_of_precisions(precisions)

    def compute_precisions(self, precisions_cholesky):
        return np.matmul(precisions_cholesky, precisions_cholesky.transpose(0, 2, 1))

    def covariances_from_precisions_cholesky(self, precisions_cholesky):
        cov_chol = covariance_cholesky(np.asarray(precisions_cholesky, np.float64))
        return np.matmul(cov_chol, cov_chol.transpose(0, 2, 1))

    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        return np.broadcast_to(np.eye(n_features, dtype=dtype), (n_components, n_features, n_features))

    def dense_covariances(self, covariances, n_components, n_features):
        return np.asarray(covariances, np.float64)

    def check_precisions(self, precisions):
        check_symmetric_positive_definite(precisions, self.name)

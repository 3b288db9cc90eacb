"""'diag' and 'spherical': per-component diagonal covariances (mclust's VVI and VII)."""

from __future__ import annotations

import math

import numpy as np

from skgmm.covariance.base import (
    LOG_2PI,
    CovarianceModel,
    Kernel,
    degenerate_covariance_message,
    diagonal_scatter_about_means,
    work_buffers,
)
from skgmm.covariance.kernels.fused import fused_kernel


class DiagCovariance(CovarianceModel):
    """Each component has its own diagonal covariance matrix.

    The log-densities of all components are one product of ``[x^2, x, 1]``
    (centred on the mixture mean) with ``[-p/2, p mu, c]``, and the same
    features give ``[sum r x^2, sum r x, sum r]`` in one more product.  The
    expanded square cancels ``x^2`` against ``mu^2``, so both products are
    formed in float64 whatever the data's dtype (in float32, clusters 1e4
    standard deviations apart would lose about a nat).
    """

    name = "diag"
    scatter_kind = "diag"

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components * n_features

    def _precisions_per_feature(self, precisions_cholesky, n_features):
        return np.asarray(precisions_cholesky, dtype=np.float64) ** 2

    def _log_det(self, precisions_cholesky, n_features):
        return np.add.reduce(np.log(np.asarray(precisions_cholesky, np.float64)), axis=1)

    def prepare(self, means_c, precisions_cholesky, dtype):
        n_components, n_features = means_c.shape
        factors = np.asarray(precisions_cholesky, np.float64).reshape(n_components, -1)
        if factors.shape[1] != n_features:  # 'spherical': one factor per component
            factors = np.repeat(factors, n_features, axis=1)
        fused = fused_kernel("diag", factors, n_features, diagonal=True, dtype=dtype)
        if fused is not None:
            return Kernel(means_c=means_c, arrays={}, fused=fused)
        log_det = self._log_det(precisions_cholesky, n_features)
        precisions = self._precisions_per_feature(precisions_cholesky, n_features)  # (K, d) or (K, 1)
        means64 = np.asarray(means_c, np.float64)
        # log densities = [x^2, x, 1] @ coef.T, coef = [-p/2, p mu, c], filled in place
        coef = np.empty((n_components, 2 * n_features + 1))
        np.multiply(-0.5, precisions, out=coef[:, :n_features])
        np.multiply(means64, precisions, out=coef[:, n_features : 2 * n_features])
        quadratic = np.add.reduce(np.square(means64) * precisions, axis=1)
        constant = np.subtract(log_det, 0.5 * n_features * LOG_2PI, out=coef[:, 2 * n_features])
        constant -= 0.5 * quadratic
        return Kernel(means_c=means_c, arrays={"coef": coef})

    @staticmethod
    def _features(X_block, origin, work, key):
        """``[x^2, x, 1]`` of the centred rows, float64, in the thread's buffer."""
        n_rows, n_features = X_block.shape

        def make():
            features = np.empty((n_rows, 2 * n_features + 1))
            features[:, 2 * n_features] = 1
            return features

        features = work_buffers(work, (key, n_rows), make)
        Xc = features[:, n_features : 2 * n_features]
        np.subtract(X_block, origin, out=Xc)
        np.square(Xc, out=features[:, :n_features])
        return features

    def block_log_densities(self, kernel, X_block, origin, log_weights, work):
        coef = kernel.arrays["coef"]
        features = self._features(X_block, origin, work, "diag")
        log_prob = work_buffers(
            work, ("diag-log-prob", len(X_block)), lambda: np.empty((len(coef), len(X_block)))
        )
        np.matmul(coef, features.T, out=log_prob)
        log_prob += np.asarray(log_weights, np.float64)[:, None]
        return features, log_prob

    def block_sums(self, kernel, features, resp, sample_weight):
        # Sums about the origin, moved onto the means once per pass (finish_sums).
        return (resp @ features,)

    def resp_block_sums(self, kernel, X_block, origin, wresp, sample_weight, work):
        features = self._features(X_block, origin, work, "diag-resp")
        return (np.asarray(wresp, np.float64).T @ features,)

    def finish_sums(self, kernel, raw):
        # raw: [sum r x^2, sum r x, sum r] about the origin, per component
        (moments,) = raw
        n_features = kernel.means_c.shape[1]
        means_c = kernel.means_c.astype(np.float64)
        xx_sum = moments[:, :n_features]
        x_sum = moments[:, n_features : 2 * n_features]
        nk = moments[:, 2 * n_features]
        scatter = xx_sum - 2 * means_c * x_sum + nk[:, None] * means_c**2
        return nk, x_sum - nk[:, None] * means_c, scatter

    def _diagonal_variances(self, stats, nk, reg_covar):
        variances = diagonal_scatter_about_means(stats, nk) / nk[:, None]
        # Rounding can leave -eps where the true variance is 0 (scikit-learn #30382).
        return np.maximum(variances, 0.0) + reg_covar

    def estimate_covariances(self, stats, nk, reg_covar):
        return self._diagonal_variances(stats, nk, reg_covar)

    def compute_precisions_cholesky(self, covariances):
        covariances = np.asarray(covariances)
        # The usual case in two reductions; the components are looked for only when it fails.
        if np.minimum.reduce(covariances, axis=None) > 0 and math.isfinite(
            np.add.reduce(covariances, axis=None)
        ):
            return 1.0 / np.sqrt(covariances)
        flat = covariances.reshape(len(covariances), -1)
        bad = np.flatnonzero(~(np.isfinite(flat) & (flat > 0)).all(axis=1))
        if bad.size:
            raise ValueError(degenerate_covariance_message(bad, covariances.dtype))
        return 1.0 / np.sqrt(covariances)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def compute_precisions(self, precisions_cholesky):
        return precisions_cholesky**2

    def covariances_from_precisions_cholesky(self, precisions_cholesky):
        return 1.0 / np.asarray(precisions_cholesky, np.float64) ** 2

    def identity_precisions_cholesky(self, n_components, n_features, dtype):
        return np.ones(self.covariance_shape(n_components, n_features), dtype=dtype)

    def component_variances(self, covariances, n_components, n_features):
        covariances = np.asarray(covariances, np.float64).reshape(n_components, -1)
        return np.broadcast_to(covariances, (n_components, n_features))

    def dense_covariances(self, covariances, n_components, n_features):
        return self.component_variances(covariances, n_components, n_features)[:, :, None] * np.eye(
            n_features
        )

    def check_precisions(self, precisions):
        if np.any(np.asarray(precisions) <= 0.0):
            raise ValueError(
                f"'{self.name} precision' should be positive; check precisions_init (it holds inverse variances)."
            )

    def sample(self, rng, means, covariances, counts):
        n_components, n_features = means.shape
        scales = np.sqrt(self.component_variances(covariances, n_components, n_features))
        return np.vstack(
            [
                mean + rng.standard_normal(size=(int(count), n_features)) * scale
                for mean, scale, count in zip(means, scales, counts)
            ]
        )


class SphericalCovariance(DiagCovariance):
    """Each component has its own single variance."""

    name = "spherical"

    def covariance_shape(self, n_components, n_features):
        return (n_components,)

    def n_covariance_parameters(self, n_components, n_features):
        return n_components

    def _precisions_per_feature(self, precisions_cholesky, n_features):
        return np.asarray(precisions_cholesky, dtype=np.float64)[:, None] ** 2

    def _log_det(self, precisions_cholesky, n_features):
        return n_features * np.log(np.asarray(precisions_cholesky, np.float64))

    def estimate_covariances(self, stats, nk, reg_covar):
        return self._diagonal_variances(stats, nk, reg_covar).mean(axis=1)

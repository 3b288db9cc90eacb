"""The feature moments of the data-scale check: the compiled pass against numpy's blocks."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skgmm.engine import degenerate


@pytest.fixture
def compiled():
    kernels = degenerate.kmeans_kernels()
    if kernels is None:
        pytest.skip(
            "compares the compiled pass with numpy's: the C kernels were not built or are switched off"
        )
    return kernels


def _numpy_moments(X, weights, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(degenerate, "kmeans_kernels", lambda: None)
        return degenerate.feature_variances(X, weights)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("weights", ["none", "positive", "with zeros"])
@pytest.mark.parametrize("n_samples", [1, 511, 5000])
def test_compiled_moments_are_numpys(compiled, dtype, layout, weights, n_samples, monkeypatch):
    rng = np.random.RandomState(n_samples)
    X = (rng.normal(size=(n_samples, 5)) * [1.0, 1e-3, 1e3, 1.0, 0.0] + [0.0, 1e4, -5.0, 0.0, 7.0]).astype(
        dtype
    )
    X = np.asarray(X, order=layout)
    w = None
    if weights != "none":
        w = rng.uniform(0.5, 2.0, size=n_samples)
        if weights == "with zeros":
            w[: n_samples // 2] = 0.0  # whole blocks of weight 0
    mean, variance, spread = degenerate.feature_variances(X, w)
    expected = _numpy_moments(X, w, monkeypatch)
    scale = np.abs(X).max(axis=0).astype(np.float64)
    # both sum in float64, in blocks of different sizes: n eps of each feature's magnitude
    eps = np.finfo(np.float64).eps
    assert_allclose(mean, expected[0], rtol=0, atol=10 * n_samples * eps * scale.max())
    assert_allclose(
        variance, expected[1], rtol=10 * n_samples * eps, atol=10 * n_samples * eps * scale.max() ** 2
    )
    assert_allclose(spread, expected[2], rtol=0, atol=10 * n_samples * eps * scale.max())
    assert_array_equal(variance[4], 0.0)  # a constant feature


def test_missing_values_and_overflow_take_numpys_blocks(compiled, monkeypatch):
    X = np.random.RandomState(0).normal(size=(700, 3))
    X[5, 1] = np.nan
    got = degenerate.feature_variances(X)
    assert_array_equal(np.isnan(got[0]), False)  # NaN is left out of its feature's sums
    for a, b in zip(got, _numpy_moments(X, None, monkeypatch)):
        assert_array_equal(a, b)
    X = np.random.RandomState(0).normal(size=(700, 2)) * 1e200  # squares overflow
    got = degenerate.feature_variances(X)
    assert np.all(np.isinf(got[1]))
    for a, b in zip(got, _numpy_moments(X, None, monkeypatch)):
        assert_array_equal(a, b)

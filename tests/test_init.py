"""Initialisers: scikit-learn's draws, and the hierarchical (mclust) start."""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score

import skgmm._init as init_module
from skgmm import GaussianMixtureEM
from skgmm._init import INITIALISERS, hierarchical_partitions, init_hierarchical

from .conftest import mixture_10d

FIXTURES = Path(__file__).parent / "fixtures" / "mclust_hc"


def test_kmeans_initialisers_draw_as_sklearn():
    X, _ = mixture_10d(n_samples=300)
    labels = INITIALISERS["kmeans"](X, None, 4, np.random.RandomState(3))
    ref = KMeans(n_clusters=4, n_init=1, random_state=np.random.RandomState(3)).fit(X).labels_
    assert_array_equal(labels, ref)
    labels = INITIALISERS["k-means++"](X, None, 4, np.random.RandomState(3))
    _, indices = kmeans_plusplus(X, 4, random_state=np.random.RandomState(3))
    assert_array_equal(np.flatnonzero(labels >= 0), np.sort(indices))
    assert_array_equal(labels[indices], np.arange(4))


def test_registry_lists_hierarchical_for_the_estimator():
    assert INITIALISERS["hierarchical"] is init_hierarchical
    X = load_iris().data
    gm = GaussianMixtureEM(3, init_params="hierarchical").fit(X)
    assert gm.converged_


@pytest.mark.parametrize("n_components", [1, 2, 3, 7])
def test_hierarchical_labels_every_row_into_nonempty_clusters(n_components):
    X, _ = mixture_10d(n_samples=200)
    labels = init_hierarchical(X, None, n_components, np.random.RandomState(0))
    assert labels.shape == (200,) and labels.dtype == np.intp
    assert_array_equal(np.unique(labels), np.arange(n_components))


def test_hierarchical_is_mclusts_start():
    """Reference: mclust's hclass(hc(X, "VVV", use = "SVD"), K) (tests/fixtures/mclust_hc)."""
    fixture = json.loads((FIXTURES / "iris.json").read_text())
    X = np.asarray(fixture["x"])
    assert_allclose(X, load_iris().data)
    partitions = hierarchical_partitions(X, None, range(1, 10), np.random.RandomState(0))
    for k in range(1, 10):
        assert_array_equal(partitions[k], np.asarray(fixture["partitions"])[:, k - 1])


def test_hierarchical_partitions_are_nested_cuts_of_one_tree():
    X, _ = mixture_10d(n_samples=150)
    partitions = hierarchical_partitions(X, None, range(1, 8), np.random.RandomState(0))
    assert sorted(partitions) == list(range(1, 8))
    for k in range(1, 7):
        coarse, fine = partitions[k], partitions[k + 1]
        # every cluster of the finer cut lies inside one cluster of the coarser cut
        for label in range(k + 1):
            assert len(np.unique(coarse[fine == label])) == 1
        assert_array_equal(partitions[k + 1], init_hierarchical(X, None, k + 1, np.random.RandomState(0)))


def test_hierarchical_does_not_depend_on_units():
    """Standardised variables do not change when features are shifted or rescaled."""
    X, _ = mixture_10d(n_samples=150, seed=2)
    units = np.logspace(-3, 3, 10)
    for n_components in (2, 4):
        labels = init_hierarchical(X, None, n_components, np.random.RandomState(0))
        moved = init_hierarchical(X * units + 3.0, None, n_components, np.random.RandomState(0))
        assert adjusted_rand_score(labels, moved) == pytest.approx(1.0)


def test_hierarchical_subset_and_weights(monkeypatch):
    monkeypatch.setattr(init_module, "HIERARCHICAL_SUBSET", 60)
    X, _ = mixture_10d(n_samples=200)
    weights = np.ones(200)
    weights[:50] = 0.0
    labels = init_hierarchical(X, weights, 3, np.random.RandomState(0))
    assert np.count_nonzero(labels >= 0) == 60
    assert np.all(labels[:50] == -1)
    # without weights every row may be drawn; draws follow the random state
    first = init_hierarchical(X, None, 3, np.random.RandomState(0))
    again = init_hierarchical(X, None, 3, np.random.RandomState(0))
    assert_array_equal(first, again)
    gm = GaussianMixtureEM(3, init_params="hierarchical", random_state=0).fit(X, sample_weight=weights)
    assert_allclose(gm.weights_.sum(), 1.0)


def test_hierarchical_handles_degenerate_data():
    X = np.ones((10, 3))
    labels = init_hierarchical(X, None, 2, np.random.RandomState(0))
    assert_array_equal(np.unique(labels), [0, 1])
    one_column = np.c_[np.arange(10.0), np.zeros(10)]
    assert len(np.unique(init_hierarchical(one_column, None, 3, np.random.RandomState(0)))) == 3

import pytest
import torch

from autobalance.losses import ParametricLoss, frequency_clusters, interpolate_clusters


@pytest.mark.parametrize("k", [7, 10, 11])
@pytest.mark.parametrize("size", [1, 3, 4])
def test_clusters_group_consecutive_frequencies_for_any_k(k, size):
    counts = torch.randint(1, 1000, (k,)).tolist()
    cluster = frequency_clusters(counts, size)
    assert int(cluster.max()) + 1 == -(-k // size)
    assert torch.bincount(cluster).max() <= size
    order = sorted(range(k), key=lambda j: (-counts[j], j))
    assert cluster[order].tolist() == sorted(cluster.tolist())


def test_clustered_loss_shares_values_within_a_cluster():
    counts = [10, 500, 50, 100, 5]  # frequency order: 1, 3, 2, 0, 4
    loss = ParametricLoss(5, learn=("offsets",), counts=counts, cluster_size=2,
                          offsets=[1.0, 2.0, 3.0, 4.0, 5.0])
    assert loss.raw_offsets.shape == (1, 3)
    off = loss.offsets()[0]
    assert off[1] == off[3] and off[2] == off[0] and off[4] != off[0]


def test_interpolation_hits_cluster_centres_and_is_linear_between():
    counts = [100, 90, 80, 70, 60, 50]
    per_class = interpolate_clusters(torch.tensor([[0.0, 3.0, 6.0]]), counts, 2)
    # centres at ranks 0.5, 2.5, 4.5; clamped outside
    torch.testing.assert_close(per_class[0], torch.tensor([0.0, 0.75, 2.25, 3.75, 5.25, 6.0]))


def test_learned_values_give_one_column_per_cluster_in_cluster_order():
    counts = [10, 500, 50, 100, 5]  # clusters of 2 by frequency: {1, 3}, {2, 0}, {4}
    loss = ParametricLoss(5, learn=("offsets",), counts=counts, cluster_size=2, offsets=[1.0, 2.0, 3.0, 4.0, 5.0])
    per_class = loss.values()["offsets"][0]
    torch.testing.assert_close(loss.learned_values()["offsets"][0], per_class[[1, 0, 4]])
    assert set(loss.learned_values()) == {"offsets"}

import torch

from autobalance.data.batching import batches, epoch_generator, epoch_order


def test_shuffle_covers_every_example_once_and_depends_on_seed_and_epoch():
    labels = torch.tensor([0] * 90 + [1] * 10)
    a = epoch_order(labels, 2, "shuffle", epoch_generator(0, 0))
    assert sorted(a.tolist()) == list(range(100))
    assert torch.equal(a, epoch_order(labels, 2, "shuffle", epoch_generator(0, 0)))
    assert not torch.equal(a, epoch_order(labels, 2, "shuffle", epoch_generator(0, 1)))
    assert not torch.equal(a, epoch_order(labels, 2, "shuffle", epoch_generator(1, 0)))


def test_class_balanced_and_sqrt_samplers_reweight_classes():
    labels = torch.tensor([0] * 900 + [1] * 100)
    balanced = labels[epoch_order(labels, 2, "class_balanced", epoch_generator(0, 0))]
    sqrt = labels[epoch_order(labels, 2, "sqrt", epoch_generator(0, 0))]
    assert 0.45 < balanced.float().mean() < 0.55
    # sqrt sampling: class 1 gets sqrt(100) / (sqrt(900) + sqrt(100)) = 0.25
    assert 0.21 < sqrt.float().mean() < 0.29


def test_batches_drop_only_a_trailing_singleton():
    assert [len(b) for b in batches(torch.arange(10), 4)] == [4, 4, 2]
    assert [len(b) for b in batches(torch.arange(9), 4)] == [4, 4]

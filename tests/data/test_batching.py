import torch

from autobalance.data.batching import batches, epoch_generator, epoch_order, sampling_labels


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


def test_group_balanced_sampler_balances_class_attribute_cells():
    # a spurious correlation: attribute == label for 95 % of each class
    labels = torch.tensor([0] * 600 + [1] * 400)
    attributes = torch.cat([torch.zeros(570), torch.ones(30), torch.ones(380), torch.zeros(20)]).long()
    index, size, sampler = sampling_labels(labels, attributes, 2, "group_balanced")
    order = epoch_order(index, size, sampler, epoch_generator(0, 0))
    cells = torch.bincount(index[order], minlength=4).double() / len(order)
    assert torch.allclose(cells, torch.full((4,), 0.25, dtype=torch.float64), atol=0.04)
    assert sampling_labels(labels, None, 2, "group_balanced")[2] == "class_balanced"  # no attribute: classes


def test_batches_drop_only_a_trailing_singleton():
    assert [len(b) for b in batches(torch.arange(10), 4)] == [4, 4, 2]
    assert [len(b) for b in batches(torch.arange(9), 4)] == [4, 4]

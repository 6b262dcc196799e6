"""The two-stage group baselines on hand-made cases: JTT's error set and upsampling, DFR's
last-layer refit on group-balanced held-out data."""

import numpy as np
import torch
from torch import nn

from autobalance.data.bundle import BatchTransform, DataBundle, TensorSplit
from autobalance.models.heads import Classifier
from autobalance.training.dfr import balanced_draw, retrain_last_layer
from autobalance.training.jtt import error_set, upsampled


def _bundle(train: TensorSplit, val: TensorSplit, test: TensorSplit) -> DataBundle:
    dims = train.x.shape[1]
    return DataBundle(train, val, test, ["a", "b"], torch.bincount(train.y, minlength=2).tolist(),
                      BatchTransform(torch.zeros(1, dims), torch.ones(1, dims)), num_attribute_values=2)


def _spurious_split(n: int, correlation: float, seed: int) -> TensorSplit:
    """Feature 0 carries the label (with noise), feature 1 the attribute; the attribute equals
    the label for ``correlation`` of the examples."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    a = torch.where(torch.rand(n, generator=gen) < correlation, y, 1 - y)
    core = (2 * y - 1) + 0.3 * torch.randn(n, generator=gen)
    spurious = 3.0 * (2 * a - 1) + 0.1 * torch.randn(n, generator=gen)
    return TensorSplit(torch.stack([core, spurious], 1), y, a)


class _Predictor:
    """Stands in for a trained identification model: predicts from the spurious feature."""

    def predict(self, split: TensorSplit) -> torch.Tensor:
        return (split.x[:, 1] > 0).long()


def test_jtt_upsamples_exactly_the_identification_models_errors():
    train = _spurious_split(200, 0.9, 0)
    data = _bundle(train, train, train)
    errors = error_set(_Predictor(), data)
    assert torch.equal(errors, torch.nonzero(train.attribute != train.y).flatten())  # the minority groups
    up = upsampled(data, errors, upweight=5)
    assert len(up.train) == 200 + 4 * len(errors)
    minority = (up.train.attribute != up.train.y).sum()
    assert minority == 5 * len(errors)
    assert up.train_counts == torch.bincount(up.train.y, minlength=2).tolist()


def test_dfr_refits_the_head_on_the_core_feature():
    train, val, test = _spurious_split(400, 0.95, 0), _spurious_split(400, 0.5, 1), _spurious_split(400, 0.5, 2)
    data = _bundle(train, val, test)
    model = Classifier(nn.Identity(), 2, 2)
    with torch.no_grad():  # an ERM head that reads the spurious feature
        model.head.weight.copy_(torch.tensor([[0.0, -1.0], [0.0, 1.0]]))
        model.head.bias.zero_()

    def worst_group_accuracy():
        with torch.no_grad():
            correct = model(test.x).argmax(1) == test.y
        return min(float(correct[(test.attribute == a) & (test.y == c)].float().mean()) for a in (0, 1) for c in (0, 1))

    assert worst_group_accuracy() < 0.1
    info = retrain_last_layer(model, data, val, seed=0)
    assert worst_group_accuracy() > 0.95
    assert info["held_out_examples"] == 400
    weight = model.head.weight.detach()
    assert (weight[1, 0] - weight[0, 0]).abs() > (weight[1, 1] - weight[0, 1]).abs()  # core over spurious


def test_balanced_draw_cuts_every_group_to_the_smallest():
    groups = np.array([0] * 10 + [1] * 3 + [2] * 7)
    idx = balanced_draw(groups, np.random.default_rng(0))
    assert np.bincount(groups[idx]).tolist() == [3, 3, 3] and len(set(idx)) == 9

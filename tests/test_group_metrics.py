"""Group and fairness metrics, cross-checked against fairlearn on binary problems."""

import math

import numpy as np
import pytest
import torch
from fairlearn.metrics import (
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate_difference,
    true_positive_rate_difference,
)

from autobalance.group_metrics import attribute_spreads, group_metrics


def _binary_case(seed: int, n: int = 400, attributes: int = 2):
    gen = np.random.default_rng(seed)
    y = gen.integers(0, 2, n)
    a = gen.integers(0, attributes, n)
    flip = gen.random(n) < np.where(a == 0, 0.1, 0.3)  # the second attribute is treated worse
    pred = np.where(flip, 1 - y, y)
    return y, pred, a


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("attributes", [2, 3])
def test_fairness_gaps_equal_fairlearn_on_binary_predictions(seed, attributes):
    y, pred, a = _binary_case(seed, attributes=attributes)
    m = group_metrics(torch.as_tensor(pred), torch.as_tensor(y), torch.as_tensor(a), 2, attributes)
    assert math.isclose(m["equalized_odds_difference"] / 100, equalized_odds_difference(y, pred, sensitive_features=a))
    assert math.isclose(m["demographic_parity_difference"] / 100,
                        demographic_parity_difference(y, pred, sensitive_features=a))
    deo = (true_positive_rate_difference(y, pred, sensitive_features=a)
           + false_positive_rate_difference(y, pred, sensitive_features=a))
    assert math.isclose(m["deo"] / 100, deo)


def test_group_metrics_by_hand():
    # cells (attribute, class): (0,0) 2/2 right, (0,1) 1/2, (1,0) 0/1, (1,1) 1/1
    y = torch.tensor([0, 0, 1, 1, 0, 1])
    pred = torch.tensor([0, 0, 1, 0, 1, 1])
    a = torch.tensor([0, 0, 0, 0, 1, 1])
    m = group_metrics(pred, y, a, 2, 2)
    assert m["per_group_accuracy"] == [[1.0, 0.5], [0.0, 1.0]]
    assert m["worst_group_error"] == 100.0 and m["average_group_error"] == 100 * (1 - 2.5 / 4)
    assert m["deo"] == 100 * (1.0 + 0.5)  # recall spreads: class 0 |1 - 0|, class 1 |0.5 - 1|
    assert m["equalized_odds_difference"] == 100.0
    # selection of class 1: attribute 0 predicts it 1 of 4 times, attribute 1 2 of 2
    assert m["demographic_parity_difference"] == 100 * (1 - 0.25)


def test_absent_cells_are_left_out_of_the_means_and_spreads():
    table = torch.tensor([[0.5, float("nan")], [0.75, 0.25]])
    assert attribute_spreads(table, ~table.isnan()).tolist() == [0.25]  # class 1 is seen under one attribute
    y, pred, a = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), torch.tensor([0, 1, 1])
    m = group_metrics(pred, y, a, 2, 2)
    assert math.isnan(m["per_group_accuracy"][0][1])
    assert m["worst_group_error"] == 100.0 and m["average_group_error"] == 100 * (1 - 2 / 3)

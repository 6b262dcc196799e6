"""The learned regularizers of the family: a weight decay per classifier row (and one for the rest
of the network) and label smoothing per class, their maps, their start and their file."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autobalance.config import FamilyConfig, LossConfig
from autobalance.errors import InputError
from autobalance.losses import ParametricLoss
from autobalance.losses.factory import build_loss, build_search_loss
from autobalance.losses.io import load_loss, save_loss
from autobalance.models.heads import Classifier, NormedLinear
from autobalance.pipeline import make_trainer

K, WD = 3, 1e-3


def _classifier(head=None) -> Classifier:
    torch.manual_seed(0)
    model = Classifier(nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh()), 5, K)
    if head is not None:
        model.head = head
    return model


def test_the_penalty_is_the_decay_beyond_the_optimizers_on_each_row_and_on_the_rest():
    loss = ParametricLoss(K, learn=("weight_decay",), decay_reference=WD, weight_decay=[2 * WD, WD / 2, 4 * WD],
                          weight_decay_rest=3 * WD)
    model = _classifier()
    params = dict(model.named_parameters())
    rows = params["head.weight"].pow(2).sum(1) + params["head.bias"].pow(2)
    rest = sum(p.pow(2).sum() for n, p in params.items() if not n.startswith("head."))
    applied = WD / 4  # the optimizer's own decay, which the penalty does not repeat
    expected = 0.5 * ((torch.tensor([2 * WD, WD / 2, 4 * WD]) - applied) * rows).sum() + 0.5 * (3 * WD - applied) * rest
    torch.testing.assert_close(loss.penalty(params, applied), expected, rtol=1e-5, atol=0)


def test_the_cosine_heads_classes_are_its_columns():
    head = NormedLinear(5, K)
    loss = ParametricLoss(K, learn=("weight_decay",), decay_reference=WD, weight_decay=[WD, 2 * WD, 3 * WD],
                          weight_decay_rest=WD)
    model = _classifier(head)
    expected = 0.5 * (torch.tensor([0.0, WD, 2 * WD]) * head.weight.pow(2).sum(0)).sum()
    torch.testing.assert_close(loss.penalty(dict(model.named_parameters()), WD), expected)


def test_a_model_without_a_head_module_is_refused_by_name():
    loss = ParametricLoss(K, learn=("weight_decay",), decay_reference=WD)
    with pytest.raises(InputError, match="classifier as a module named 'head'"):
        loss.penalty(dict(nn.Sequential(nn.Linear(4, K)).named_parameters()), WD)


def test_the_maps_stay_within_their_bounds_however_far_the_raw_values_go():
    loss = ParametricLoss(K, learn=("weight_decay", "label_smoothing"), decay_reference=WD)
    with torch.no_grad():
        loss.regularizer.raw_rows.copy_(torch.tensor([[-1e3, 0.0, 1e3]]))
        loss.raw_label_smoothing.copy_(torch.tensor([[-5.0, 0.1, 1e3]]))
    rows = loss.regularizer.rows()[0].detach()
    low, high = WD / 10 * (1 - 1e-6), 10 * WD * (1 + 1e-6)  # the bounds, up to float32's rounding
    assert low <= float(rows[0]) < WD and float(rows[1]) == pytest.approx(WD) and WD < float(rows[2]) <= high
    loss.project_()  # an outer step's end: smoothing's raw value back on its domain
    eps = loss.label_smoothing()[0].detach()
    assert float(eps[0]) == 0.0 and 0 < float(eps[1]) < float(eps[2]) <= 0.5
    assert float(eps[1]) == pytest.approx(0.5 * math.tanh(0.1))


def test_label_smoothing_is_pytorchs_for_one_value_and_per_true_class_for_a_table():
    torch.manual_seed(0)
    logits, targets = torch.randn(16, K), torch.arange(16) % K
    uniform = ParametricLoss(K, learn=(), label_smoothing=[0.2] * K)
    torch.testing.assert_close(uniform(logits, targets), F.cross_entropy(logits, targets, label_smoothing=0.2))
    eps = torch.tensor([0.0, 0.1, 0.3])
    table = ParametricLoss(K, learn=(), label_smoothing=eps)
    log_p = logits.log_softmax(1)
    by_hand = -(1 - eps[targets]) * log_p[torch.arange(16), targets] - eps[targets] * log_p.mean(1)
    torch.testing.assert_close(table.per_example(logits, targets), by_hand)


def test_power_law_decays_and_smoothing_follow_the_class_frequencies():
    counts = [1000, 100, 10]
    loss = build_search_loss(("weight_decay", "label_smoothing"), "la", counts, parametrization="power_law",
                             decay_reference=WD)
    with torch.no_grad():
        loss.regularizer.raw_rows.fill_(-0.1)  # delta: lambda_k ~ WD (n_k / n_max)^-0.1, rarer rows decayed more
        loss.raw_label_smoothing.fill_(0.05)
    rows, eps = loss.regularizer.rows()[0].detach(), loss.label_smoothing()[0].detach()
    assert float(rows[0]) == pytest.approx(WD) and float(rows[1]) > WD and float(rows[2]) > float(rows[1])
    c = math.log(10)  # the map: WD exp(c tanh(raw / c)), near WD (n_k / n_max)^delta well inside the bound
    assert float(rows[2]) == pytest.approx(WD * math.exp(c * math.tanh(0.1 * math.log(100) / c)), rel=1e-6)
    assert float(rows[2]) == pytest.approx(WD * 100**0.1, rel=1e-2)
    assert float(eps[2]) == 0.0 and float(eps[0]) > float(eps[1]) > 0  # head smoothed most, the rarest not at all
    assert float(eps[0]) == pytest.approx(0.5 * math.tanh(0.05 * math.log(100)))
    assert set(loss.exponents()) >= {"weight_decay", "label_smoothing"}


def test_the_start_trains_exactly_as_today_bit_for_bit(tiny_config):
    """Learned decay at the optimizer's and no smoothing: the same model as plain LA's after an
    epoch of training, every parameter and buffer identical."""
    from autobalance.data.build import build_data

    cfg = tiny_config
    data = build_data(cfg.data, cfg.seed, torch.device("cpu"))
    la = build_loss(LossConfig(name="la"), data.train_counts)
    start = build_search_loss(("scales", "weight_decay", "label_smoothing"), "la", data.train_counts,
                              decay_reference=cfg.optim.weight_decay)
    states = []
    for loss in (la, start):
        trainer = make_trainer(cfg, data, None, None, torch.device("cpu"), loss=loss)
        trainer.run_epoch()
        states.append(trainer.model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_a_learned_file_round_trips_the_regularizers_and_older_files_load_without_them(tmp_path):
    loss = ParametricLoss(K, learn=("weight_decay", "label_smoothing"), offsets=[0.2, 0.0, -0.2],
                          decay_reference=5e-4, weight_decay=[1e-4, 5e-4, 2e-3], weight_decay_rest=7e-4,
                          label_smoothing=[[0.0, 0.05, 0.2]])
    path = save_loss(tmp_path / "learned.yaml", loss, ["a", "b", "c"], [30, 20, 10])
    again = load_loss(path, num_classes=K)
    assert again.learn == ()
    for table in ("weight_decay", "weight_decay_rest", "label_smoothing", "offsets"):
        torch.testing.assert_close(again.values()[table], loss.values()[table], rtol=1e-6, atol=1e-9)
    text = path.read_text().replace("learned_loss/v3", "learned_loss/v2")
    text = text[: text.index("label_smoothing:")] + text[text.index("provenance:"):]
    (tmp_path / "v2.yaml").write_text(text)
    v2 = load_loss(tmp_path / "v2.yaml")
    assert v2.regularizer is None and v2.raw_label_smoothing is None
    assert v2.penalty({}, 5e-4) is None


def test_learning_a_decay_needs_a_positive_optimizer_decay(tiny_config):
    import dataclasses

    from autobalance.config import ConfigError
    from autobalance.configure import check_names

    cfg = dataclasses.replace(tiny_config, optim=dataclasses.replace(tiny_config.optim, weight_decay=0.0),
                              search=dataclasses.replace(tiny_config.search, enabled=True,
                                                         family=FamilyConfig(learn=["weight_decay"])))
    with pytest.raises(ConfigError, match="a learned decay is centred on a positive one"):
        check_names(cfg)
    with pytest.raises(InputError, match="positive reference decay"):
        ParametricLoss(K, learn=("weight_decay",), decay_reference=0.0)


def test_smoothing_per_cell_follows_the_examples_attribute():
    eps = torch.tensor([[0.0, 0.1, 0.2], [0.3, 0.0, 0.05]])  # (attribute x class)
    loss = ParametricLoss(K, num_attribute_values=2, learn=("label_smoothing",), label_smoothing=eps)
    logits, targets, groups = torch.randn(6, K), torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0, 0, 0, 1, 1, 1])
    log_p = logits.log_softmax(1)
    chosen = eps[groups, targets]
    torch.testing.assert_close(loss.per_example(logits, targets, groups),
                               -(1 - chosen) * log_p[torch.arange(6), targets] - chosen * log_p.mean(1))


def test_clustered_classes_share_their_decay_and_smoothing():
    counts = [100, 90, 20, 10]
    loss = ParametricLoss(4, learn=("weight_decay", "label_smoothing"), counts=counts, cluster_size=2,
                          decay_reference=WD)
    assert loss.regularizer.raw_rows.shape == loss.raw_label_smoothing.shape == (1, 2)
    with torch.no_grad():
        loss.regularizer.raw_rows.copy_(torch.tensor([[0.5, -0.5]]))
        loss.raw_label_smoothing.copy_(torch.tensor([[0.1, 0.3]]))
    rows, eps = loss.regularizer.rows()[0].detach(), loss.label_smoothing()[0].detach()
    assert rows[0] == rows[1] and rows[2] == rows[3] and rows[0] > WD > rows[2]
    assert eps[0] == eps[1] and eps[2] == eps[3] and eps[2] > eps[0]
    assert loss.learned_values()["weight_decay"].shape == (1, 2)  # one trace column per cluster

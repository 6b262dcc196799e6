"""The class-attribute parametrization: each part a linear map from per-class attributes (CAP),
which holds the baselines' starts exactly and learns as many numbers as attributes."""

import json

import pytest
import torch
import yaml

from autobalance.class_attributes import attribute_matrix, attribute_values
from autobalance.config import FamilyConfig
from autobalance.errors import InputError
from autobalance.losses import ParametricLoss, load_loss, save_loss
from autobalance.losses.factory import family_loss
from autobalance.losses.priors import cdt_scales, logit_adjustment_offsets

COUNTS = [500, 200, 80, 30, 10]
NOISE = {"rates": [0.4, 0.4, 0.0, 0.0, 0.0]}


def _family(learn=("scales", "offsets")) -> ParametricLoss:
    family = FamilyConfig(learn=list(learn), parametrization="attributes", attributes=["log_frequency", "noise_rate"],
                          init="vs", init_gamma=0.2)
    return family_loss(family, COUNTS, attribute_values=attribute_values(COUNTS, NOISE))


def test_the_map_starts_exactly_at_vs_with_one_number_per_attribute_and_part():
    loss = _family()
    assert loss.raw_scales.shape == (1, 3) and loss.raw_offsets.shape == (1, 3)  # an intercept, two attributes
    la = logit_adjustment_offsets(COUNTS, 1.0)
    torch.testing.assert_close(loss.offsets()[0].detach().double(), la - la.mean(), atol=1e-5, rtol=0)
    torch.testing.assert_close(loss.scales()[0].detach().double(), cdt_scales(COUNTS, 0.2), atol=1e-5, rtol=0)
    assert list(loss.coefficients()["offsets"]) == ["intercept", "log_frequency", "noise_rate"]


def test_a_step_on_the_noise_coefficient_moves_the_noisy_classes_apart_from_the_clean():
    loss = _family()
    with torch.no_grad():
        loss.raw_offsets[0, 2] += 0.5  # the noise_rate coefficient
    offsets = loss.offsets()[0].detach()
    la = logit_adjustment_offsets(COUNTS, 1.0).float()
    moved = (offsets - (la - la.mean())).tolist()
    assert moved[0] == pytest.approx(moved[1], abs=1e-6) and moved[2] == pytest.approx(moved[4], abs=1e-6)
    assert moved[0] > 0 > moved[2]


def test_the_learned_loss_file_keeps_the_map_and_reloads_its_tables(tmp_path):
    loss = _family()
    with torch.no_grad():
        loss.raw_offsets[0, 2] += 0.3
    path = save_loss(tmp_path / "learned_loss.yaml", loss, [str(c) for c in range(5)], COUNTS)
    text = path.read_text()
    assert "attribute_map:" in text and "noise_rate" in text
    reloaded = load_loss(path)
    torch.testing.assert_close(reloaded.offsets(), loss.offsets().detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(reloaded.scales(), loss.scales().detach(), atol=1e-5, rtol=0)


def test_the_map_refuses_parts_it_does_not_give_and_a_missing_matrix():
    attributes, _ = attribute_matrix(["log_frequency"], attribute_values(COUNTS))
    with pytest.raises(InputError, match="learn=.*scales, offsets and weights with parametrization attributes"):
        ParametricLoss(5, learn=("offsets", "label_smoothing"), counts=COUNTS, parametrization="attributes",
                       class_attributes=attributes)
    with pytest.raises(InputError, match=r"needs class_attributes, an \(A, 5\) matrix"):
        ParametricLoss(5, learn=("offsets",), counts=COUNTS, parametrization="attributes")


def _two_layer_family() -> ParametricLoss:
    family = FamilyConfig(learn=["scales", "offsets"], parametrization="attributes",
                          attributes=["log_frequency", "noise_rate"], init="vs", init_gamma=0.2, map_hidden=3)
    return family_loss(family, COUNTS, attribute_values=attribute_values(COUNTS, NOISE))


def test_the_two_layer_map_starts_at_the_linear_maps_tables_and_learns_a_curve(tmp_path):
    linear, curved = _family(), _two_layer_family()
    torch.testing.assert_close(curved.offsets(), linear.offsets(), atol=0, rtol=0)
    torch.testing.assert_close(curved.scales(), linear.scales(), atol=0, rtol=0)
    assert curved.map_out_offsets.shape == (1, 3) and curved.map_hidden_offsets.shape == (3, 3)
    with torch.no_grad():
        curved.map_out_offsets.fill_(0.5)
    moved = (curved.offsets() - linear.offsets()).detach()[0]
    assert moved.abs().max() > 0.01
    path = save_loss(tmp_path / "learned_loss.yaml", curved, [str(c) for c in range(5)], COUNTS)
    assert "hidden_map:" in path.read_text()
    torch.testing.assert_close(load_loss(path).offsets(), curved.offsets().detach(), atol=1e-5, rtol=0)


def test_the_two_layer_map_needs_the_attribute_parametrization():
    with pytest.raises(ValueError, match="search.family.map_hidden=2: expected 0 unless"):
        FamilyConfig(parametrization="per_class", map_hidden=2)
    with pytest.raises(InputError, match="map_hidden=2 adds to the attribute map"):
        ParametricLoss(5, learn=("offsets",), map_hidden=2)


def test_a_measured_attribute_waits_at_zero_and_filling_it_keeps_the_start():
    family = FamilyConfig(learn=["scales", "offsets"], parametrization="attributes",
                          attributes=["log_frequency", "difficulty"], init="vs", init_gamma=0.2, map_hidden=2)
    loss = family_loss(family, COUNTS, attribute_values=attribute_values(COUNTS))
    assert loss.pending_attributes() == ["difficulty"] and loss.class_attributes[2].abs().sum() == 0
    before = {part: getattr(loss, part)().detach().clone() for part in ("scales", "offsets")}
    loss.set_attribute("difficulty", [0.1, 0.5, 0.3, 1.2, 2.0])
    assert loss.pending_attributes() == []
    row = loss.class_attributes[2].double()
    assert row.mean() == pytest.approx(0, abs=1e-6) and row.std(correction=0) == pytest.approx(1, abs=1e-6)
    assert row.argmax() == 4 and row.argmin() == 0
    for part, values in before.items():  # its coefficients are zero: the tables did not move
        torch.testing.assert_close(getattr(loss, part)().detach(), values, atol=1e-6, rtol=0)
    with torch.no_grad():
        loss.raw_offsets[0, 2] += 0.5  # now the map can tell the hard classes apart
    assert loss.offsets()[0, 4] - before["offsets"][0, 4] > loss.offsets()[0, 0] - before["offsets"][0, 0]
    with pytest.raises(InputError, match="'difficulty' is not waiting for values"):
        loss.set_attribute("difficulty", [1.0] * 5)


def test_a_search_measures_difficulty_and_training_loss_on_its_model_as_the_hyper_steps_begin(
        search_config_factory, tmp_path):
    from autobalance.pipeline import run

    cfg = search_config_factory()
    cfg.search.family = FamilyConfig(learn=["offsets"], parametrization="attributes",
                                     attributes=["log_frequency", "difficulty", "training_loss"])
    run(cfg, tmp_path)
    first = json.loads((tmp_path / "hypersteps.jsonl").read_text().splitlines()[0])
    assert len(first["measured_difficulty"]) == 10 and len(first["measured_training_loss"]) == 10
    attribute_map = yaml.safe_load((tmp_path / "learned_loss.yaml").read_text())["attribute_map"]
    rows = dict(zip(attribute_map["attributes"], attribute_map["values"], strict=True))
    for name in ("difficulty", "training_loss"):  # the file records the values the map was fitted on
        expected = torch.tensor(first[f"measured_{name}"], dtype=torch.float64)
        torch.testing.assert_close(torch.tensor(rows[name], dtype=torch.float64),
                                   (expected - expected.mean()) / expected.std(correction=0), atol=1e-5, rtol=0)
    assert any(abs(g) > 0 for g in first["hypergrad"]["raw_offsets"][0][2:])  # the map learns their coefficients

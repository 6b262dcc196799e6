"""``adaptive_cost_la``'s procedure: class costs moved once an epoch by the validation errors
(Narasimhan and Menon 2021), resumed exactly, and plain LA when the objective weighs every class."""

import json

import pytest
import torch

from autobalance.config import ConfigError, ObjectiveConfig
from autobalance.data.build import build_data
from autobalance.losses.beyond_balanced import capped_simplex
from autobalance.losses.factory import loss_config
from autobalance.metrics import classification_metrics
from autobalance.pipeline import build_model, run
from autobalance.training.checkpoint import load_checkpoint
from autobalance.training.validation_costs import class_errors


class Interrupt(Exception):
    pass


def _cvar_config(cfg, epochs=3):
    cfg.train_on_val, cfg.optim.epochs = False, epochs
    cfg.objective = ObjectiveConfig("worst_class", cvar_alpha=0.2)
    cfg.loss = loss_config("adaptive_cost_la", step_size=2.0)
    return cfg


def test_the_costs_take_one_capped_exponentiated_gradient_step_per_epoch(tiny_config, tmp_path):
    result = run(_cvar_config(tiny_config, epochs=2), tmp_path)
    costs = result["validation_costs"]
    assert costs["updates"] == 1 and costs["worst_classes"] == 2  # before the second epoch; ceil(0.2 * 10)
    errors = torch.tensor(costs["last_validation_class_errors"], dtype=torch.float64)
    expected = capped_simplex(torch.softmax(2.0 * errors, 0), 1 / 2)  # from uniform costs, eta 2
    torch.testing.assert_close(torch.tensor(costs["class_costs"], dtype=torch.float64), 10 * expected)
    records = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert records[0]["cost_max"] == 1.0 and records[1]["cost_max"] == pytest.approx(10 * float(expected.max()))


def test_class_errors_are_one_minus_the_per_class_recall(tiny_config):
    data = build_data(tiny_config.data, 0)
    model = build_model(tiny_config, data, torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(x).argmax(1) for x, _, _ in data.eval_batches(data.val)])
    recall = classification_metrics(predictions, data.val.y, data.train_counts)["per_class_accuracy"]
    torch.testing.assert_close(class_errors(model, data), 1 - torch.tensor(recall, dtype=torch.float64))


def test_an_interrupted_run_updates_its_costs_as_an_uninterrupted_one(tiny_config, tmp_path):
    full = run(_cvar_config(tiny_config), tmp_path / "full")

    def stop_after_two(trainer):
        if trainer.epoch == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        run(tiny_config, tmp_path / "cut", epoch_callbacks=(stop_after_two,))
    tiny_config.resume = True
    resumed = run(tiny_config, tmp_path / "cut")
    assert resumed["validation_costs"] == full["validation_costs"]
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "train.pt")
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "train.pt")
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)


def test_on_the_balanced_error_the_costs_stay_uniform_and_the_run_is_la(tiny_config, tmp_path):
    cfg = _cvar_config(tiny_config, epochs=2)
    cfg.objective = ObjectiveConfig("balanced_ce")
    adaptive = run(cfg, tmp_path / "adaptive")
    assert adaptive["validation_costs"]["class_costs"] == pytest.approx([1.0] * 10)
    cfg.loss = loss_config("la")
    la = run(cfg, tmp_path / "la")
    assert adaptive["test"]["per_class_accuracy"] == la["test"]["per_class_accuracy"]


def test_the_procedure_refuses_a_run_it_cannot_serve(tiny_config, tmp_path):
    cfg = _cvar_config(tiny_config)
    cfg.train_on_val = True
    with pytest.raises(ConfigError, match="train_on_val=True"):
        run(cfg, tmp_path / "merged")
    cfg.train_on_val = False
    cfg.objective = ObjectiveConfig("class_std")
    with pytest.raises(ConfigError, match="objective=class_std"):
        run(cfg, tmp_path / "std")

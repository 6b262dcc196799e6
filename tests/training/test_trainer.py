import json

import pytest
import torch

from autobalance.data.build import build_data
from autobalance.metrics import classification_metrics
from autobalance.pipeline import build_model, run
from autobalance.training.checkpoint import load_checkpoint


class Interrupt(Exception):
    pass


def _stop_after(epoch: int):
    def callback(trainer):
        if trainer.epoch == epoch:
            raise Interrupt

    return callback


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(tiny_config, tmp_path):
    tiny_config.optim.epochs = 3
    full = run(tiny_config, tmp_path / "full")
    with pytest.raises(Interrupt):
        run(tiny_config, tmp_path / "cut", epoch_callbacks=(_stop_after(1),))
    tiny_config.resume = True
    resumed = run(tiny_config, tmp_path / "cut")
    assert resumed["test"]["per_class_accuracy"] == full["test"]["per_class_accuracy"]
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "train.pt")
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "train.pt")
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)
    lines = (tmp_path / "cut" / "epochs.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1, 2]


def test_run_writes_readable_outputs(tiny_config, tmp_path):
    result = run(tiny_config, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test"]["balanced_error"] == result["test"]["balanced_error"]
    assert 0 <= metrics["test"]["balanced_error"] <= 100 and metrics["seed"] == 0
    summary = json.loads((tmp_path / "data_summary.json").read_text())
    assert summary["counts"]["test"] == [50] * 10 and len(summary["class_names"]) == 10
    csv_lines = (tmp_path / "per_class.csv").read_text().splitlines()
    assert csv_lines[0].startswith("class,name,train_count") and len(csv_lines) == 11


def test_the_run_reports_the_final_models_fit_on_the_data_it_trained_on(tiny_config, tmp_path):
    tiny_config.optim.epochs = 2
    result = run(tiny_config, tmp_path)
    data = build_data(tiny_config.data, tiny_config.seed).merged_train_val()  # train_on_val=true
    model = build_model(tiny_config, data, torch.device("cpu"))
    model.load_state_dict(load_checkpoint(tmp_path / "checkpoints" / "train.pt")["model"])
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(x).argmax(1) for x, _, _ in data.eval_batches(data.train)])
    expected = classification_metrics(predictions, data.train.y, data.train_counts)
    assert result["train"]["error"] == pytest.approx(expected["error"])
    assert result["train"]["balanced_error"] == pytest.approx(expected["balanced_error"])
    assert json.loads((tmp_path / "metrics.json").read_text())["train"]["error"] == result["train"]["error"]


def test_non_finite_loss_stops_training(tiny_config, tmp_path):
    tiny_config.optim.lr = 1e12
    tiny_config.optim.weight_decay = 0.0
    with pytest.raises(FloatingPointError, match="non-finite training loss"):
        run(tiny_config, tmp_path)


def test_eval_every_skips_intermediate_evaluations_but_not_the_last(tiny_config, tmp_path):
    tiny_config.optim.epochs = 3
    tiny_config.eval_every = 2
    tiny_config.eval_test_per_epoch = True
    run(tiny_config, tmp_path)
    records = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert ["test_balanced_error" in r for r in records] == [False, True, True]


def test_the_test_split_is_read_once_at_the_end_unless_asked_per_epoch(tiny_config, tmp_path):
    tiny_config.search.enabled, tiny_config.optim.epochs = False, 1
    tiny_config.train_on_val = False  # validation held out: evaluated every epoch
    result = run(tiny_config, tmp_path)
    records = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert all("val_balanced_error" in r for r in records)
    assert not any(key.startswith("test_") for r in records for key in r)
    assert "balanced_error" in result["test"]


def test_a_divergence_with_a_loss_far_from_ce_names_the_loss_first(tiny_config, tmp_path):
    from autobalance.losses import ParametricLoss
    from autobalance.training.trainer import divergence_cause

    near = ParametricLoss(3, learn=(), offsets=[0.5, 0.0, -0.5])
    assert divergence_cause(near).startswith("lower optim.lr")
    far = ParametricLoss(3, learn=(), offsets=[7e6, 0.0, -7e6], scales=[1.0, 1.0, 0.001])
    cause = divergence_cause(far)
    assert "the loss's values are far from CE's" in cause and "offsets up to 7e+06" in cause
    assert "logit scales 0.001..1" in cause and cause.index("search.outer.lr") < cause.index("optim.lr")


def test_a_hook_sees_the_step_through_a_read_only_view(tiny_config, tmp_path):
    import dataclasses

    from autobalance.pipeline import make_trainer

    data = build_data(tiny_config.data, tiny_config.seed)
    tiny_config.optim.epochs = 1
    seen = []

    class Recorder:
        def before_step(self, view, x, y, g):
            seen.append(("before", view))

        def after_step(self, view):
            seen.append(("after", view))

        def epoch_record(self):
            return {}

        def state_dict(self):
            return {}

    trainer = make_trainer(tiny_config, data, tmp_path, None, torch.device("cpu"), hooks=(Recorder(),))
    trainer.fit()
    (_, first), (_, after_first) = seen[:2]
    assert (first.step, after_first.step, first.epoch) == (0, 1, 0)
    assert first.momentum_buffers is None  # SGD has made none before its first step
    assert set(after_first.momentum_buffers) == set(dict(trainer.model.named_parameters()))
    assert first.lr == pytest.approx(tiny_config.optim.lr) and first.weight_decay == tiny_config.optim.weight_decay
    assert seen[-1][1].step == trainer.step and first.model is trainer.model
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.step = 5

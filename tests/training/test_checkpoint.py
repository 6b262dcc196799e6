"""Checkpoints that a kill cannot cost more than the epoch being written."""

import json

import pytest
import torch

from autobalance.pipeline import run
from autobalance.training.checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint


def test_a_new_checkpoint_keeps_the_one_it_replaces(tmp_path):
    path = tmp_path / "train.pt"
    save_checkpoint(path, {"epoch": 1, "w": torch.ones(2)})
    save_checkpoint(path, {"epoch": 2, "w": torch.zeros(2)})
    assert load_checkpoint(path)["epoch"] == 2
    assert load_checkpoint(previous_path(path))["epoch"] == 1
    assert not path.with_name("train.pt.tmp").exists()


def test_a_damaged_checkpoint_falls_back_to_the_previous_one_and_says_so(tmp_path):
    path = tmp_path / "train.pt"
    save_checkpoint(path, {"epoch": 1})
    save_checkpoint(path, {"epoch": 2})
    path.write_bytes(path.read_bytes()[:100])  # cut short
    with pytest.warns(RuntimeWarning, match=r"train.pt cannot be read .*resuming from the previous one.*after epoch 1"):
        assert load_checkpoint(path)["epoch"] == 1


def test_a_damaged_checkpoint_without_a_previous_one_is_one_error_naming_it(tmp_path):
    path = tmp_path / "train.pt"
    save_checkpoint(path, {"epoch": 1})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"checkpoint {path} cannot be read .* no previous checkpoint is kept"):
        load_checkpoint(path)


def test_a_run_killed_while_writing_resumes_to_the_uninterrupted_result(tiny_config, tmp_path):
    tiny_config.optim.epochs = 3
    full = run(tiny_config, tmp_path / "full")

    def killed_while_writing(trainer):  # after epoch 2's checkpoint: leave it as a kill mid-write would
        if trainer.epoch == 2:
            checkpoint = trainer.checkpoint_path
            checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tiny_config, tmp_path / "cut", epoch_callbacks=(killed_while_writing,))
    tiny_config.resume = True
    with pytest.warns(RuntimeWarning, match="resuming from the previous one"):
        resumed = run(tiny_config, tmp_path / "cut")
    assert resumed["test"]["per_class_accuracy"] == full["test"]["per_class_accuracy"]
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "cut" / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2]

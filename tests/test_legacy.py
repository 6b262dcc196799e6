"""Old archives through one door: autobalance.legacy reads what earlier versions wrote, and no other
module of the package names an old key."""

import dataclasses
import math
from pathlib import Path

import pytest

import autobalance
from autobalance.config import RunConfig
from autobalance.legacy import (
    ADDED_KEYS,
    OLD_LOSS_FORMATS,
    RENAMED_KEYS,
    current_loss_file,
    current_search_state,
    record_phase,
    recorded_settings,
    renamed,
)
from autobalance.losses.io import FORMAT
from autobalance.run_dir import flat_settings

PACKAGE = Path(autobalance.__file__).parent
OLD_NAMES = [*RENAMED_KEYS, *OLD_LOSS_FORMATS, "num_groups"]


@pytest.mark.parametrize("old", OLD_NAMES)
def test_no_module_but_the_legacy_reader_names_an_old_key(old):
    naming = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
              if p.name != "legacy.py" and old in p.read_text()]
    assert naming == []


def test_a_saved_config_reads_under_todays_names_with_the_keys_added_since():
    saved = {"search": {"outer_lr": 0.01, "method_options": {"max_iter": 5}}, "optim": {"schedule": "step"},
             "loss": {"name": "ce", "tau": None}}
    current = recorded_settings(flat_settings(saved))
    assert current["search.outer.lr"] == 0.01 and current["search.hypergrad.options.max_iter"] == 5
    assert current["optim.lr_schedule"] == "step" and "loss.tau" not in current
    assert current["search.guard.enabled"] is False  # the value that reproduces how the old run ran
    assert set(ADDED_KEYS) <= set(current)


def test_every_added_key_is_a_setting_today():
    today = flat_settings(dataclasses.asdict(RunConfig()))
    assert [k for k in ADDED_KEYS if k not in today] == []


def test_old_command_lines_are_translated():
    assert renamed("search.freeze_last=3") == "search.export.window=3"
    assert renamed("+data.group_column=sex") == "+data.attribute_column=sex"


def test_an_old_learned_loss_file_reads_in_todays_format():
    v1 = {"format": OLD_LOSS_FORMATS[0], "class_names": ["a", "b"], "num_groups": 1, "scales": [[1, 1]]}
    current = current_loss_file(v1, FORMAT)
    assert current["format"] == FORMAT and current["num_attribute_values"] == 1 and "num_groups" not in current
    assert current["augmentation"] is None and current["label_smoothing"] is None and current["weight_decay"] is None


def test_an_old_checkpoint_gains_what_the_search_keeps_today():
    old = {"outer": {}, "method_state": {}, "hyper_steps": 3, "skipped": 0, "recent": [], "records": [],
           "guard": {"values": [1.0], "since": 0, "backoffs": 0}}
    state = current_search_state(old)
    assert state["start"] == {} and state["trail"] == [] and state["best"] is None
    assert state["guard"]["lowest"] == math.inf and state["guard"]["best_at"] is None
    assert current_search_state({**old, "guard": None})["guard"] is None


def test_hyper_step_records_without_a_phase_belong_to_their_search():
    assert record_phase({"hyper_step": 1}) == "search"
    assert record_phase({"hyper_step": 1, "fold": 2}) == "search_fold2"
    assert record_phase({"phase": "retrain", "epoch": 0}) == "retrain"
    assert record_phase({"epoch": 0}) is None

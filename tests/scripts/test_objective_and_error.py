"""scripts/objective_and_error.py on an online search's run directory."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "objective_and_error.py"
spec = importlib.util.spec_from_file_location("objective_and_error", SCRIPT)
objective_and_error = importlib.util.module_from_spec(spec)
spec.loader.exec_module(objective_and_error)


def _online_run(d: Path, objective: list[float]) -> None:
    d.mkdir(parents=True)
    (d / "hypersteps.jsonl").write_text("".join(json.dumps({"epoch": 5 + i // 2, "val_loss": v}) + "\n"
                                                for i, v in enumerate(objective)))
    (d / "epochs.jsonl").write_text("".join(json.dumps({"epoch": e, "val_balanced_error": 30.0 - e}) + "\n"
                                            for e in (0, 4, 9)))
    (d / "metrics.json").write_text(json.dumps({"seed": 3, "val": {"balanced_error": 27.5},
                                                "train": {"error": 1.25}}))


def test_the_objectives_ends_and_the_validation_error_before_and_after_the_hyper_steps(tmp_path):
    _online_run(tmp_path / "run", [1.0, 0.9, 0.8, 0.5])
    row = objective_and_error.run_row(tmp_path / "run", window=2)
    assert row["objective_first"] == pytest.approx(0.95) and row["objective_last"] == pytest.approx(0.65)
    assert row["val_error_before"] == 26.0 and row["val_error_final"] == 27.5  # epoch 4: the last before epoch 5
    lines = objective_and_error.table([(tmp_path, "runs")], window=2)
    assert lines[-1] == "| runs | 3 | 0.950 | 0.650 | 26.00 | 27.50 | 1.25 |"


def test_a_tree_without_hyper_steps_is_refused_by_name(tmp_path):
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "metrics.json").write_text(json.dumps({"seed": 0}))
    with pytest.raises(SystemExit, match="no online search"):
        objective_and_error.table([(tmp_path, "runs")], window=20)

import json

import pytest

from autobalance.logging.sinks import JsonlSink, flatten, make_sinks
from autobalance.pipeline import run


def test_jsonl_sink_appends_and_rewrites(tmp_path):
    sink = JsonlSink(tmp_path)
    sink.log("epoch", {"loss": 1.0, "bad": float("nan")}, step=3)
    sink.log("epoch", {"loss": 0.5}, step=6)
    lines = [json.loads(x) for x in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert lines == [{"step": 3, "loss": 1.0, "bad": None}, {"step": 6, "loss": 0.5}]
    sink.rewrite("epoch", lines[:1])
    assert len((tmp_path / "epochs.jsonl").read_text().splitlines()) == 1


def test_jsonl_sink_leaves_the_summary_to_metrics_json(tmp_path):
    JsonlSink(tmp_path).log("summary", {"balanced_error": 12.5}, step=0)
    assert list(tmp_path.iterdir()) == []


def test_flatten_names_per_class_values():
    flat = flatten({"scales": [[1.0, 2.0]], "method": "cg", "norm": 3}, "hyperstep")
    assert flat == {"hyperstep/scales/0/0": 1.0, "hyperstep/scales/0/1": 2.0, "hyperstep/norm": 3.0}


@pytest.mark.slow  # two offline wandb runs (8 s)
def test_wandb_offline_runs_are_separate_and_finished(search_config_factory, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dirs = []
    for i in range(2):
        cfg = search_config_factory()
        cfg.logger.name = "wandb"
        cfg.seed = i
        run(cfg, tmp_path / f"job{i}")
        found = list((tmp_path / f"job{i}" / "wandb").glob("offline-run-*"))
        assert len(found) == 1, found
        run_dirs.append(found[0])
        assert list(found[0].glob("*.wandb"))
    assert run_dirs[0].name != run_dirs[1].name
    import wandb

    assert wandb.run is None  # every run was finished


def test_sink_factory_defaults_to_jsonl(tmp_path):
    sinks = make_sinks("jsonl", tmp_path)
    assert len(sinks.sinks) == 1 and sinks.jsonl.out_dir == tmp_path


def test_a_logger_whose_package_is_missing_names_the_extra_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    expected = r"logger=tensorboard needs the .* package: pip install 'autobalance\[tensorboard\]'"
    with pytest.raises(ValueError, match=expected):
        make_sinks("tensorboard", tmp_path)


class _FakeRun:
    def __init__(self):
        self.logged, self.summary = [], {}

    def log(self, values):
        self.logged.append(values)


def test_wandb_keeps_phases_apart_and_puts_the_final_numbers_in_the_summary():
    from autobalance.logging.sinks import WandbSink
    from autobalance.reporting import summary_record

    sink = object.__new__(WandbSink)
    sink.run = _FakeRun()
    sink.log("epoch", {"phase": "search", "train_loss": 1.0}, 10)
    sink.log("epoch", {"phase": "retrain", "train_loss": 0.5}, 10)
    assert sink.run.logged == [{"search/epoch/train_loss": 1.0, "search/epoch/step": 10},
                               {"retrain/epoch/train_loss": 0.5, "retrain/epoch/step": 10}]
    results = {"test": {"balanced_error": 9.0, "few_shot_error": 20.0, "per_class_accuracy": [0.9, 0.8]},
               "la_test": {"balanced_error": 9.5, "per_class_accuracy": [0.9, 0.7]}}
    sink.log("summary", summary_record(results), 0)
    assert sink.run.summary == {"balanced_error": 9.0, "few_shot_error": 20.0, "per_class_accuracy/0": 0.9,
                                "per_class_accuracy/1": 0.8, "la/balanced_error": 9.5,
                                "minus_la/balanced_error": -0.5}

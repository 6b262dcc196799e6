"""A run's results read back: its cost is every phase of its own, never a compared baseline's."""

import json

from autobalance.results import RunResults


def _write(tmp_path, metrics):
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    return RunResults.read(tmp_path)


def test_a_multi_stage_baseline_costs_all_its_stages(tmp_path):
    jtt = _write(tmp_path, {"test": {"balanced_error": 10.0},
                            "phase_seconds": {"identify": 12.5, "train": 100.0, "dfr": 1.5}})
    assert jtt.cost_seconds == 114.0 and jtt.compared == () and jtt.test["balanced_error"] == 10.0


def test_a_search_costs_its_folds_and_retrain_but_not_the_baselines_it_is_compared_with(tmp_path):
    search = _write(tmp_path, {"test": {}, "ce_test": {"balanced_error": 20.0},
                               "phase_seconds": {"search_fold0": 30.0, "search_fold1": 31.0, "retrain": 50.0,
                                                 "ce": 45.0}})
    assert search.compared == ("ce",) and search.cost_seconds == 111.0

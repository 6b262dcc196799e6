"""scripts/hyperstep_drift.py on run directories holding hyper-step traces."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hyperstep_drift.py"
spec = importlib.util.spec_from_file_location("hyperstep_drift", SCRIPT)
hyperstep_drift = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hyperstep_drift)

LABEL = "autobalance-last_layer(scales+offsets)"


def _search_run(root: Path, name: str, seed: int, records: list[dict]) -> None:
    d = root / name
    d.mkdir(parents=True)
    cfg = {"data": {"rho": 100.0}, "loss": {"name": "ce"},
           "search": {"enabled": True, "hypergrad": {"method": "last_layer"},
                      "family": {"learn": ["scales", "offsets"], "init": "la"}}}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "metrics.json").write_text(json.dumps({"dataset": "toy", "seed": seed, "test": {"balanced_error": 10.0}}))
    (d / "hypersteps.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")


def _step(offsets: list[float], scales: list[float], **tags) -> dict:
    return {"offsets": [offsets], "scales": [scales], "applied": True, **tags}


def test_a_straight_drift_and_a_zigzag_are_told_apart_and_seeds_compared_per_class(tmp_path):
    # seed 0: offsets walk straight (+0.1, -0.1 per step); scales zigzag 1.0, 1.1, 1.0, 1.1.
    zigzag = [1.0, 1.1, 1.0, 1.1]
    _search_run(tmp_path, "s0", 0, [_step([0.1 * i, -0.1 * i], [z, z]) for i, z in enumerate(zigzag)]
                + [{"applied": False, "offsets": [[9.0, 9.0]], "scales": [[9.0, 9.0]]}])
    # seed 1: the first class drifts the other way.
    _search_run(tmp_path, "s1", 1, [_step([-0.1 * i, -0.1 * i], [1.0, 1.0 + 0.1 * i]) for i in range(4)])
    paths = hyperstep_drift.collect([(tmp_path, str(tmp_path))])
    offsets = hyperstep_drift.drift(paths[(LABEL, "offsets")])
    assert offsets["searches"] == 2 and offsets["steps"] == 4  # the skipped step is left out
    assert offsets["net"] == pytest.approx(0.3) and offsets["path"] == pytest.approx(0.3)
    assert offsets["straightness"] == pytest.approx(1.0)
    assert offsets["one_way"] == 1  # the second class only
    scales = hyperstep_drift.drift(paths[(LABEL, "scales")])
    # nets 0.1, 0.1 (seed 0), 0, 0.3 (seed 1); paths 0.3, 0.3, 0, 0.3
    assert scales["net"] == pytest.approx(0.5 / 4) and scales["path"] == pytest.approx(0.9 / 4)
    assert scales["straightness"] == pytest.approx(0.5 / 0.9)
    assert scales["one_way"] == 1  # the first class did not move on seed 1
    lines = hyperstep_drift.markdown(paths)
    assert f"| {LABEL} | offsets | 2 | 4 | 0.300 | 0.300 | 1.00 | 1 of 2 |" in lines


def test_each_fold_of_a_cross_fitted_search_is_one_search_and_augmentation_is_a_table(tmp_path):
    records = [_step([0.1 * i], [1.0], fold=f, augment_shift=[[0.1 + 0.05 * i]]) for f in (0, 1) for i in range(3)]
    _search_run(tmp_path, "crossfit", 0, records)
    paths = hyperstep_drift.collect([(tmp_path, str(tmp_path))])
    assert len(paths[(LABEL, "offsets")]) == 2
    assert hyperstep_drift.drift(paths[(LABEL, "offsets")])["net"] == pytest.approx(0.2)
    assert hyperstep_drift.drift(paths[(LABEL, "augment_shift")])["net"] == pytest.approx(0.1)


def test_a_tree_without_traces_is_refused_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no hyper-step trace"):
        hyperstep_drift.collect([(tmp_path / "empty", str(tmp_path / "empty"))])


def test_power_law_exponents_are_recovered_from_the_traced_tables(tmp_path):
    counts = [400, 100, 20, 4]
    shape = [math.log(n / counts[0]) for n in counts]
    centred = [s - sum(shape) / len(shape) for s in shape]
    taus = [1.0, 1.1, 1.2, 1.3, 1.25, 1.35]  # rises on 4 of 5 steps, 2 of the last 3
    gammas = [0.0, 0.05, 0.03, 0.06, 0.04, 0.05]
    records = [_step([t * c for c in centred], [math.exp(g * s) for s in shape])
               for t, g in zip(taus, gammas, strict=True)]
    _search_run(tmp_path, "s0", 0, records)
    exported = {"parametrization": "power_law", "learned_parts": ["scales", "offsets"], "train_counts": counts}
    (tmp_path / "s0" / "learned_loss.yaml").write_text(yaml.safe_dump(exported))
    rows = {r["exponent"]: r for r in hyperstep_drift.exponent_rows([(tmp_path, str(tmp_path))])}
    tau, gamma = rows["tau"], rows["gamma"]
    assert (tau["first"], tau["largest"], tau["last"]) == pytest.approx((1.0, 1.35, 1.35))
    assert (tau["rises"], tau["steps"], tau["late_rises"], tau["late_steps"]) == (4, 5, 2, 3)
    assert (gamma["largest"], gamma["last"]) == pytest.approx((0.06, 0.05))
    assert (gamma["rises"], gamma["late_rises"]) == (3, 2)
    table = hyperstep_drift.exponents_markdown(list(rows.values()))
    assert any(line.endswith("| 0 | tau | 1.000 | 1.350 | 1.350 | 4 of 5 | 2 of 3 |") for line in table)


def test_a_per_class_search_has_no_exponents_to_show(tmp_path):
    _search_run(tmp_path, "s0", 0, [_step([0.1 * i], [1.0]) for i in range(3)])
    (tmp_path / "s0" / "learned_loss.yaml").write_text(yaml.safe_dump({"parametrization": "per_class"}))
    with pytest.raises(SystemExit, match="no power-law search"):
        hyperstep_drift.exponent_rows([(tmp_path, str(tmp_path))])

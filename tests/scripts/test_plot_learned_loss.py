"""scripts/plot_learned_loss.py on run directories holding learned-loss files."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plot_learned_loss.py"
spec = importlib.util.spec_from_file_location("plot_learned_loss", SCRIPT)
plot_learned_loss = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_learned_loss)

COUNTS = [100, 10, 1]


def _search_run(root: Path, name: str, init: str, seed: int, scales: list[float], offsets: list[float]) -> None:
    d = root / name
    d.mkdir(parents=True)
    cfg = {"data": {"rho": 100.0}, "loss": {"name": "ce"},
           "search": {"enabled": True, "hypergrad": {"method": "last_layer"},
                      "family": {"learn": ["scales", "offsets"], "init": init}}}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "metrics.json").write_text(json.dumps({"dataset": "toy", "seed": seed, "test": {"balanced_error": 10.0}}))
    (d / "learned_loss.yaml").write_text(yaml.safe_dump({
        "class_names": ["a", "b", "c"], "train_counts": COUNTS, "learned_parts": ["scales", "offsets"],
        "scales": [scales], "offsets": [offsets], "weights": [[1.0, 1.0, 1.0]], "augmentation": None}))


def test_tables_are_averaged_over_seeds_per_method_and_drawn_against_the_references(tmp_path):
    _search_run(tmp_path, "la0", "la", 0, [1.0, 0.8, 0.6], [2.0, 0.0, -2.0])
    _search_run(tmp_path, "la1", "la", 1, [1.0, 1.0, 0.8], [3.0, 0.0, -3.0])
    _search_run(tmp_path, "vs0", "vs", 0, [0.9, 0.5, 0.4], [1.0, 0.0, -1.0])
    values, meta = plot_learned_loss.collect([(tmp_path, str(tmp_path))])
    la = "autobalance-last_layer(scales+offsets) [search.family.init=la]"
    assert values[(la, "offsets")] == [[2.0, 0.0, -2.0], [3.0, 0.0, -3.0]]
    lines = plot_learned_loss.plot(values, meta, tmp_path / "out")
    assert f"| {la} | offsets | 2 | 2.500 | 0.000 | -2.500 |" in lines
    assert f"| {la} | scales | 2 | 1.000 | 0.900 | 0.700 |" in lines
    assert (tmp_path / "out" / "learned_loss.png").stat().st_size > 0
    offsets, _ = plot_learned_loss.reference("offsets", meta)
    assert offsets.sum() == pytest.approx(0.0) and offsets[0] - offsets[2] == pytest.approx(4.60517, rel=1e-5)
    scales, _ = plot_learned_loss.reference("scales", meta)
    assert scales.tolist() == pytest.approx([1.0, 0.1 ** 0.2, 0.01 ** 0.2])
    by_dir, _ = plot_learned_loss.collect([(tmp_path, str(tmp_path))], label_by_dir=True)
    assert by_dir[("vs0", "scales")] == [[0.9, 0.5, 0.4]]


def test_a_tree_without_learned_losses_is_refused_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no learned-loss file"):
        plot_learned_loss.collect([(tmp_path / "empty", str(tmp_path / "empty"))])


def test_learned_regularizers_are_drawn_against_the_optimizers_decay_and_label_aware_smoothing(tmp_path):
    d = tmp_path / "reg"
    _search_run(tmp_path, "reg", "la", 0, [1.0, 0.8, 0.6], [2.0, 0.0, -2.0])
    saved = yaml.safe_load((d / "learned_loss.yaml").read_text())
    saved.update(learned_parts=["scales", "weight_decay", "label_smoothing"],
                 weight_decay={"reference": 1e-4, "max_ratio": 10.0, "rows": [1e-4, 2e-4, 5e-4], "rest": 1e-4},
                 label_smoothing={"max": 0.5, "values": [[0.2, 0.1, 0.0]]})
    (d / "learned_loss.yaml").write_text(yaml.safe_dump(saved))
    values, meta = plot_learned_loss.collect([(tmp_path, str(tmp_path))])
    label = next(label for label, _ in values)
    assert values[(label, "weight_decay")] == [[1e-4, 2e-4, 5e-4]] and (label, "offsets") not in values
    lines = plot_learned_loss.plot(values, meta, tmp_path / "out")
    assert f"| {label} | label_smoothing | 1 | 0.200 | 0.100 | 0.000 |" in lines
    assert f"| {label} | weight_decay | 1 | 0.0001 | 0.0002 | 0.0005 |" in lines
    assert plot_learned_loss.reference("weight_decay", meta)[0].tolist() == [1e-4] * 3
    assert plot_learned_loss.reference("label_smoothing", meta)[0].tolist() == pytest.approx([0.3, 0.3 * 9 / 99, 0.0])

"""scripts/plot_pareto.py on a summary.csv shaped like aggregate.py's."""

import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plot_pareto.py"
spec = importlib.util.spec_from_file_location("plot_pareto", SCRIPT)
plot_pareto = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_pareto)

FIELDS = ["method", "objective", "fairness_weight", "average_group_error_mean", "worst_group_error_mean", "deo_mean"]


def _write(path: Path, rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows(rows)
    return path


def test_trade_off_rows_are_told_apart_by_their_weight_and_drawn(tmp_path):
    summary = _write(tmp_path / "summary.csv", [
        ["ce", "", "", 13.0, 28.0, 49.0],
        ["ab [objective.fairness_weight=0.5]", "worst_group", "", 6.0, 8.0, 2.0],
        ["ab [objective.fairness_weight=1]", "trade_off", 1.0, 7.0, 9.0, 0.5],
        ["ab [objective.fairness_weight=0]", "trade_off", 0.0, 5.5, 8.5, 3.0],
        ["no groups", "", "", "nan", "nan", "nan"],
    ])
    rows = plot_pareto.read(summary)
    assert [r["method"] for r in rows][-1] == "ab [objective.fairness_weight=0]"  # the row without groups is gone
    assert [plot_pareto.fairness_weight(r) for r in rows] == [None, None, 1.0, 0.0]
    out = plot_pareto.plot(rows, tmp_path / "pareto.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_summary_without_groups_is_refused(tmp_path):
    summary = _write(tmp_path / "summary.csv", [["ce", "", "", "nan", "nan", "nan"]])
    with pytest.raises(SystemExit, match="no row with group metrics"):
        plot_pareto.read(summary)

"""Run outputs a person can read: metrics.json, a per-class CSV, and a console summary."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from autobalance.frequency_bins import frequency_bins

GAPS = ("deo", "equalized_odds_difference", "demographic_parity_difference")
"""Fairness gaps, in percentage points."""
HEADLINE = ("balanced_error", "few_shot_error", "worst_class_error", "cvar_error", "class_error_std",
            "weighted_error", "worst_group_error", "average_group_error", "worst_attribute_error", *GAPS,
            "objective_error")
"""The headline numbers of a run (errors in percent, gaps in points), wherever they apply."""


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=_unserializable) + "\n")


def _unserializable(obj: Any) -> Any:
    raise TypeError(f"not JSON serializable: {type(obj)}")


def finite(data: Any) -> Any:
    """Replace NaN/inf by None so the JSON stays standard."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def write_per_class_csv(path: Path, class_names: list[str], train_counts: list[int],
                        test_counts: list[int], accuracy: list[float],
                        extra: dict[str, list[float]] | None = None) -> None:
    extra = extra or {}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "name", "train_count", "test_count", "test_accuracy", *extra])
        for k, name in enumerate(class_names):
            w.writerow([k, name, train_counts[k], test_counts[k], f"{accuracy[k]:.4f}",
                        *(f"{v[k]:.6g}" for v in extra.values())])


def write_per_group_csv(path: Path, class_names: list[str], counts: dict[str, list[list[int]]],
                        accuracy: list[list[float]]) -> None:
    """One row per group (attribute, class): its counts per split and its test accuracy."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["attribute", "class", "name", *(f"{split}_count" for split in counts), "test_accuracy"])
        for a, row in enumerate(accuracy):
            for k, value in enumerate(row):
                w.writerow([a, k, class_names[k], *(table[a][k] for table in counts.values()), f"{value:.4f}"])


def write_predictions_csv(path: Path, labels: list[int], predictions: list[int],
                          attributes: list[int] | None = None, class_names: list[str] | None = None) -> None:
    """The final model's test predictions, one row per test example (in the test split's order),
    for metrics of your own (fairlearn's, for instance): class indices and, with ``class_names``,
    the classes' names as the data names them."""
    names = class_names is not None
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "label", "prediction", *(["label_name", "prediction_name"] if names else []),
                    *(["attribute"] if attributes is not None else [])])
        for i, (y, p) in enumerate(zip(labels, predictions, strict=True)):
            w.writerow([i, y, p, *([class_names[y], class_names[p]] if names else []),
                        *([attributes[i]] if attributes is not None else [])])


def summary_table(metrics: dict[str, Any], class_names: list[str], train_counts: list[int],
                  extra: dict[str, list[float]] | None = None, counts_title: str = "train") -> str:
    """A fixed-width table, per class up to 20 classes and per frequency-rank bin (means over
    its classes) beyond, followed by the headline metrics."""
    extra = extra or {}
    bins = frequency_bins(class_names, train_counts)
    binned = len(bins) < len(class_names)
    width = 30 if binned else 14
    widths = {k: max(9, len(k)) for k in extra}
    small = {k: 0 < float(np.abs(np.asarray(v)).max()) < 0.01 for k, v in extra.items()}  # weight decays
    header = (f"{'classes' if binned else 'class':>{width}} {counts_title:>9} {'test acc':>9}"
              + "".join(f" {k:>{widths[k]}}" for k in extra))
    lines = [header, "-" * len(header)]
    accuracy = np.asarray(metrics["per_class_accuracy"])
    for label, idx in bins:
        train = f"{np.mean(np.asarray(train_counts)[idx]):>9.0f}"
        row = f"{label[:width]:>{width}} {train} {accuracy[idx].mean():>9.3f}"
        lines.append(row + "".join(f" {np.asarray(v)[idx].mean():>{widths[k]}.{'2e' if small[k] else '3f'}}"
                                   for k, v in extra.items()))
    lines.append("-" * len(header))
    for key in HEADLINE:
        if metrics.get(key) is not None:
            lines.append(f"{_headline_label(key, metrics):>29}: {metrics[key]:.2f} "
                         f"{_unit(metrics.get('objective_metric', '') if key == 'objective_error' else key)}")
    if "per_group_accuracy" in metrics:
        lines.append(group_table(metrics["per_group_accuracy"], class_names))
    return "\n".join(lines)


def _headline_label(key: str, metrics: dict[str, Any]) -> str:
    if key == "cvar_error":
        return f"cvar_error (alpha {metrics.get('cvar_alpha', 0.2):g})"
    if key == "objective_error":
        return f"objective ({metrics.get('objective_metric')})"
    return key


def _unit(key: str) -> str:
    return "points" if key in (*GAPS, "class_error_std") else "%"


def group_table(per_group_accuracy: list[list[float]], class_names: list[str]) -> str:
    """Accuracy of each group: one row per attribute value, one column per class."""
    names = [name[:9] for name in class_names]
    lines = ["group accuracy (attribute x class):", f"{'attribute':>9}" + "".join(f" {n:>9}" for n in names)]
    for a, row in enumerate(per_group_accuracy):
        lines.append(f"{a:>9}" + "".join(f" {v:>9.3f}" for v in row))
    return "\n".join(lines)


def data_line(summary: dict[str, Any]) -> str:
    """One line on what the run trains on, printed before the first (possibly long) epoch."""
    counts = summary["counts"]
    values = summary["num_attribute_values"]
    attribute = f", {values} attribute values" if values > 1 else ""
    line = (f"data: {summary['dataset']}, {len(summary['class_names'])} classes{attribute}; "
            f"train {sum(counts['train'])} (per class {max(counts['train'])} down to {min(counts['train'])}, imbalance "
            f"{summary['imbalance_ratio']:.1f}), validation {sum(counts['val'])}, test {sum(counts['test'])}")
    if "label_map" in summary:
        pairs = [f"{label} -> {index}" for label, index in summary["label_map"].items()]
        shown = ", ".join(pairs[:10]) + (f", ... ({len(pairs)} in data_summary.json)" if len(pairs) > 10 else "")
        line += f"\nlabels as classes: {shown}"
    if "attribute_map" in summary:
        line += "\nattribute values: " + ", ".join(f"{v} -> {i}" for v, i in summary["attribute_map"].items())
    if "feature_encoding" in summary:
        columns = summary["feature_encoding"]["categorical_columns"]
        line += "\ncategorical features one-hot: " + ", ".join(f"{c} ({len(v)} categories)" for c, v in columns.items())
    return line


def summary_record(results: dict[str, Any]) -> dict[str, Any]:
    """The final numbers of the run's model (the learned loss after a search) for W&B's summary:
    headline errors, per-class accuracy up to 100 classes, each paired baseline and the gap; after
    ``stage=search`` (the test split unread) the hyper-step counts."""
    if "test" not in results:
        return {k: results[k] for k in ("hyper_steps", "hyper_steps_skipped") if k in results}
    test = results["test"]
    record: dict[str, Any] = {k: test[k] for k in HEADLINE if test.get(k) is not None}
    if len(test["per_class_accuracy"]) <= 100:
        record["per_class_accuracy"] = test["per_class_accuracy"]
    for key, other in results.items():
        if key.endswith("_test") and isinstance(other, dict):
            name = key.removesuffix("_test")
            record[f"{name}/balanced_error"] = other["balanced_error"]
            record[f"minus_{name}/balanced_error"] = test["balanced_error"] - other["balanced_error"]
    return record

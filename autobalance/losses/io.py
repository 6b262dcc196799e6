"""Learned losses as small, human-readable YAML files (effective per-class values).

Format v2 adds the per-class augmentation magnitudes (``augmentation``: operations, bounds and
one (G, K) table per operation); v1 files (no augmentation) still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from autobalance.errors import InputError
from autobalance.losses.family import ParametricLoss

FORMAT = "autobalance.learned_loss/v2"
READABLE = ("autobalance.learned_loss/v1", FORMAT)


def _rows(t: torch.Tensor) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in t.double()]


def loss_to_dict(loss: ParametricLoss, class_names: list[str], counts: list[int],
                 provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-class effective values (G x K tables) with the class names and counts they belong to."""
    values = loss.values()
    return {
        "format": FORMAT,
        "class_names": list(class_names),
        "train_counts": [int(c) for c in counts],
        "num_groups": loss.num_groups,
        "scale_map": loss.scale_map,
        "cluster_size": loss.cluster_size,
        "learned_parts": list(loss.learn),
        "parametrization": loss.parametrization,
        "exponents": {part: [round(float(v), 6) for v in e] for part, e in loss.exponents().items()} or None,
        "scales": _rows(values["scales"]),
        "offsets": _rows(values["offsets"]),
        "weights": _rows(values["weights"]),
        "augmentation": None if loss.augmentation is None else {
            "ops": list(loss.augmentation.ops),
            "bounds": dict(loss.augmentation.bounds),
            "magnitudes": {op: [[float(f"{v:.7g}") for v in row] for row in values[f"augment_{op}"].double()]
                           for op in loss.augmentation.ops},
        },
        "provenance": provenance or {},
    }


def save_loss(path: str | Path, loss: ParametricLoss, class_names: list[str], counts: list[int],
              provenance: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(loss_to_dict(loss, class_names, counts, provenance),
                                  sort_keys=False, width=120))
    tmp.replace(path)
    return path


def read_loss_file(path: str | Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"learned loss file {path} does not exist (loss.path)")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or data.get("format") not in READABLE:
        raise InputError(f"{path} is not a learned-loss file (expected format: one of {', '.join(READABLE)})")
    return data


def load_loss(path: str | Path, num_classes: int | None = None,
              learn: tuple[str, ...] = ()) -> ParametricLoss:
    """A :class:`ParametricLoss` holding the file's values; fixed unless ``learn`` names parts."""
    data = read_loss_file(path)
    k = len(data["class_names"])
    if num_classes is not None and num_classes != k:
        raise InputError(f"{path} holds a loss for {k} classes but the data has {num_classes}")
    augmentation = data.get("augmentation") or {"ops": [], "magnitudes": {}, "bounds": {}}
    bounds = augmentation["bounds"]
    magnitudes = {op: torch.tensor(table, dtype=torch.float64).clamp(bounds[op] * 1e-7, bounds[op] * (1 - 1e-7))
                  for op, table in augmentation["magnitudes"].items()}  # printed digits may touch a bound
    return ParametricLoss(k, int(data["num_groups"]), learn=learn, scale_map="exp",
                          scales=data["scales"], offsets=data["offsets"], weights=data["weights"],
                          augment_ops=augmentation["ops"], augment=magnitudes, augment_bounds=bounds,
                          augment_max_ratio=None)

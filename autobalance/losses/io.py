"""Learned losses as small, human-readable YAML files (effective per-class values).

Format v2 adds the per-class augmentation magnitudes (``augmentation``: operations, bounds and
one (G, K) table per operation); v3 the label smoothing ((G, K) ``label_smoothing`` and its bound)
and the weight decay (``weight_decay``: the classifier rows' decays, the rest's, the reference
and bound of their map). Older files are read into today's form by :mod:`autobalance.legacy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from autobalance.errors import InputError
from autobalance.legacy import OLD_LOSS_FORMATS, current_loss_file
from autobalance.losses.family import ParametricLoss

FORMAT = "autobalance.learned_loss/v3"
READABLE = (*OLD_LOSS_FORMATS, FORMAT)


def _rows(t: torch.Tensor) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in t.double()]


def _significant(t: torch.Tensor) -> list[list[float]]:
    """Rows to 7 significant digits: for values whose scale is far from 1 (decays, magnitudes)."""
    return [[float(f"{v:.7g}") for v in row] for row in t.double()]


def _inside(values, low: float, high: float) -> torch.Tensor:
    """A file's table as a tensor, nudged inside the open bounds its printed digits may touch."""
    t = torch.tensor(values, dtype=torch.float64)
    span = high - low
    return t.clamp(low + span * 1e-7, high - span * 1e-7)


def loss_to_dict(loss: ParametricLoss, class_names: list[str], counts: list[int],
                 provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-class effective values (G x K tables) with the class names and counts they belong to."""
    values = loss.values()
    return {
        "format": FORMAT,
        "class_names": list(class_names),
        "train_counts": [int(c) for c in counts],
        "num_attribute_values": loss.num_attribute_values,
        "scale_map": loss.scale_map,
        "cluster_size": loss.cluster_size,
        "learned_parts": list(loss.learn),
        "parametrization": loss.parametrization,
        "exponents": {part: [round(float(v), 6) for v in e] for part, e in loss.exponents().items()} or None,
        "attribute_map": None if loss.parametrization != "attributes" else {
            "attributes": list(loss.attribute_names), "values": _rows(loss.class_attributes),
            "coefficients": loss.coefficients(), **({"hidden_map": loss.hidden_map()} if loss.map_hidden else {})},
        "scales": _rows(values["scales"]),
        "offsets": _rows(values["offsets"]),
        "weights": _rows(values["weights"]),
        "augmentation": None if loss.augmentation is None else {
            "ops": list(loss.augmentation.ops),
            "bounds": dict(loss.augmentation.bounds),
            "magnitudes": {op: _significant(values[f"augment_{op}"]) for op in loss.augmentation.ops},
        },
        "label_smoothing": None if loss.raw_label_smoothing is None else {
            "max": loss.smoothing_max, "values": _significant(values["label_smoothing"])},
        "weight_decay": None if loss.regularizer is None else {
            "reference": float(f"{float(loss.regularizer.reference):.7g}"), "max_ratio": loss.regularizer.max_ratio,
            "rows": _significant(values["weight_decay"])[0], "rest": _significant(values["weight_decay_rest"])[0][0]},
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


def read_loss_file(path: str | Path, setting: str = "loss.path") -> dict[str, Any]:
    """The file's contents; a missing file is named with the ``setting`` that gave its path."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"learned loss file {path} does not exist ({setting})")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not a learned-loss file: it does not read as YAML ({type(e).__name__}; "
                         f"{setting})") from None
    if not isinstance(data, dict) or data.get("format") not in READABLE:
        raise InputError(f"{path} is not a learned-loss file (expected format: one of {', '.join(READABLE)})")
    return current_loss_file(data, FORMAT)


def load_loss(path: str | Path, num_classes: int | None = None,
              learn: tuple[str, ...] = (), setting: str = "loss.path") -> ParametricLoss:
    """A :class:`ParametricLoss` holding the file's values; fixed unless ``learn`` names parts.
    ``setting`` names where the path came from, in the errors."""
    data = read_loss_file(path, setting)
    k = len(data["class_names"])
    if num_classes is not None and num_classes != k:
        raise InputError(f"{path} holds a loss for {k} classes but the data has {num_classes}")
    augmentation = data["augmentation"] or {"ops": [], "magnitudes": {}, "bounds": {}}
    bounds = augmentation["bounds"]
    magnitudes = {op: _inside(table, 0.0, bounds[op]) for op, table in augmentation["magnitudes"].items()}
    smoothing, decay = data["label_smoothing"], data["weight_decay"]
    regularization = {}
    if smoothing is not None:
        regularization.update(smoothing_max=smoothing["max"], label_smoothing=torch.tensor(
            smoothing["values"], dtype=torch.float64).clamp(0.0, smoothing["max"] * (1 - 1e-7)))
    if decay is not None:
        ref, ratio = decay["reference"], decay["max_ratio"]
        low, high = ref / ratio, ref * ratio
        regularization.update(decay_reference=ref, decay_max_ratio=ratio,
                              weight_decay=_inside(decay["rows"], low, high),
                              weight_decay_rest=float(_inside([decay["rest"]], low, high)[0]))
    return ParametricLoss(k, int(data["num_attribute_values"]), learn=learn, scale_map="exp",
                          scales=data["scales"], offsets=data["offsets"], weights=data["weights"],
                          augment_ops=augmentation["ops"], augment=magnitudes, augment_bounds=bounds,
                          augment_max_ratio=None, **regularization)

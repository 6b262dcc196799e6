"""Per-class attributes: what a class-attribute map (CAP, Zhang et al. 2024) reads to give each
class its loss or adjustment value, instead of a free value per class.

Each attribute is one number per class: ``log_frequency`` (log n_k / n_max of the training
counts), ``noise_rate`` (the rate at which the class's training labels were flipped, where the
user knows it: ``data.label_noise`` records it), ``class_weight`` (log of the objective's
per-class cost), ``difficulty`` (a model's per-class validation cross-entropy) and
``training_loss`` (a model's per-class mean training cross-entropy against the training labels: an
estimate of label noise, as flipped labels are the ones a model fits last). The last two are
*measured*: the post-hoc stage measures them on the final model, a search on its model as the
hyper-steps begin (:func:`measure`; until then their rows are zero, so the map ignores them). The matrix
:func:`attribute_matrix` stacks the chosen ones as standardized rows (mean 0, standard deviation
1 over the classes), leaving out those that do not vary, so that a linear map's coefficients are
comparable and a map over them has as many numbers as attributes, not classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from autobalance.data.bundle import DataBundle, TensorSplit
from autobalance.errors import InputError
from autobalance.group_metrics import index_means

ATTRIBUTES = ("log_frequency", "noise_rate", "class_weight", "difficulty", "training_loss")
MEASURED = {"difficulty": "val", "training_loss": "train"}
"""The attributes measured on a model, and the split each is measured on."""


def attribute_matrix(names: Sequence[str], values: Mapping[str, Sequence[float] | None],
                     num_classes: int | None = None, measured_later: bool = False) -> tuple[torch.Tensor, list[str]]:
    """An (A, K) float64 matrix of the attributes ``names`` (standardized rows) and the names it
    kept; an attribute whose values are all equal is left out (it cannot tell classes apart).
    ``values`` holds each attribute's K numbers (None where the run has none). With
    ``measured_later``, a measured attribute without values gets a zero row of ``num_classes``
    (to be filled by :func:`measure` and :func:`standardized`)."""
    rows, kept = [], []
    for name in names:
        if name not in ATTRIBUTES:
            raise InputError(f"class attribute {name!r}: expected one of {', '.join(ATTRIBUTES)}")
        column = values.get(name)
        if column is None and measured_later and name in MEASURED:
            rows.append(torch.zeros(num_classes, dtype=torch.float64))
            kept.append(name)
            continue
        if column is None:
            raise InputError(f"class attribute {name!r} has no values in this run ({_why_missing(name)})")
        row = standardized(column)
        if row is not None:
            rows.append(row)
            kept.append(name)
    if not rows:
        raise InputError(f"class attributes {list(names)} are the same for every class; a map over them "
                         "cannot tell classes apart (use parametrization per_class, or other attributes)")
    return torch.stack(rows), kept


def standardized(column: Sequence[float] | torch.Tensor) -> torch.Tensor | None:
    """The K numbers with mean 0 and standard deviation 1 (float64); None when they are all equal."""
    t = torch.as_tensor(column, dtype=torch.float64)
    spread = t.std(correction=0)
    return (t - t.mean()) / spread if float(spread) > 1e-12 else None


@torch.no_grad()
def per_class_means(model: torch.nn.Module, data: DataBundle, split: TensorSplit,
                    per_example: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The mean of ``per_example(logits, targets)`` over each class of ``split``, float64 (eval mode,
    unaugmented inputs, plain logits; 0 for a class absent there)."""
    was_training = model.training
    model.eval()
    values = [per_example(model(x).double(), y) for x, y, _ in data.eval_batches(split)]
    model.train(was_training)
    means, _ = index_means(torch.cat(values).double(), split.y, data.num_classes)
    return means.cpu()


def measure(name: str, model: torch.nn.Module, data: DataBundle) -> list[float]:
    """The measured attribute ``name`` of ``model``: its mean cross-entropy per class on the split
    :data:`MEASURED` names."""
    split = getattr(data, MEASURED[name])
    return per_class_means(model, data, split, lambda z, y: F.cross_entropy(z, y, reduction="none")).tolist()


def _why_missing(name: str) -> str:
    return {"noise_rate": "set data.label_noise, whose rates it is",
            "class_weight": "set objective.class_weights",
            "difficulty": "it is measured on a trained model's validation outputs",
            "training_loss": "it is measured on a trained model's training outputs"}.get(name, "")


def log_frequency(counts: Sequence[int]) -> list[float]:
    """log(n_k / n_max); classes without training examples count as one."""
    t = torch.as_tensor(counts, dtype=torch.float64).clamp_min(1)
    return (t / t.max()).log().tolist()


def attribute_values(counts: Sequence[int], label_noise: Mapping | None = None,
                     class_weights: Sequence[float] | None = None,
                     difficulty: Sequence[float] | None = None,
                     training_loss: Sequence[float] | None = None) -> dict[str, list[float] | None]:
    """Each attribute's K numbers in a run: from its training counts, its ``data_summary.json``
    label-noise record, its objective's class weights and, where measured, a model's per-class
    validation and training cross-entropy (None where the run has none)."""
    return {"log_frequency": log_frequency(counts),
            "noise_rate": None if label_noise is None else list(label_noise["rates"]),
            "class_weight": None if class_weights is None else [math.log(max(w, 1e-12)) for w in class_weights],
            "difficulty": None if difficulty is None else list(difficulty),
            "training_loss": None if training_loss is None else list(training_loss)}

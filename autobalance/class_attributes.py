"""Per-class attributes: what a class-attribute map (CAP, Zhang et al. 2024) reads to give each
class its loss or adjustment value, instead of a free value per class.

Each attribute is one number per class: ``log_frequency`` (log n_k / n_max of the training
counts), ``noise_rate`` (the rate at which the class's training labels were flipped, where the
user knows it: ``data.label_noise`` records it), ``class_weight`` (log of the objective's
per-class cost) and ``difficulty`` (a model's per-class validation cross-entropy). The matrix
:func:`attribute_matrix` stacks the chosen ones as standardized rows (mean 0, standard deviation
1 over the classes), leaving out those that do not vary, so that a linear map's coefficients are
comparable and a map over them has as many numbers as attributes, not classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from autobalance.errors import InputError

ATTRIBUTES = ("log_frequency", "noise_rate", "class_weight", "difficulty")


def attribute_matrix(names: Sequence[str],
                     values: Mapping[str, Sequence[float] | None]) -> tuple[torch.Tensor, list[str]]:
    """An (A, K) float64 matrix of the attributes ``names`` (standardized rows) and the names it
    kept; an attribute whose values are all equal is left out (it cannot tell classes apart).
    ``values`` holds each attribute's K numbers (None where the run has none)."""
    rows, kept = [], []
    for name in names:
        if name not in ATTRIBUTES:
            raise InputError(f"class attribute {name!r}: expected one of {', '.join(ATTRIBUTES)}")
        column = values.get(name)
        if column is None:
            raise InputError(f"class attribute {name!r} has no values in this run ({_why_missing(name)})")
        t = torch.as_tensor(column, dtype=torch.float64)
        spread = t.std(correction=0)
        if float(spread) > 1e-12:
            rows.append((t - t.mean()) / spread)
            kept.append(name)
    if not rows:
        raise InputError(f"class attributes {list(names)} are the same for every class; a map over them "
                         "cannot tell classes apart (use parametrization per_class, or other attributes)")
    return torch.stack(rows), kept


def _why_missing(name: str) -> str:
    return {"noise_rate": "set data.label_noise, whose rates it is",
            "class_weight": "set objective.class_weights",
            "difficulty": "it is measured on a trained model's validation outputs"}.get(name, "")


def log_frequency(counts: Sequence[int]) -> list[float]:
    """log(n_k / n_max); classes without training examples count as one."""
    t = torch.as_tensor(counts, dtype=torch.float64).clamp_min(1)
    return (t / t.max()).log().tolist()


def attribute_values(counts: Sequence[int], label_noise: Mapping | None = None,
                     class_weights: Sequence[float] | None = None,
                     difficulty: Sequence[float] | None = None) -> dict[str, list[float] | None]:
    """Each attribute's K numbers in a run: from its training counts, its ``data_summary.json``
    label-noise record, its objective's class weights and, where measured, a model's per-class
    validation cross-entropy (None where the run has none)."""
    return {"log_frequency": log_frequency(counts),
            "noise_rate": None if label_noise is None else list(label_noise["rates"]),
            "class_weight": None if class_weights is None else [math.log(max(w, 1e-12)) for w in class_weights],
            "difficulty": None if difficulty is None else list(difficulty)}

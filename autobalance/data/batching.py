"""Seeded index samplers over device-resident data.

Each epoch's order depends only on (seed, epoch), so a resumed run draws the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from autobalance.errors import InputError

SAMPLERS = ("shuffle", "class_balanced", "sqrt", "group_balanced")
"""``group_balanced`` is ``class_balanced`` over (class, attribute) groups; the caller passes
the group index as the labels (:func:`sampling_labels`)."""


def sampling_labels(labels: torch.Tensor, attributes: torch.Tensor | None, num_classes: int,
                    sampler: str) -> tuple[torch.Tensor, int, str]:
    """What a sampler balances: for ``group_balanced`` each example's group index
    ``attribute * K + class`` (the classes without an attribute), balanced like classes."""
    if sampler != "group_balanced":
        return labels, num_classes, sampler
    if attributes is None:
        return labels, num_classes, "class_balanced"
    num_attributes = int(attributes.max()) + 1 if len(attributes) else 1
    return attributes * num_classes + labels, num_attributes * num_classes, "class_balanced"


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for one (seed, epoch, stream); streams separate batches from augmentation."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 7 + stream)


def example_weights(labels: torch.Tensor, num_classes: int, sampler: str) -> torch.Tensor | None:
    """Per-example sampling weights; None means uniform without replacement (``shuffle``)."""
    if sampler == "shuffle":
        return None
    counts = torch.bincount(labels, minlength=num_classes).double().clamp(min=1)
    if sampler == "class_balanced":
        per_class = 1.0 / counts
    elif sampler == "sqrt":
        per_class = counts.rsqrt()
    else:
        raise InputError(f"unknown sampler {sampler!r}; expected one of {SAMPLERS}")
    return per_class[labels]


def epoch_order(
    labels: torch.Tensor, num_classes: int, sampler: str, gen: torch.Generator
) -> torch.Tensor:
    """One epoch of example indices (len(labels) of them), on the CPU."""
    weights = example_weights(labels.cpu(), num_classes, sampler)
    if weights is None:
        return torch.randperm(len(labels), generator=gen)
    return torch.multinomial(weights, len(labels), replacement=True, generator=gen)


def batches(order: torch.Tensor, batch_size: int, min_size: int = 2) -> Iterator[torch.Tensor]:
    """Consecutive chunks of ``order``; a trailing chunk under ``min_size`` examples is dropped
    (BatchNorm needs two per process: ``min_size`` is twice the number of ranks sharing it)."""
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        if len(chunk) >= min_size or len(chunk) == len(order):
            yield chunk


def sample_indices(labels: torch.Tensor, num_classes: int, sampler: str, n: int,
                   gen: torch.Generator) -> torch.Tensor:
    """``n`` indices for one batch: without replacement for ``shuffle`` (when n fits), with
    replacement under the sampler's weights otherwise."""
    weights = example_weights(labels.cpu(), num_classes, sampler)
    if weights is None:
        if n <= len(labels):
            return torch.randperm(len(labels), generator=gen)[:n]
        return torch.randint(len(labels), (n,), generator=gen)
    return torch.multinomial(weights, n, replacement=True, generator=gen)

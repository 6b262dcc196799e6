"""Seeded, disjoint train/validation splits of an (imbalanced) training set."""

from __future__ import annotations

import numpy as np

from autobalance.errors import InputError

SPLIT_STRATEGIES = ("stratified", "balanced", "none")


def train_val_split(
    labels: np.ndarray,
    num_classes: int,
    strategy: str = "stratified",
    fraction: float = 0.2,
    per_class: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted (train_indices, val_indices) into ``labels``.

    ``stratified``: round(fraction * n_c) validation examples of class c, at least one, while
    leaving at least one for training. ``balanced``: ``per_class`` of each class (classes with
    fewer keep one for training). ``none``: no validation split.
    """
    if strategy not in SPLIT_STRATEGIES:
        raise InputError(f"unknown split strategy {strategy!r}; expected one of {SPLIT_STRATEGIES}")
    all_idx = np.arange(len(labels))
    if strategy == "none":
        return all_idx, np.zeros(0, dtype=np.int64)
    if strategy == "stratified" and not 0.0 < fraction < 1.0:
        raise InputError(f"split fraction={fraction} must be in (0, 1)")
    if strategy == "balanced" and per_class < 1:
        raise InputError(f"split per_class={per_class} must be >= 1")
    rng = np.random.default_rng(seed)
    val = []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) < 2:
            continue
        n_val = round(fraction * len(idx)) if strategy == "stratified" else per_class
        val.append(idx[: min(max(n_val, 1), len(idx) - 1)])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    return np.setdiff1d(all_idx, val_idx), val_idx


def stratified_folds(strata: np.ndarray, folds: int, seed: int = 0) -> list[np.ndarray]:
    """``folds`` disjoint, sorted index sets covering ``strata`` (labels, or label x attribute
    cells): each stratum's examples, shuffled, dealt round-robin, so every fold holds
    floor or ceil of 1/folds of each; a stratum smaller than ``folds`` is refused, since some
    fold would validate without it."""
    if folds < 2:
        raise InputError(f"folds={folds}: expected at least 2")
    values, sizes = np.unique(strata, return_counts=True)
    if (sizes < folds).any():
        small = {int(v): int(n) for v, n in zip(values, sizes, strict=True) if n < folds}
        raise InputError(f"cross-fitting with {folds} folds needs at least {folds} examples of every class "
                         f"(and group); these have fewer: {small}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(folds)]
    start = rng.integers(folds)  # which fold takes a stratum's remainder varies with the seed
    for i, value in enumerate(values):
        idx = rng.permutation(np.flatnonzero(strata == value))
        for f in range(folds):
            parts[(f + start + i) % folds].append(idx[f::folds])
    return [np.sort(np.concatenate(p)) for p in parts]

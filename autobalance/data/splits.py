"""Seeded, disjoint train/validation splits of an (imbalanced) training set."""

from __future__ import annotations

import numpy as np

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
        raise ValueError(f"unknown split strategy {strategy!r}; expected one of {SPLIT_STRATEGIES}")
    all_idx = np.arange(len(labels))
    if strategy == "none":
        return all_idx, np.zeros(0, dtype=np.int64)
    if strategy == "stratified" and not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction={fraction} must be in (0, 1)")
    if strategy == "balanced" and per_class < 1:
        raise ValueError(f"split per_class={per_class} must be >= 1")
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

"""Long-tailed class-count profiles and seeded subsampling (LDAM-DRW construction)."""

from __future__ import annotations

import numpy as np

from autobalance.errors import InputError

PROFILES = ("exp", "step", "none")


def long_tail_counts(n_max: int, num_classes: int, rho: float, profile: str = "exp") -> list[int]:
    """Per-class counts, class 0 the most frequent.

    ``exp``: n_i = int(n_max * (1/rho)^(i/(K-1))), the LDAM-DRW profile.
    ``step``: the first half of the classes keep n_max, the rest get int(n_max / rho).
    ``none``: every class keeps n_max.
    """
    if rho < 1:
        raise InputError(f"imbalance ratio rho={rho} must be >= 1")
    if num_classes < 1:
        raise InputError(f"num_classes={num_classes} must be >= 1")
    if profile == "exp":
        if num_classes == 1:
            return [int(n_max)]
        return [int(n_max * (1.0 / rho) ** (i / (num_classes - 1.0))) for i in range(num_classes)]
    if profile == "step":
        n_major = (num_classes + 1) // 2
        return [int(n_max)] * n_major + [int(n_max / rho)] * (num_classes - n_major)
    if profile == "none":
        return [int(n_max)] * num_classes
    raise InputError(f"unknown long-tail profile {profile!r}; expected one of {PROFILES}")


def subsample_per_class(labels: np.ndarray, counts: list[int], seed: int) -> np.ndarray:
    """Indices keeping ``counts[c]`` examples of each class c, drawn without replacement.

    The result is sorted so the data keeps its original order.
    """
    rng = np.random.default_rng(seed)
    keep = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(labels == c)
        if n > len(idx):
            raise InputError(
                f"class {c} has {len(idx)} examples but the profile asks for {n}; "
                "lower n_max or rho"
            )
        keep.append(rng.permutation(idx)[:n])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)

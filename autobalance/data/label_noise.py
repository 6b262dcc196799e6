"""Class-conditional label noise on the training split: each training label of class k flips with
probability r_k, to another class drawn uniformly or to the class named as k's confusable one.
The flips come from the run's seed; :func:`noise_record` is what ``data_summary.json`` keeps of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autobalance.config import ConfigError, LabelNoiseConfig, require


def _class_index(value: Any, names: Sequence[str], key: str) -> int:
    if str(value) in names:
        return names.index(str(value))
    if isinstance(value, int) and 0 <= value < len(names):
        return value
    raise ConfigError(f"{key}={value!r}: expected a class name among {list(names)} or an index in [0, {len(names)})")


def noisy_classes(classes: Any, counts: Sequence[int], names: Sequence[str]) -> list[int]:
    """The classes ``data.label_noise.classes`` names: every class (null), a list of names or
    indices, or ``largest:N`` / ``smallest:N`` by training count (ties by index)."""
    k = len(counts)
    if classes is None:
        return list(range(k))
    if isinstance(classes, str) and ":" in classes:
        which, _, n = classes.partition(":")
        require(which in ("largest", "smallest") and n.isdigit() and 1 <= int(n) <= k,
                "data.label_noise.classes", classes, f"largest:N or smallest:N with N in [1, {k}]")
        order = sorted(range(k), key=lambda c: (-counts[c], c) if which == "largest" else (counts[c], c))
        return sorted(order[: int(n)])
    values = [classes] if isinstance(classes, str | int) else list(classes)
    return sorted({_class_index(v, names, "data.label_noise.classes") for v in values})


def noise_rates(cfg: LabelNoiseConfig, counts: Sequence[int], names: Sequence[str]) -> list[float]:
    """The flip probability of each class."""
    k = len(counts)
    if isinstance(cfg.rate, int | float):
        rates = [0.0] * k
        for c in noisy_classes(cfg.classes, counts, names):
            rates[c] = float(cfg.rate)
    else:
        rates = [float(r) for r in cfg.rate]
        require(len(rates) == k, "data.label_noise.rate", rates, f"one number, or {k} numbers (one per class)")
    require(all(0 <= r <= 1 for r in rates), "data.label_noise.rate", cfg.rate, "rates in [0, 1]")
    return rates


def confusable(flip_to: Any, names: Sequence[str]) -> dict[int, int] | None:
    """``flip_to`` as {class: confusable class}, or None for uniform flips."""
    if flip_to == "uniform":
        return None
    require(isinstance(flip_to, Mapping), "data.label_noise.flip_to", flip_to,
            "uniform or a mapping from a class to its confusable class")
    pairs = {_class_index(a, names, "data.label_noise.flip_to"): _class_index(b, names, "data.label_noise.flip_to")
             for a, b in flip_to.items()}
    same = [names[a] for a, b in pairs.items() if a == b]
    require(not same, "data.label_noise.flip_to", dict(flip_to), f"a class other than itself for {same}")
    return pairs


def flip_labels(y: np.ndarray, rates: Sequence[float], targets: Mapping[int, int] | None,
                seed: int) -> np.ndarray:
    """``y`` with each label of class k flipped with probability ``rates[k]``: to ``targets[k]``
    (a class with no target keeps its labels), or to another class chosen uniformly."""
    rng = np.random.default_rng([seed, 0x6E6F69])  # its own stream: the split's draws stay as they were
    k = len(rates)
    flip = rng.random(len(y)) < np.asarray(rates)[y]
    noisy = y.copy()
    if targets is None:
        shift = rng.integers(1, k, size=len(y))  # uniform over the other k - 1 classes
        noisy[flip] = (y[flip] + shift[flip]) % k
    else:
        mapped = np.array([targets.get(c, c) for c in range(k)])
        noisy[flip] = mapped[y[flip]]
    return noisy


def noise_record(y: np.ndarray, noisy: np.ndarray, rates: Sequence[float], flip_to: Any, seed: int) -> dict:
    """What ``data_summary.json`` keeps: the rates, the flip rule, the seed, and per true class how
    many training labels flipped (and the realized fraction)."""
    k = len(rates)
    flipped = np.bincount(y[y != noisy], minlength=k)
    total = np.bincount(y, minlength=k)
    return {"rates": [float(r) for r in rates], "flip_to": flip_to if flip_to == "uniform" else dict(flip_to),
            "seed": seed, "flipped": flipped.tolist(),
            "flipped_fraction": [float(f / t) if t else 0.0 for f, t in zip(flipped, total, strict=True)]}

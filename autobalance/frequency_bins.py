"""Classes (or clusters) ordered by training count, alone or in frequency-rank bins.

Tables and plots of 1,000 or 8,142 classes are unreadable class by class; beyond ``max_items``
they show ``bins`` bins of consecutive frequency ranks instead (the many/medium/few split,
finer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_ITEMS = 20
BINS = 10


def frequency_bins(labels: Sequence[str], counts: Sequence[float], max_items: int = MAX_ITEMS,
                   bins: int = BINS) -> list[tuple[str, np.ndarray]]:
    """(label, indices) in descending count order: one per item, or ``bins`` rank bins labelled
    ``ranks a-b (n lo-hi)``; ties keep index order.

    >>> [(label, idx.tolist()) for label, idx in frequency_bins(["cat", "dog", "owl"], [5, 50, 5])]
    [('dog', [1]), ('cat', [0]), ('owl', [2])]
    """
    order = np.argsort(-np.asarray(counts, dtype=float), kind="stable")
    if len(order) <= max_items:
        return [(labels[i], np.array([i])) for i in order]
    ranked, start = [], 0
    for chunk in np.array_split(order, bins):
        n = [counts[i] for i in chunk]
        ranked.append((f"ranks {start + 1}-{start + len(chunk)} (n {min(n):.0f}-{max(n):.0f})", chunk))
        start += len(chunk)
    return ranked

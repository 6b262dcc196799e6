"""Frequency clustering: classes sorted by training count share values in clusters of C."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from autobalance.errors import InputError


def frequency_clusters(counts: Sequence[int], cluster_size: int) -> torch.Tensor:
    """Cluster index of each class: rank by descending count (ties by class index) // C.

    Any K works; when C does not divide K the last cluster is smaller.
    """
    if cluster_size < 1:
        raise InputError(f"cluster_size={cluster_size} must be >= 1")
    c = torch.as_tensor(list(counts))
    order = sorted(range(len(c)), key=lambda k: (-int(c[k]), k))
    cluster = torch.empty(len(c), dtype=torch.long)
    for rank, k in enumerate(order):
        cluster[k] = rank // cluster_size
    return cluster


def cluster_means(values: torch.Tensor, cluster: torch.Tensor) -> torch.Tensor:
    """Average per-class values (..., K) into per-cluster values (..., n_clusters)."""
    n = int(cluster.max()) + 1
    sums = torch.zeros(*values.shape[:-1], n, dtype=values.dtype).index_add_(-1, cluster, values)
    sizes = torch.bincount(cluster, minlength=n).to(values.dtype)
    return sums / sizes


def interpolate_clusters(values: torch.Tensor, counts: Sequence[int], cluster_size: int) -> torch.Tensor:
    """Expand per-cluster values (..., n_clusters) to per-class values (..., K) by linear
    interpolation in frequency rank between cluster centers (the official retrain's rule)."""
    cluster = frequency_clusters(counts, cluster_size)
    k = len(cluster)
    order = sorted(range(k), key=lambda j: (-int(counts[j]), j))
    rank = torch.empty(k, dtype=torch.float64)
    rank[torch.tensor(order)] = torch.arange(k, dtype=torch.float64)
    centers = cluster_means(rank, cluster)
    out = torch.empty(*values.shape[:-1], k, dtype=values.dtype)
    flat_vals, flat_out = values.reshape(-1, values.shape[-1]), out.reshape(-1, k)
    for row in range(flat_vals.shape[0]):
        flat_out[row] = _interp(rank, centers, flat_vals[row].double()).to(values.dtype)
    return out


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """numpy.interp for tensors (clamped at both ends)."""
    if len(xp) == 1:
        return fp.expand_as(x).clone()
    idx = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1, y0, y1 = xp[idx - 1], xp[idx], fp[idx - 1], fp[idx]
    t = ((x - x0) / (x1 - x0)).clamp(0, 1)
    return y0 + t * (y1 - y0)

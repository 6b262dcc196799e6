"""Per-class augmentation strengths: batched, differentiable operations whose magnitudes are
hyperparameters of the loss family (personalized augmentation, method.md section 2).

Each operation draws its randomness once per batch (uniform in [-1, 1] per example, or a
Gaussian noise tensor) and scales it by the magnitude of the example's class (and group), so
with the draw held fixed the augmented batch is a smooth function of the magnitudes:
- ``translate``: shift by up to ``magnitude`` (in half-widths: 0.25 is an eighth of the image)
  along each axis; for 1-D signals along their length;
- ``scale``: zoom by a factor ``1 + magnitude * u`` (images and 1-D signals);
- ``noise``: add ``magnitude`` times standard Gaussian noise (any input, normalized units).
The two geometric operations form one affine map sampled bilinearly with zero padding
(``F.affine_grid`` / ``F.grid_sample``), written as ``x + (sample(A) - sample(I))`` so that a
zero magnitude returns the input exactly (bilinear resampling at the identity is off by
rounding). Magnitudes are ``bound * sigmoid(raw)``: always inside (0, bound).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from autobalance.losses.clustering import cluster_means

BOUNDS = {"translate": 0.25, "scale": 0.3, "noise": 0.5}
"""The largest magnitude of each operation by default."""
OPS = tuple(BOUNDS)
GEOMETRIC = ("translate", "scale")


def resolve_bounds(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Each operation's largest magnitude: the defaults, replaced where ``overrides`` names one."""
    return {**BOUNDS, **{op: float(b) for op, b in (overrides or {}).items()}}


def affine_warp(x: torch.Tensor, shift: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) or signals (N, L) moved by ``shift`` (N, 2) half-widths and scaled by
    ``zoom`` (N,), bilinear with zero padding; exactly ``x`` where shift = 0 and zoom = 1."""
    signal = x.ndim == 2
    images = x[:, None, None, :] if signal else x
    n = len(x)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1 / zoom
    theta[:, 1, 1] = 1 if signal else 1 / zoom
    theta[:, 0, 2] = shift[:, 0]
    theta[:, 1, 2] = 0 if signal else shift[:, 1]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    with torch.no_grad():
        identity = F.affine_grid(torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(n, 2, 3),
                                 list(images.shape), align_corners=False)
        rounding = images - F.grid_sample(images, identity, align_corners=False)
    warped = F.grid_sample(images, grid, align_corners=False) + rounding
    return warped[:, 0, 0, :] if signal else warped


def applicable_ops(input_ndim: int) -> tuple[str, ...]:
    """Operations for examples of ``input_ndim`` dimensions: images (3) and signals (1) take all;
    vectors are also 1-D, so asking for geometric operations on tabular data is the user's call."""
    return OPS if input_ndim in (1, 3) else ("noise",)


class LearnedAugmentation(nn.Module):
    """Magnitudes of ``ops`` per (group, cluster of classes), learnable or fixed.

    Args:
        ops: a subset of ("translate", "scale", "noise").
        initial: per operation, a (G, K) table of starting magnitudes in (0, bound).
        cluster: class -> cluster index (K,), as the loss's.
        learnable: whether the magnitudes are parameters (else buffers).
        bounds: the largest magnitude of each operation (default :data:`BOUNDS`).
    """

    def __init__(self, ops: Sequence[str], initial: Mapping[str, torch.Tensor], cluster: torch.Tensor,
                 learnable: bool, bounds: Mapping[str, float] | None = None) -> None:
        super().__init__()
        unknown = [op for op in [*ops, *(bounds or {})] if op not in OPS]
        if unknown or not ops:
            raise ValueError(f"augmentation ops {list(ops)}: expected a non-empty subset of {OPS}")
        self.ops = tuple(op for op in OPS if op in ops)
        self.bounds = {op: b for op, b in resolve_bounds(bounds).items() if op in self.ops}
        if any(b <= 0 for b in self.bounds.values()):
            raise ValueError(f"augmentation bounds {self.bounds}: expected positive numbers")
        self.register_buffer("cluster", cluster.clone())
        for op in self.ops:
            fraction = (torch.as_tensor(initial[op], dtype=torch.float64) / self.bounds[op])
            if not bool(((fraction > 0) & (fraction < 1)).all()):
                raise ValueError(f"initial {op} magnitudes must lie in (0, {self.bounds[op]}), got {initial[op]}")
            raw = cluster_means(torch.logit(fraction), cluster).float()
            if learnable:
                setattr(self, f"raw_{op}", nn.Parameter(raw))
            else:
                self.register_buffer(f"raw_{op}", raw)

    def magnitudes(self) -> dict[str, torch.Tensor]:
        """(G, K) magnitude tables by operation."""
        return {op: self.bounds[op] * torch.sigmoid(getattr(self, f"raw_{op}")[:, self.cluster]) for op in self.ops}

    def forward(self, x: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` augmented with each example's class (and group) magnitudes; the draws come from
        torch's global generator (fixed within a hyper-step, which re-seeds it)."""
        tables = self.magnitudes()
        g = torch.zeros_like(targets) if groups is None or next(iter(tables.values())).shape[0] == 1 else groups
        m = {op: t.to(x.dtype)[g, targets] for op, t in tables.items()}
        n = len(x)
        if any(op in m for op in GEOMETRIC):
            if x.ndim not in (2, 4):
                raise ValueError(f"translate/scale need images (N, C, H, W) or signals (N, L), got {tuple(x.shape)}")
            draws = torch.rand(n, 3, device=x.device, dtype=x.dtype) * 2 - 1
            zero = torch.zeros(n, dtype=x.dtype, device=x.device)
            shift = m.get("translate", zero)[:, None] * draws[:, :2]
            zoom = 1 + m.get("scale", zero) * draws[:, 2]
            x = affine_warp(x, shift, zoom)
        if "noise" in m:
            x = x + m["noise"].view(n, *([1] * (x.ndim - 1))) * torch.randn_like(x)
        return x


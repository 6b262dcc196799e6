"""Per-class augmentation strengths: batched, differentiable operations whose magnitudes are
hyperparameters of the loss family (personalized augmentation, method.md section 2).

Each operation draws its randomness once per batch and scales it by the magnitude m of the
example's class (and group), so with the draw held fixed the augmented batch is a smooth
function of the magnitudes. Every operation's strength on an example is uniform in [0, m]:
- ``translate``: shift by ``m * u`` (u uniform in [-1, 1] per axis; in half-widths: 0.25 is an
  eighth of the image); for 1-D signals along their length;
- ``scale``: zoom by a factor ``1 + m * u`` (images and 1-D signals);
- ``noise``: add ``m * u`` times standard Gaussian noise, u uniform in [0, 1] per example (any
  input, normalized units).
The two geometric operations form one affine map sampled bilinearly with zero padding
(``F.affine_grid`` / ``F.grid_sample``), written as ``x + (sample(A) - sample(I))`` so that a
zero magnitude returns the input exactly (bilinear resampling at the identity is off by
rounding).

Class-dependent augmentation is a label-correlated input feature: a network trained on it reads
the class off the augmentation, and clean test inputs look like the least augmented class
(experiments/augmentation/README.md). With strengths uniform in [0, m_k], a clean input has
likelihood proportional to 1 / m_k under class k, so the Bayes classifier's log-odds move by
at most log(max_k m_k / min_k m_k). ``max_ratio`` bounds that ratio per operation (and group):
learnable magnitudes are ``bound * sigmoid(level) * max_ratio ** ((tanh(d_k) - 1) / 2)``, a
shared level and per-class deviations, so the shortcut is worth at most ``log(max_ratio)``
nats whatever the search does. Without it (``None``) magnitudes are ``bound * sigmoid(raw_k)``.
Either way they stay inside (0, bound).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from autobalance.errors import InputError
from autobalance.losses.clustering import cluster_means

BOUNDS = {"translate": 0.25, "scale": 0.3, "noise": 0.5}
"""The largest magnitude of each operation by default."""
MAX_RATIO = 2.0
"""Default bound on the ratio between two classes' learnable magnitudes: the shortcut a network
can take from the augmentation is worth at most log 2 = 0.69 nats (a tenth of LA's offset range
at imbalance 100)."""
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
        max_ratio: the largest ratio between two classes' learnable magnitudes of one operation
            (>= 1; 1 shares one magnitude across classes); ``None`` leaves them free.
    """

    def __init__(self, ops: Sequence[str], initial: Mapping[str, torch.Tensor], cluster: torch.Tensor,
                 learnable: bool, bounds: Mapping[str, float] | None = None,
                 max_ratio: float | None = MAX_RATIO) -> None:
        super().__init__()
        unknown = [op for op in [*ops, *(bounds or {})] if op not in OPS]
        if unknown or not ops:
            raise InputError(f"augmentation ops {list(ops)}: expected a non-empty subset of {OPS}")
        self.ops = tuple(op for op in OPS if op in ops)
        self.bounds = {op: b for op, b in resolve_bounds(bounds).items() if op in self.ops}
        if any(b <= 0 for b in self.bounds.values()):
            raise InputError(f"augmentation bounds {self.bounds}: expected positive numbers")
        if max_ratio is not None and not max_ratio >= 1:
            raise InputError(f"augmentation max_ratio {max_ratio}: expected a number >= 1 or None")
        self.register_buffer("cluster", cluster.clone())
        self.max_ratio = max_ratio if learnable else None
        for op in self.ops:
            fraction = (torch.as_tensor(initial[op], dtype=torch.float64) / self.bounds[op])
            if not bool(((fraction > 0) & (fraction < 1)).all()):
                raise InputError(f"initial {op} magnitudes must lie in (0, {self.bounds[op]}), got {initial[op]}")
            fraction = cluster_means(fraction.log(), cluster).exp()
            raw = {"raw": torch.logit(fraction)} if self.max_ratio is None else _level_and_deviations(
                fraction, self.max_ratio, op)
            for name, value in raw.items():
                if learnable:
                    setattr(self, f"{name}_{op}", nn.Parameter(value.float()))
                else:
                    self.register_buffer(f"{name}_{op}", value.float())

    def magnitudes(self) -> dict[str, torch.Tensor]:
        """(G, K) magnitude tables by operation."""
        return {op: self.bounds[op] * self._fraction(op)[:, self.cluster] for op in self.ops}

    def _fraction(self, op: str) -> torch.Tensor:
        if self.max_ratio is None:
            return torch.sigmoid(getattr(self, f"raw_{op}"))
        level, deviation = getattr(self, f"level_{op}"), getattr(self, f"deviation_{op}")
        return torch.sigmoid(level) * self.max_ratio ** ((torch.tanh(deviation) - 1) / 2)

    def forward(self, x: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` augmented with each example's class (and group) magnitudes; the draws come from
        torch's global generator (fixed within a hyper-step, which re-seeds it)."""
        tables = self.magnitudes()
        g = torch.zeros_like(targets) if groups is None or next(iter(tables.values())).shape[0] == 1 else groups
        m = {op: t.to(x.dtype)[g, targets] for op, t in tables.items()}
        n = len(x)
        if any(op in m for op in GEOMETRIC):
            if x.ndim not in (2, 4):
                raise InputError(f"translate/scale need images (N, C, H, W) or signals (N, L), got {tuple(x.shape)}")
            draws = torch.rand(n, 3, device=x.device, dtype=x.dtype) * 2 - 1
            zero = torch.zeros(n, dtype=x.dtype, device=x.device)
            shift = m.get("translate", zero)[:, None] * draws[:, :2]
            zoom = 1 + m.get("scale", zero) * draws[:, 2]
            x = affine_warp(x, shift, zoom)
        if "noise" in m:
            strength = m["noise"] * torch.rand(n, device=x.device, dtype=x.dtype)
            x = x + strength.view(n, *([1] * (x.ndim - 1))) * torch.randn_like(x)
        return x


def _level_and_deviations(fraction: torch.Tensor, max_ratio: float, op: str) -> dict[str, torch.Tensor]:
    """The shared level (G, 1) and per-class deviations (G, K) giving the starting ``fraction``
    of the bound under ``sigmoid(level) * max_ratio ** ((tanh(d) - 1) / 2)``: the level sits at
    sqrt(max_ratio) times each group's geometric mean, deviations at zero for equal starts."""
    center = fraction.log().mean(dim=1, keepdim=True)
    top = center.exp() * max_ratio**0.5
    spread = fraction.log() - center
    if max_ratio == 1:
        tanh = torch.where(spread.abs() < 1e-9, 0.0, 1.0)
    else:
        tanh = 2 * spread / math.log(max_ratio)
    if not bool((top < 1).all()) or not bool((tanh.abs() < 1).all()):
        raise InputError(f"initial {op} magnitudes (fractions of the bound {fraction.tolist()}) do not fit "
                         f"max_ratio {max_ratio}: expected each within a factor sqrt({max_ratio}) of their "
                         f"geometric mean and that mean times sqrt({max_ratio}) under the bound")
    return {"level": torch.logit(top), "deviation": torch.atanh(tanh)}


"""Learned weight decay: a decay per classifier row and one for the rest of the network.

The penalty enters the training objective, so every hypergradient method differentiates it
(with the last-layer solve, the per-row decay is the exact damping of the head's Hessian):

    R(theta) = 1/2 sum_k (lambda_k - d) (||w_k||^2 + b_k^2) + 1/2 (lambda_rest - d) ||theta_rest||^2

where d is the decay the optimizer already applies to every parameter (``optim.weight_decay``,
passed in by the caller), so the effective decay of row k is lambda_k. Each decay is the bounded
map ``lambda = reference * exp(c * tanh(raw / c))`` with ``c = log(max_ratio)``: within a factor
``max_ratio`` of ``reference`` either way, and exactly ``reference`` at raw = 0. A search starts
there with ``reference = d``, so its penalty is exactly zero and its first steps are today's
training bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from autobalance.config import DECAY_MAX_RATIO
from autobalance.errors import InputError

HEAD = "head"
"""The classifier's module name (``autobalance.models.Classifier``): its rows are the classes'."""


def decay_forward(raw: torch.Tensor, reference: torch.Tensor, max_ratio: float) -> torch.Tensor:
    c = math.log(max_ratio)
    return reference * torch.exp(c * torch.tanh(raw / c))


def decay_inverse(decay: torch.Tensor, reference: float, max_ratio: float) -> torch.Tensor:
    """The raw value giving ``decay``; refuses a decay outside the map's open bounds."""
    c = math.log(max_ratio)
    ratio = torch.log(torch.as_tensor(decay, dtype=torch.float64) / reference) / c
    if not bool((ratio.abs() < 1).all()):
        raise InputError(f"weight decays {torch.as_tensor(decay).tolist()} lie outside ({reference / max_ratio:.3g}, "
                         f"{reference * max_ratio:.3g}), the bounds of decay_max_ratio={max_ratio} around "
                         f"the reference {reference:.3g}")
    return c * torch.atanh(ratio)


def class_rows(params: Mapping[str, torch.Tensor], num_classes: int) -> list[tuple[torch.Tensor, int]]:
    """The head's parameters with the dimension that indexes classes (rows of a linear head's
    weight and its bias; columns of the cosine head's (features x classes) weight)."""
    rows = []
    for name in (f"{HEAD}.weight", f"{HEAD}.bias"):
        if name not in params:
            continue
        p = params[name]
        dims = [d for d in range(p.ndim) if p.shape[d] == num_classes]
        if not dims:
            raise InputError(f"{name} has shape {tuple(p.shape)}: no dimension of size {num_classes} (the classes)")
        rows.append((p, dims[0]))
    if not rows:
        raise InputError(f"learned weight decay needs the classifier as a module named {HEAD!r}; "
                         f"the model has {list(params)[:6]}...")
    return rows


class ClassifierDecay(nn.Module):
    """Per-row decays (a (1, clusters) table, or one power-law exponent times ``shape``) and one
    decay for the rest of the network; its forward is the penalty R above.

    Args:
        num_classes: K.
        reference: the map's centre (the optimizer's decay when a search starts); > 0.
        rows, rest: initial raw values; rows (1, clusters), or (1, 1) with ``shape``.
        cluster: each class's cluster (its column of ``rows``).
        shape: (K,) log(n_k / n_max) for the power-law parametrization, else None.
        learn: whether the raw values are parameters (else buffers).
        max_ratio: the map's bound.
    """

    def __init__(self, num_classes: int, reference: float, rows: torch.Tensor, rest: torch.Tensor,
                 cluster: torch.Tensor, shape: torch.Tensor | None, learn: bool,
                 max_ratio: float = DECAY_MAX_RATIO) -> None:
        super().__init__()
        if not reference > 0:
            raise InputError(f"a learned weight decay needs a positive reference decay (optim.weight_decay); "
                             f"got {reference}")
        if not max_ratio > 1:
            raise InputError(f"decay_max_ratio={max_ratio}; expected a number > 1")
        self.num_classes, self.max_ratio = num_classes, float(max_ratio)
        self.register_buffer("reference", torch.tensor(float(reference)))
        self.register_buffer("cluster", cluster.clone())
        self.register_buffer("shape", None if shape is None else shape.clone().float())
        for name, value in (("raw_rows", rows), ("raw_rest", rest)):
            value = value.detach().float().clone()
            if learn:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    def rows(self) -> torch.Tensor:
        """Effective (1, K) decays of the classifier's rows."""
        raw = self.raw_rows * self.shape if self.shape is not None else self.raw_rows[:, self.cluster]
        return decay_forward(raw, self.reference, self.max_ratio)

    def rest(self) -> torch.Tensor:
        """The effective (1, 1) decay of every parameter outside the classifier."""
        return decay_forward(self.raw_rest, self.reference, self.max_ratio)

    def forward(self, params: Mapping[str, torch.Tensor], applied: float) -> torch.Tensor:
        """R(params): the decay beyond ``applied`` (what the optimizer already applies)."""
        rows = self.rows()[0]
        excess_rows = rows - torch.tensor(applied, dtype=rows.dtype, device=rows.device)
        total = sum(0.5 * (excess_rows.to(p.dtype) * row_squares(p, k)).sum()
                    for p, k in class_rows(params, self.num_classes))
        rest = [p for name, p in params.items() if not (name == HEAD or name.startswith(HEAD + "."))]
        if rest:
            squares = sum(p.pow(2).sum() for p in rest)
            decay = self.rest()[0, 0]
            excess = decay - torch.tensor(applied, dtype=decay.dtype, device=decay.device)
            total = total + 0.5 * excess.to(squares.dtype) * squares
        return total


def row_squares(p: torch.Tensor, class_dim: int) -> torch.Tensor:
    """(K,) squared norms of each class's slice of ``p`` along ``class_dim``."""
    squares = p.pow(2)
    return squares if p.ndim == 1 else squares.movedim(class_dim, 0).reshape(p.shape[class_dim], -1).sum(1)


def initial_raw(decays: Sequence[float] | torch.Tensor | None, reference: float, max_ratio: float,
                size: int) -> torch.Tensor:
    """Raw (1, size) values of the given decays (None: the reference, raw 0)."""
    if decays is None:
        return torch.zeros(1, size, dtype=torch.float64)
    raw = decay_inverse(torch.as_tensor(decays, dtype=torch.float64).reshape(1, -1), reference, max_ratio)
    if raw.shape[1] != size:
        raise InputError(f"{raw.shape[1]} weight decays given, expected {size}")
    return raw

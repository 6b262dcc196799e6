"""The outer update: the hypergradient through a chain of gradient transformations, then the
outer optimizer's step (in the manner of optax's ``chain``, on the loss parameters' ``.grad``).

The chain ``search.outer`` configures, in order: the anchor's pull (the gradient of
``anchor / 2 * ||phi - phi_0||^2``), clipping by the global norm, the prior's pull (after the
clip, ``prior_width``'s rule), then Adam or SGD. A transformation is a callable that edits the
parameters' gradients in place and may add to the hyper-step's record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from autobalance.config import OuterConfig

Transform = Callable[[dict[str, torch.nn.Parameter], dict[str, Any]], None]
"""(parameters with ``.grad`` set, the hyper-step's record) -> None, editing ``.grad`` in place."""


def pull_towards(start: dict[str, torch.Tensor], strength: float) -> Transform:
    """Add ``strength * (phi - phi_0)``: the gradient of a Gaussian prior centred on ``start``
    (read when applied, so a resumed search's restored start is the one pulled towards)."""

    def transform(params: dict[str, torch.nn.Parameter], record: dict[str, Any]) -> None:
        for name, p in params.items():
            p.grad += strength * (p.detach() - start[name])

    return transform


def clip_by_global_norm(max_norm: float) -> Transform:
    """Scale the gradients to a global norm of at most ``max_norm``; the norm before clipping
    goes to the record as ``clipped_norm``."""

    def transform(params: dict[str, torch.nn.Parameter], record: dict[str, Any]) -> None:
        record["clipped_norm"] = float(torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm))

    return transform


def prior_strength(cfg: OuterConfig, entries: int) -> float:
    """``prior_width``'s rule: ``clip / (sqrt(P) * prior_width)`` for P learned entries, so a
    hypergradient at the clip norm, spread evenly, holds them ``prior_width`` (RMS) from their
    start; 0 without a prior."""
    return 0.0 if cfg.prior_width is None else cfg.clip / (math.sqrt(entries) * cfg.prior_width)


class OuterUpdate:
    """The loss parameters' update from a hypergradient: :meth:`apply` sets their gradients,
    runs the chain and steps the optimizer; :meth:`scale_lr` and :meth:`restore` are the guard's
    back-off."""

    def __init__(self, params: dict[str, torch.nn.Parameter], cfg: OuterConfig) -> None:
        self.params = params
        self.start = {n: p.detach().clone() for n, p in params.items()}
        values = list(params.values())
        self.optimizer = (torch.optim.Adam(values, lr=cfg.lr, weight_decay=cfg.weight_decay)
                          if cfg.optimizer == "adam" else
                          torch.optim.SGD(values, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay))
        prior = prior_strength(cfg, sum(p.numel() for p in values))
        self.transforms: list[Transform] = []
        if cfg.anchor > 0:
            self.transforms.append(pull_towards(self.start, cfg.anchor))
        if cfg.clip is not None:
            self.transforms.append(clip_by_global_norm(cfg.clip))
        if prior > 0:
            self.transforms.append(pull_towards(self.start, prior))

    def apply(self, grads: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
        for name, p in self.params.items():
            p.grad = grads[name].to(p.dtype, copy=True)  # the chain edits it in place: never the caller's
        for transform in self.transforms:
            transform(self.params, record)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def scale_lr(self, factor: float) -> float:
        """Multiply the outer learning rate by ``factor``; returns the new rate."""
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
        return self.optimizer.param_groups[0]["lr"]

    def restore(self, values: dict[str, torch.Tensor]) -> None:
        """Set the parameters to ``values`` and forget the optimizer's moments (the guard's
        return to where its objective was lowest: the moments point the way that climbed)."""
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(values[name])
        self.optimizer.state.clear()

    def state_dict(self) -> dict[str, Any]:
        return {"outer": self.optimizer.state_dict(), "start": self.start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["outer"])
        self.start.update(state["start"])

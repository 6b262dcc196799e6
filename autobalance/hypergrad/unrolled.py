"""Reverse-mode differentiation through K functional steps of SGD with momentum.

Memory grows linearly with K (every step's graph is kept). The model's parameters are not
changed: the K steps are a look-ahead from the current parameters and momentum buffers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from autobalance.hypergrad.implicit import all_finite
from autobalance.hypergrad.primitives import grad_dict, leaf_copy
from autobalance.hypergrad.types import HypergradResult, LossFn, Params


@dataclass
class UnrolledHypergradient:
    """d L_val(theta_K(alpha)) / d alpha for theta_K from K SGD steps (PyTorch's SGD rule:
    d = g + wd theta; buf = momentum buf + d (buf = d at the first step without a buffer);
    theta -= lr (d + momentum buf if nesterov else buf))."""

    steps: int = 5
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    name: str = "unrolled"

    def init(self) -> dict[str, Any]:
        return {}

    def compute(self, params: Params, hparams: Params, train_loss: LossFn | Sequence[LossFn],
                val_loss: LossFn, state: dict[str, Any] | None = None) -> HypergradResult:
        """``train_loss`` may be one closure (reused every step) or one per step; ``state`` may
        hold ``momentum_buffers`` (by parameter name) from the real optimizer."""
        start = time.perf_counter()
        state = state or {}
        losses = list(train_loss) if isinstance(train_loss, Sequence) else [train_loss] * self.steps
        if len(losses) != self.steps:
            raise ValueError(f"got {len(losses)} training closures for steps={self.steps}")
        hp = leaf_copy(hparams)
        theta = leaf_copy(params)
        buffers = state.get("momentum_buffers")
        buf = None if buffers is None else {n: buffers[n].detach() for n in params}
        for loss_fn in losses:
            grads = torch.autograd.grad(loss_fn(theta, hp), list(theta.values()), create_graph=True)
            new_theta, new_buf = {}, {}
            for (n, p), g in zip(theta.items(), grads, strict=True):
                d = g + self.weight_decay * p if self.weight_decay else g
                if self.momentum:
                    b = d if buf is None else self.momentum * buf[n] + d
                    new_buf[n] = b
                    d = d + self.momentum * b if self.nesterov else b
                new_theta[n] = p - self.lr * d
            theta, buf = new_theta, (new_buf if self.momentum else None)
        val = val_loss(theta, hp)
        grads = grad_dict(val, hp)
        finite = all_finite(grads.values()) and math.isfinite(float(val.detach()))
        result = HypergradResult(grads, finite, state=state)
        result.diagnostics = {
            "method": self.name, "iterations": self.steps, "val_loss": float(val.detach()),
            "hypergrad_norm": result.norm, "seconds": time.perf_counter() - start,
        }
        return result

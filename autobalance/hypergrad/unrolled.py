"""Reverse-mode differentiation through K functional steps of SGD with momentum.

``memory="graph"`` keeps every step's graph (memory linear in K, like ``higher``).
``memory="recompute"`` keeps only the K parameter and momentum copies and runs the adjoint
recurrence backwards one step at a time, rebuilding that step's gradient graph; one double
backward per step yields both the Hessian-vector product and the mixed term. Activation
memory is then that of a single step, for about K extra forward+backward passes.
The model's parameters are not changed: the K steps are a look-ahead from the current
parameters and momentum buffers. With closures sharded over ranks (data parallelism) the
adjoint recurrence runs whatever ``memory`` says: every step's gradient, and every product of
the recurrence, is averaged over the ranks, and a stored graph cannot differentiate through
that average.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from autobalance.errors import InputError
from autobalance.hypergrad.closures import averaged_over_shards
from autobalance.hypergrad.implicit import all_finite
from autobalance.hypergrad.methods import register_method
from autobalance.hypergrad.primitives import grad_dict, leaf_copy, vjp
from autobalance.hypergrad.types import HypergradResult, LossFn, Params, make_result


@dataclass(frozen=True)
class InnerSGD:
    """PyTorch's SGD rule on plain tensors: d = g + wd theta; buf = momentum buf + d (buf = d at
    the first step without a buffer); theta -= lr (d + momentum buf if nesterov else buf)."""

    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False

    def update(self, theta: Params, grads: Params, buf: Params | None) -> tuple[Params, Params | None]:
        """One step; returns (theta', buffers')."""
        new_theta, new_buf = {}, {}
        for n, p in theta.items():
            d = grads[n] + self.weight_decay * p if self.weight_decay else grads[n]
            if self.momentum:
                b = d if buf is None else self.momentum * buf[n] + d
                new_buf[n] = b
                d = d + self.momentum * b if self.nesterov else b
            new_theta[n] = p - self.lr * d
        return new_theta, (new_buf if self.momentum else None)


@dataclass
class UnrolledHypergradient:
    """d L_val(theta_K(alpha)) / d alpha for theta_K from K steps of :class:`InnerSGD`.

    The inner optimizer's settings (``lr``, ``momentum``, ``weight_decay``, ``nesterov``) are
    defaults that the call's ``state`` overrides, with ``momentum_buffers`` from the real
    optimizer: the search passes its optimizer's current values there and never sets them on
    the object.
    """

    steps: int = 5
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    memory: str = "graph"
    name: str = "unrolled"

    def __post_init__(self) -> None:
        if self.memory not in ("graph", "recompute"):
            raise InputError(f"unrolled memory={self.memory!r}; expected 'graph' or 'recompute'")

    def closures_needed(self, batches: int) -> int:
        """Training closures a call takes: one per look-ahead step."""
        return self.steps

    def inner_optimizer(self, state: dict[str, Any]) -> InnerSGD:
        return InnerSGD(**{f.name: state.get(f.name, getattr(self, f.name)) for f in dataclasses.fields(InnerSGD)})

    def compute(self, params: Params, hparams: Params, train_loss: LossFn | Sequence[LossFn],
                val_loss: LossFn, state: dict[str, Any] | None = None) -> HypergradResult:
        """``train_loss`` may be one closure (reused every step) or one per step; ``state`` may
        hold the inner optimizer's settings and ``momentum_buffers`` (by parameter name). The
        returned state is empty: nothing carries over to the next call."""
        start = time.perf_counter()
        state = state or {}
        sgd = self.inner_optimizer(state)
        losses = list(train_loss) if isinstance(train_loss, Sequence) else [train_loss] * self.steps
        if len(losses) != self.steps:
            raise ValueError(f"got {len(losses)} training closures for steps={self.steps}")
        buffers = state.get("momentum_buffers")
        buf = None if buffers is None else {n: buffers[n].detach() for n in params}
        sharded = any(getattr(c, "shard_mean", None) is not None for c in [*losses, val_loss])
        memory = "recompute" if sharded else self.memory
        if memory == "recompute":
            grads, val = self._recompute(sgd, params, hparams, losses, val_loss, buf)
        else:
            hp = leaf_copy(hparams)
            theta = leaf_copy(params)
            for loss_fn in losses:
                g = torch.autograd.grad(loss_fn(theta, hp), list(theta.values()), create_graph=True,
                                        materialize_grads=True)
                theta, buf = sgd.update(theta, dict(zip(theta, g, strict=True)), buf)
            val = val_loss(theta, hp)
            grads = grad_dict(val, hp)
        finite = all_finite(grads.values()) and math.isfinite(float(val.detach()))
        diagnostics = {"method": self.name, "iterations": self.steps, "memory": memory,
                       "val_loss": float(val.detach())}
        return make_result(grads, finite, diagnostics, start)

    def _recompute(self, sgd: InnerSGD, params: Params, hparams: Params, losses: list[LossFn],
                   val_loss: LossFn, buf: Params | None) -> tuple[Params, torch.Tensor]:
        """Forward without graphs (storing theta_k, b_k), then the adjoint recurrence backwards."""
        fixed_hp = {n: h.detach() for n, h in hparams.items()}
        theta = {n: p.detach() for n, p in params.items()}
        thetas, buffers = [], []
        for loss_fn in losses:
            thetas.append(theta)
            buffers.append(buf)
            leaf = leaf_copy(theta)
            g = torch.autograd.grad(loss_fn(leaf, fixed_hp), list(leaf.values()), materialize_grads=True)
            g = averaged_over_shards(loss_fn, g)
            theta, buf = sgd.update(theta, dict(zip(leaf, g, strict=True)), buf)
        leaf, hp = leaf_copy(theta), leaf_copy(hparams)
        val = val_loss(leaf, hp)
        outs = torch.autograd.grad(val, [*leaf.values(), *hp.values()], materialize_grads=True)
        *outs, val = averaged_over_shards(val_loss, [*outs, val.detach()])
        theta_bar = dict(zip(leaf, outs[: len(leaf)], strict=True))
        alpha_bar = dict(zip(hp, outs[len(leaf) :], strict=True))
        buf_bar = {n: torch.zeros_like(p) for n, p in theta_bar.items()}
        for k in reversed(range(len(losses))):
            step_bar = {n: -sgd.lr * t for n, t in theta_bar.items()}
            if sgd.momentum and sgd.nesterov:
                next_buf_bar = {n: buf_bar[n] + sgd.momentum * step_bar[n] for n in step_bar}
                d_bar = {n: step_bar[n] + next_buf_bar[n] for n in step_bar}
            elif sgd.momentum:
                next_buf_bar = {n: buf_bar[n] + step_bar[n] for n in step_bar}
                d_bar = next_buf_bar
            else:
                next_buf_bar, d_bar = buf_bar, step_bar
            has_buffer = sgd.momentum and buffers[k] is not None
            buf_bar = {n: (sgd.momentum * next_buf_bar[n] if has_buffer else torch.zeros_like(t))
                       for n, t in next_buf_bar.items()}
            leaf, hp = leaf_copy(thetas[k]), leaf_copy(hparams)
            g = torch.autograd.grad(losses[k](leaf, hp), list(leaf.values()), create_graph=True,
                                    materialize_grads=True)
            second = averaged_over_shards(losses[k], vjp(g, list(leaf.values()) + list(hp.values()),
                                                         [d_bar[n] for n in leaf]))
            theta_bar = {n: theta_bar[n] + sgd.weight_decay * d_bar[n] + s
                         for n, s in zip(leaf, second[: len(leaf)], strict=True)}
            for n, s in zip(hp, second[len(leaf) :], strict=True):
                alpha_bar[n] = alpha_bar[n] + s
        return alpha_bar, val


@register_method("unrolled")
def _unrolled(subset, damping, **options) -> UnrolledHypergradient:
    return UnrolledHypergradient(**options)

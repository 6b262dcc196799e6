"""Forward-mode hypergradients through the training trajectory (RTHO: Franceschi et al. 2017).

The tangents Z = d theta_t / d alpha (one per hyperparameter entry) and B = d buf_t / d alpha
of SGD's momentum buffers are carried through every real training step, PyTorch's rule
differentiated exactly:

    d = g(theta, alpha) + wd theta           dd = H Z + (d2 L / d theta d alpha) e + wd Z
    buf = momentum buf + d (d at the first)  B  = momentum B + dd (dd at the first)
    theta -= lr (nesterov ? d + momentum buf : buf)    Z -= lr (nesterov ? dd + momentum B : B)

with H Z + (d2 L / d theta d alpha) e = grad_theta [<grad_theta L, Z> + <grad_alpha L, e>] by one
double backward per direction (exact through BatchNorm in train mode and through hyperparameters
that reach the input, where reverse over forward mode is not). The hypergradient at a hyper-step
is then <grad_theta L_val, Z> + grad_alpha L_val: the derivative of the current model's
validation objective through everything the loss did to its training, not at a pretended
optimum. The cost is one double backward per hyperparameter entry per training step, so it
suits low-dimensional families (power-law exponents, cluster tables, a few augmentation
magnitudes); memory is two copies of the parameters per entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from autobalance.errors import InputError
from autobalance.hypergrad.closures import averaged_over_shards
from autobalance.hypergrad.implicit import all_finite, validation_gradients
from autobalance.hypergrad.methods import register_method
from autobalance.hypergrad.primitives import flatten, leaf_copy, select, unflatten, vjp
from autobalance.hypergrad.types import HypergradResult, LossFn, Params, make_result

MAX_ENTRIES = 64
"""More hyperparameter entries than this are refused: each costs a double backward every step."""


@dataclass(frozen=True)
class SGDStep:
    """The settings of one real SGD step, as the optimizer's parameter group holds them."""

    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    first: bool = False
    """Whether the optimizer has no momentum buffers yet (PyTorch then sets buf = d)."""


@dataclass
class ForwardModeHypergradient:
    """Tangents carried by :meth:`advance` at every training step, read by :meth:`compute`.

    ``reset`` zeroes them after each hyper-step (the derivative through the steps since the last
    one only: a truncated horizon); by default they run from the first step they see, which in a
    search is the first step of epoch ``from_epoch``.
    """

    reset: bool = False
    from_epoch: int = 0
    """In a search: the first epoch whose training steps the tangents follow (0: the whole run)."""
    name: str = "forward"
    carries_tangents = True
    """Tells the search to call :meth:`advance` before every training step."""

    def closures_needed(self, batches: int) -> int:
        return 0

    def init_state(self, params: Params, hparams: Params) -> dict[str, Any]:
        """Zero tangents: flat (entries, parameters) matrices for theta and the momentum buffers."""
        entries = sum(h.numel() for h in hparams.values())
        if entries > MAX_ENTRIES:
            raise InputError(f"search.hypergrad.method=forward carries one tangent per hyperparameter entry, and "
                             f"this loss has {entries} (> {MAX_ENTRIES}); use a low-dimensional family "
                             "(search.family.parametrization=power_law, or a larger cluster_size)")
        size = sum(p.numel() for p in params.values())
        like = next(iter(params.values()))
        zeros = torch.zeros(entries, size, dtype=like.dtype, device=like.device)
        return {"tangents": zeros, "buffer_tangents": zeros.clone()}

    def advance(self, state: dict[str, Any] | None, params: Params, hparams: Params, train_loss: LossFn,
                step: SGDStep) -> dict[str, Any]:
        """The tangents after one SGD step on ``train_loss`` from ``params`` (the step's batch
        and random draws, before the step is taken)."""
        state = state or self.init_state(params, hparams)
        z, b = state["tangents"], state["buffer_tangents"]
        theta, hp = leaf_copy(params), leaf_copy(hparams)
        grads = torch.autograd.grad(train_loss(theta, hp), [*theta.values(), *hp.values()], create_graph=True,
                                    materialize_grads=True)
        rows = []
        eye = torch.eye(z.shape[0], dtype=z.dtype, device=z.device)
        for j in range(z.shape[0]):
            directions = [*unflatten(z[j], list(theta.values())), *unflatten(eye[j], list(hp.values()))]
            second = vjp(grads, list(theta.values()), [d.to(g.dtype) for d, g in zip(directions, grads, strict=True)],
                         retain_graph=True)
            rows.append(flatten(averaged_over_shards(train_loss, second)))
        dd = torch.stack(rows).to(z.dtype) + step.weight_decay * z
        b = dd if step.first or not step.momentum else step.momentum * b + dd
        direction = (dd + step.momentum * b if step.nesterov else b) if step.momentum else dd
        return {"tangents": z - step.lr * direction, "buffer_tangents": b}

    def compute(self, params: Params, hparams: Params, train_loss, val_loss: LossFn,
                state: dict[str, Any] | None = None) -> HypergradResult:
        """<grad_theta L_val, Z> + grad_alpha L_val; ``train_loss`` is not used (the tangents hold
        what training did)."""
        start = time.perf_counter()
        if "tangents" not in (state or {}):  # no training step followed yet
            state = {**(state or {}), **self.init_state(params, hparams)}
        v, direct, val_value = validation_gradients(val_loss, params, hparams, select(params, None))
        through = unflatten(state["tangents"] @ v.to(state["tangents"].dtype), list(hparams.values()))
        grads = {n: direct[n] + t.to(direct[n].dtype) for n, t in zip(hparams, through, strict=True)}
        kept = ({k: torch.zeros_like(t) for k, t in state.items()} if self.reset else state)
        diagnostics = {"method": self.name, "iterations": 0, "val_loss": val_value,
                       "tangent_norm": float(state["tangents"].norm())}
        return make_result(grads, all_finite(grads.values()), diagnostics, start, kept)


@register_method("forward")
def _forward(subset, damping, **options) -> ForwardModeHypergradient:
    return ForwardModeHypergradient(**options)

"""The search as a hook for any training loop: :class:`Search` owns the learned loss, the
validation batches, the hypergradient method, the outer optimizer and the guard; your loop trains
with ``search.loss`` and calls :meth:`Search.step` after each optimizer step, and a hyper-step is
taken when one is due. :meth:`Search.export` writes the learned loss, which
:func:`autobalance.losses.load_loss` reads back as a plain ``nn.Module`` loss for any later training.

The project's own trainer runs the same search (:class:`autobalance.bilevel.BilevelSearch`) as
a step hook; here the training batches a hyper-step needs are the latest ones your loop passed,
and the inner optimizer's settings are read from your ``torch.optim`` optimizer at each hyper-step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autobalance.bilevel import BilevelSearch
from autobalance.config import (
    FamilyConfig,
    GuardConfig,
    HypergradConfig,
    ObjectiveConfig,
    OptimConfig,
    OuterConfig,
    SearchConfig,
    require,
)
from autobalance.data.batching import epoch_generator, sample_indices, sampling_labels
from autobalance.distributed import SINGLE
from autobalance.losses.factory import family_loss
from autobalance.losses.family import ParametricLoss
from autobalance.losses.io import save_loss
from autobalance.objectives import build_objective
from autobalance.training.trainer import StepView, step_view

RECENT = 8
"""How many of the loop's latest training batches a hyper-step may draw from."""


class LoopBatches:
    """The batches a hyper-step draws in your loop: the latest training batches the loop passed
    (the i-th draw of a step takes the i-th latest), and validation batches drawn from your
    validation tensors (class-balanced by default, as the project's search draws them)."""

    ranks = SINGLE

    def __init__(self, x: torch.Tensor, y: torch.Tensor, attribute: torch.Tensor | None, num_classes: int,
                 batch_size: int) -> None:
        self.x, self.y, self.attribute = x, y, attribute
        self.num_classes, self.batch_size = num_classes, batch_size
        self.recent: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []

    def remember(self, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor | None) -> None:
        self.recent = (self.recent + [(x.detach(), y.detach(), None if g is None else g.detach())])[-RECENT:]

    def sample_train_batch(self, seed: int, draw: int, batch_size: int | None = None):
        return self.recent[-1 - (draw % 64) % len(self.recent)]

    def sample_val_batch(self, seed: int, draw: int, batch_size: int | None = None, sampler: str = "class_balanced"):
        labels, k, sampler = sampling_labels(self.y, self.attribute, self.num_classes, sampler)
        idx = sample_indices(labels, k, sampler, batch_size or self.batch_size, epoch_generator(seed, draw, 6))
        idx = idx.to(self.y.device)
        return self.x[idx], self.y[idx], None if self.attribute is None else self.attribute[idx]


class _LoopHook(BilevelSearch):
    """The bilevel hook with the inner optimizer read from the loop's optimizer, not a schedule."""

    def _inner_optimizer_state(self, view: StepView) -> dict[str, Any]:
        state = {"lr": view.lr, "momentum": view.momentum, "weight_decay": view.weight_decay,
                 "nesterov": view.nesterov}
        return state if view.momentum_buffers is None else {**state, "momentum_buffers": dict(view.momentum_buffers)}


class Search:
    """Learn a loss inside your own training loop.

    Args:
        model: your network; its last linear layer is the module ``head`` names (for the
            ``last_layer`` method, the default).
        counts: training examples per class (the loss starts from logit adjustment with them).
        val_x, val_y, val_attribute: your validation split, on the model's device.
        objective: the validation objective (:mod:`autobalance.objectives`) or its settings.
        learn, init, parametrization: the learned parts, where they start (``la``, ``ce``, ``vs``)
            and their form (``per_class``, ``power_law``), as ``search.family`` sets them.
        method, head: the hypergradient method and, for ``last_layer``, the head module's name.
        every, start, stop: a hyper-step every ``every`` optimizer steps from step ``start``
            until step ``stop`` (None: never stops).
        outer_lr: Adam's learning rate on the loss parameters.
        val_batch_size, val_mode, seed, guard: as ``search.*`` sets them.

    Train with ``search.loss(logits, targets)``; call :meth:`step` after ``optimizer.step()``.
    """

    def __init__(self, model: nn.Module, counts: Sequence[int], val_x: torch.Tensor, val_y: torch.Tensor, *,
                 val_attribute: torch.Tensor | None = None, objective: str | ObjectiveConfig = "balanced_ce",
                 learn: Sequence[str] = ("offsets",), init: str = "la", parametrization: str = "per_class",
                 method: str = "last_layer", head: str = "head", every: int = 5, start: int = 0,
                 stop: int | None = None, outer_lr: float = 0.005, val_batch_size: int = 128,
                 val_mode: str = "train", seed: int = 0, guard: bool = True) -> None:
        require(method != "forward", "method", method, "a method that needs no tangents carried through every "
                "step (last_layer, cg, neumann, minres, identity, unrolled)")
        require(start >= 0, "start", start, ">= 0")
        require(stop is None or stop > start, "stop", stop, f"> start={start} or None")
        self.model, self.counts, self.seed = model, list(counts), seed
        self.start, self.stop = start, stop
        device = next(model.parameters()).device
        family = FamilyConfig(learn=list(learn), init=init, parametrization=parametrization)
        self.loss: ParametricLoss = family_loss(family, self.counts).to(device)
        spec = ObjectiveConfig(objective) if isinstance(objective, str) else objective
        self.objective = build_objective(spec, len(self.counts), 1 if val_attribute is None else
                                         int(val_attribute.max()) + 1)
        options = {"subset": (head,)} if method == "last_layer" else {}
        self.cfg = SearchConfig(enabled=True, every=every, val_batch_size=val_batch_size, val_mode=val_mode,
                                hypergrad=HypergradConfig(method=method, options=options), family=family,
                                outer=OuterConfig(lr=outer_lr), guard=GuardConfig(enabled=guard))
        self.batches = LoopBatches(val_x, val_y, val_attribute, len(self.counts), val_batch_size)
        self.steps = 0
        self.hook: _LoopHook | None = None

    def is_due(self) -> bool:
        return self.steps >= self.start and (self.stop is None or self.steps < self.stop) \
            and (self.steps - self.start) % self.cfg.every == 0

    def step(self, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
             attribute: torch.Tensor | None = None) -> dict[str, Any] | None:
        """After ``optimizer.step()`` on the batch ``(x, y)``: count the step and take a hyper-step
        when one is due; returns its record (the validation objective ``val_loss``, the
        hypergradient, the learned values), or None."""
        self.batches.remember(x, y, attribute)
        self.steps += 1
        if not self.is_due():
            return None
        if self.hook is None:  # the loop's optimizer is known from the first due step on
            group = optimizer.param_groups[0]
            optim = OptimConfig(lr=float(group["lr"]), momentum=float(group.get("momentum", 0.0)),
                                weight_decay=float(group.get("weight_decay", 0.0)), lr_schedule="constant")
            self.hook = _LoopHook(self.loss, self.batches, self.cfg, self.objective, optim, self.seed)
        return self.hook.hyper_step(step_view(0, self.steps, self.model, optimizer))

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every hyper-step's record so far."""
        return [] if self.hook is None else self.hook.records

    def frozen_loss(self) -> ParametricLoss:
        """The learned loss, fixed: the mean of the last five values (the loss it started from if
        the search climbed its own objective)."""
        if self.hook is None:
            frozen = family_loss(self.cfg.family, self.counts).to(self.loss.cluster.device)
            return frozen.requires_grad_(False)
        return self.hook.frozen_loss()

    def export(self, path: str | Path, class_names: Sequence[str] | None = None) -> Path:
        """Write the learned loss as a learned-loss file (``loss=learned loss.path=...``, or
        :func:`autobalance.losses.load_loss` in Python)."""
        names = list(class_names) if class_names is not None else [str(c) for c in range(len(self.counts))]
        provenance = {"seed": self.seed, "method": self.cfg.hypergrad.method, "hyper_steps": len(self.records),
                      "source": "autobalance.Search"}
        return save_loss(path, self.frozen_loss(), names, self.counts, provenance)

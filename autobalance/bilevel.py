"""The bilevel search: a training-loop hook that updates the loss parameters by hypergradient.

Every ``every`` inner steps (after ``warmup_epochs``), one hyper-step: draw m training and m
validation batches (under torchrun, each rank its shard of them, with every derivative
averaged over the ranks, so that all ranks take the same exact outer step), compute
d(validation objective)/d(loss parameters) with the configured method, and take an outer
optimizer step through :class:`~autobalance.outer_update.OuterUpdate` (the anchor's or the
prior's pull towards the starting loss against over-fitting a small validation split, the clip,
Adam or SGD). Each hyper-step's record holds
the hypergradient itself (``hypergrad``, by loss parameter name, before clipping). A non-finite
hypergradient is skipped, counted and warned about, never applied. A linear solve that ends
with a relative residual above 1 (worse than p = 0, typical of an indefinite Hessian) is
applied but counted as unsolved, with a warning the first time.
"""

from __future__ import annotations

import copy
import time
import warnings
from typing import Any

import torch

from autobalance.class_attributes import measure
from autobalance.config import OptimConfig, SearchConfig
from autobalance.data.bundle import DataBundle
from autobalance.distributed import whole_batch_objective
from autobalance.guard import ObjectiveGuard
from autobalance.hypergrad import SGDStep, loss_closure, make_method, model_closure
from autobalance.hypergrad.closures import RngState
from autobalance.legacy import current_search_state
from autobalance.logging.sinks import Sinks
from autobalance.losses.family import ParametricLoss
from autobalance.objectives import AnnealedObjective, Objective
from autobalance.outer_update import OuterUpdate
from autobalance.training.lr_schedule import lr_at
from autobalance.training.trainer import StepView

MIN_GUARD_WINDOW = 10
"""The shortest window the guard is fitted to when a search is shorter than ``search.guard.window``."""
INNER_OPTIMIZER_KEYS = ("lr", "momentum", "weight_decay", "nesterov", "momentum_buffers")
"""What the search passes each call about the real optimizer; never carried between calls."""


class BilevelSearch:
    """A :class:`~autobalance.training.trainer.StepHook` that learns ``loss``'s parameters."""

    def __init__(self, loss: ParametricLoss, data: DataBundle, cfg: SearchConfig,
                 objective: Objective, optim: OptimConfig, seed: int = 0,
                 sinks: Sinks | None = None, total_epochs: int | None = None, fold: int | None = None,
                 phase: str = "search", expected_hyper_steps: int | None = None) -> None:
        """``optim`` is the schedule the searching trainer runs; ``total_epochs`` the full
        training length that null search lengths are fractions of (default ``optim.epochs``);
        ``fold`` tags the hyper-step records of one cross-fitted search, ``phase`` names the
        trainer's phase they belong to (the key a resume replaces them by).
        ``expected_hyper_steps``: how many the search will take; a search shorter than the
        guard's window but of at least :data:`MIN_GUARD_WINDOW` hyper-steps is watched with a window
        that fits it (fewer are too noisy to tell a climb from their batches' noise)."""
        self.loss, self.data, self.cfg, self.objective = loss, data, cfg, objective
        self.optim_cfg, self.seed, self.sinks = optim, seed, sinks
        total = optim.epochs if total_epochs is None else total_epochs
        self.active_epochs = cfg.search_epochs(total)
        self.first_epoch = cfg.first_hyper_epoch(total)
        self.damping = optim.weight_decay if cfg.hypergrad.damping is None else cfg.hypergrad.damping
        self.method = make_method(cfg.hypergrad.method, damping=self.damping, **dict(cfg.hypergrad.options))
        for p in loss.parameters():  # inner steps treat the loss as fixed; only hyper-steps set .grad
            p.requires_grad_(False)
        self.update = OuterUpdate(dict(loss.named_parameters()), cfg.outer)
        self.start = self.update.start
        self.method_state: dict[str, Any] = {}
        self.hyper_steps = 0
        self.skipped = 0
        self.recent: list[dict[str, torch.Tensor]] = []
        self.records: list[dict[str, Any]] = []
        self.phase = phase
        self.tag = {"phase": phase} if fold is None else {"phase": phase, "fold": fold}
        g = cfg.guard
        fits = expected_hyper_steps is not None and expected_hyper_steps >= MIN_GUARD_WINDOW
        window = min(g.window, expected_hyper_steps // 2 * 2) if fits else g.window
        self.guard = ObjectiveGuard(window, g.rise, g.climb, g.backoff, g.drawdown) if g.enabled else None
        self.trail: list[tuple[int, int, dict[str, torch.Tensor]]] = []
        """(values the guard had seen, hyper-step, the loss after it) over the last half-window."""
        self.best: tuple[int, dict[str, torch.Tensor]] | None = None
        """(hyper-step, the loss after it) where the guard's lowest half-window ended: where a
        back-off returns."""

    def is_due(self, epoch: int, step: int) -> bool:
        return (self.first_epoch <= epoch < self.active_epochs) and step % self.cfg.every == 0

    def after_step(self, view: StepView) -> None:
        if self.is_due(view.epoch, view.step):
            self.hyper_step(view)

    def carries_tangents(self, epoch: int) -> bool:
        """Whether a forward-mode method follows this epoch's training steps."""
        start = getattr(self.method, "from_epoch", 0)
        return getattr(self.method, "carries_tangents", False) and start <= epoch < self.active_epochs

    def before_step(self, view: StepView, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor | None) -> None:
        """Forward mode: carry the tangents through the step about to be taken, on its batch
        and with its random draws (the RNG state it will start from)."""
        if not self.carries_tangents(view.epoch):
            return
        model = view.model
        device = next(model.parameters()).device
        rng = RngState([device.index or 0] if device.type == "cuda" else [])
        closure = loss_closure(model, self.loss, [(x, y, g)], view.weight_decay,
                               shard_mean=self.data.ranks.mean if self.data.ranks.active else None, rng=rng)
        step = SGDStep(view.lr, view.momentum, view.weight_decay, view.nesterov, view.momentum_buffers is None)
        params = {n: p.detach() for n, p in model.named_parameters()}
        hparams = {n: p.detach() for n, p in self.loss.named_parameters()}
        self.method_state = self.method.advance(self.method_state or None, params, hparams, closure, step)

    def _closures(self, view: StepView):
        """One training closure per batch the method takes (``search.batches``, or one per
        look-ahead step) and the validation closure, on batches drawn for this step."""
        draw = view.step
        train_batches = [self.data.sample_train_batch(self.seed, draw * 64 + i)
                         for i in range(self.method.closures_needed(self.cfg.batches))]
        val_batches = [self.data.sample_val_batch(self.seed, draw * 64 + i, self.cfg.val_batch_size,
                                                  self.cfg.val_sampler) for i in range(self.cfg.batches)]
        shard_mean = self.data.ranks.mean if self.data.ranks.active else None
        val_loss = model_closure(view.model, whole_batch_objective(self.objective, self.data.ranks),
                                 val_batches, seed=draw + 1, shard_mean=shard_mean,
                                 train_mode=self.cfg.val_mode == "train")
        return [loss_closure(view.model, self.loss, [b], self.optim_cfg.weight_decay, seed=draw,
                             shard_mean=shard_mean) for b in train_batches], val_loss

    def _inner_optimizer_state(self, view: StepView) -> dict[str, Any]:
        """The real optimizer as it stands: lr, momentum, decay, Nesterov and its momentum
        buffers (a look-ahead matches it; other methods ignore these keys)."""
        state: dict[str, Any] = {"lr": lr_at(self.optim_cfg, view.epoch), "momentum": self.optim_cfg.momentum,
                                 "weight_decay": self.optim_cfg.weight_decay, "nesterov": self.optim_cfg.nesterov}
        return state if view.momentum_buffers is None else {**state, "momentum_buffers": dict(view.momentum_buffers)}

    def search_progress(self, epoch: int) -> float:
        """Where ``epoch`` lies in the hyper-step epochs: 0 at the first, 1 at the last."""
        return (epoch - self.first_epoch) / max(1, self.active_epochs - 1 - self.first_epoch)

    def measure_attributes(self, view: StepView) -> dict[str, list[float]]:
        """The map's measured class attributes (difficulty, training loss) on the model as the
        hyper-steps begin: the warm-up model the issue's class-attribute map reads."""
        measured = {}
        for name in self.loss.pending_attributes():
            measured[f"measured_{name}"] = measure(name, view.model, self.data)
            self.loss.set_attribute(name, measured[f"measured_{name}"])
        return measured

    def hyper_step(self, view: StepView) -> dict[str, Any]:
        start = time.perf_counter()
        measured = self.measure_attributes(view)
        annealed = {}
        if isinstance(self.objective, AnnealedObjective):
            self.objective.progress = self.search_progress(view.epoch)
            annealed = {"temperature": self.objective.temperature}
        train_loss, val_loss = self._closures(view)
        params = {n: p.detach() for n, p in view.model.named_parameters()}
        hparams = {n: p.detach() for n, p in self.loss.named_parameters()}
        state = {**self.method_state, **self._inner_optimizer_state(view)}
        result = self.method.compute(params, hparams, train_loss, val_loss, state)
        record: dict[str, Any] = {**self.tag, "hyper_step": self.hyper_steps, "epoch": view.epoch,
                                  "step": view.step, **annealed, **measured, **_plain(result.diagnostics),
                                  "hypergrad": {n: g.tolist() for n, g in result.grads.items()}}
        self._check_solve(record)
        if not result.finite:
            self.skipped += 1
            warnings.warn(f"non-finite hypergradient at step {view.step} ({result.diagnostics}); "
                          f"hyper-step skipped ({self.skipped} so far)", RuntimeWarning, stacklevel=2)
        else:
            self.method_state = {k: v for k, v in result.state.items() if k not in INNER_OPTIMIZER_KEYS}
            self.update.apply(result.grads, record)
            self.loss.project_()
            self._watch(record)
            self.recent = (self.recent + [{n: p.detach().clone() for n, p in
                                           self.loss.named_parameters()}])[-self.cfg.export.window:]
        self.hyper_steps += 1
        record.update(skipped=self.skipped, applied=result.finite,
                      seconds_total=time.perf_counter() - start,
                      **{k: v.tolist() for k, v in self.loss.learned_values().items()})
        self.records.append(record)
        if self.sinks is not None:
            self.sinks.log("hyperstep", record, view.step)
        return record

    def _watch(self, record: dict[str, Any]) -> None:
        """The guard: when the objective this search minimizes has been climbing over its last
        hyper-steps, return to the loss where it was lowest and shrink the outer learning rate
        (times ``search.guard.backoff`` or less), the outer optimizer's moments reset."""
        if self.guard is None or "val_loss" not in record:
            return
        factor = self.guard.observe(record["val_loss"])
        seen = len(self.guard.values)
        loss = {n: p.detach().clone() for n, p in self.loss.named_parameters()}
        self.trail = (self.trail + [(seen, record["hyper_step"], loss)])[-(self.guard.window // 2 + 1):]
        self.best = next(((step, loss) for at, step, loss in self.trail if at == self.guard.best_at), self.best)
        if factor < 1.0:
            lr = self.update.scale_lr(factor)
            back = "its starting loss kept"
            if self.best is not None:
                self.update.restore(self.best[1])
                back = f"back to the loss after hyper-step {self.best[0]}"
            record.update(backed_off_to_lr=lr, returned_to=None if self.best is None else self.best[0])
            warnings.warn(f"the search's validation objective {self.guard.reason} (to {record['val_loss']:.4g} at "
                          f"step {record['step']}): its hypergradient is not a descent direction here; {back}, "
                          f"outer learning rate now {lr:.3g} (back-off {self.guard.backoffs})", RuntimeWarning,
                          stacklevel=3)

    def climbed(self) -> tuple[float, float, int] | None:
        """(first, last, n): the objective's means over the first and last n hyper-steps, when
        the whole search climbed it."""
        return None if self.guard is None else self.guard.climbed()

    @property
    def unsolved(self) -> int:
        """Hyper-steps whose linear solve left a relative residual above 1."""
        return sum(1 for r in self.records if r.get("residual", 0.0) > 1.0)

    def _check_solve(self, record: dict[str, Any]) -> None:
        if record.get("residual", 0.0) > 1.0 and self.unsolved == 0:
            warnings.warn(f"the {self.cfg.hypergrad.method} solve at step {record['step']} ended with relative "
                          f"residual {record['residual']:.3g} (> 1: worse than p = 0; stop: {record.get('stop')}), so "
                          f"the Hessian is likely indefinite there; a larger search.hypergrad.damping (now "
                          f"{self.damping}) "
                          "makes it definite. Later ones are counted as hyper_steps_unsolved",
                          RuntimeWarning, stacklevel=3)

    def epoch_record(self) -> dict[str, Any]:
        last = self.records[-1] if self.records else {}
        return {"hyper_steps": self.hyper_steps, "hyper_steps_skipped": self.skipped,
                "hyper_steps_unsolved": self.unsolved, "val_objective": last.get("val_loss"),
                "backoffs": 0 if self.guard is None else self.guard.backoffs}

    def frozen_loss(self) -> ParametricLoss:
        """A fixed copy of the learned loss: its last value, or the mean of the last k values;
        its starting loss when the search climbed its own validation objective (the guard)."""
        frozen = copy.deepcopy(self.loss)
        climbed = self.climbed()
        if climbed is not None:
            warnings.warn(f"the search climbed its own validation objective (mean {climbed[0]:.4g} over its first "
                          f"{climbed[2]} hyper-steps, {climbed[1]:.4g} over its last {climbed[2]}): exporting the loss "
                          "it started from, not the one it climbed to", RuntimeWarning, stacklevel=2)
            with torch.no_grad():
                for name, p in frozen.named_parameters():
                    p.copy_(self.start[name])
        elif self.cfg.export.value == "mean_last" and self.recent:
            with torch.no_grad():
                for name, p in frozen.named_parameters():
                    p.copy_(torch.stack([r[name] for r in self.recent]).mean(0))
        for p in frozen.parameters():
            p.requires_grad_(False)
        return frozen

    def state_dict(self) -> dict[str, Any]:
        return {**self.update.state_dict(), "method_state": self.method_state,
                "hyper_steps": self.hyper_steps, "skipped": self.skipped, "recent": self.recent,
                "records": self.records,
                "guard": None if self.guard is None else self.guard.state_dict(), "trail": self.trail,
                "best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = current_search_state(state)
        self.update.load_state_dict(state)
        self.method_state = state["method_state"]
        self.hyper_steps, self.skipped = state["hyper_steps"], state["skipped"]
        self.recent, self.records = state["recent"], state["records"]
        if self.guard is not None and state["guard"] is not None:
            self.guard.load_state_dict(state["guard"])
        self.trail, self.best = state["trail"], state["best"]
        if self.sinks is not None:
            self.sinks.resumed("hyperstep", self.phase, self.records)


def _plain(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Diagnostics as JSON-friendly scalars (drop tensors)."""
    return {k: v for k, v in diagnostics.items() if isinstance(v, int | float | str | bool | None)}

"""The inner training loop: SGD over device-resident batches, per-epoch evaluation,
atomic per-epoch checkpoints and exact resume.

Hooks (``StepHook``) run before and after every optimizer step; the bilevel search is one such hook, so
plain ERM and the search share this loop. Under torchrun (``data.ranks``) each step runs on the
rank's shard through DistributedDataParallel; only rank 0 writes checkpoints, every rank can
resume from them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from autobalance.config import OptimConfig
from autobalance.data.bundle import DataBundle, TensorSplit
from autobalance.distributed import data_parallel
from autobalance.logging.sinks import Sinks
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.schedules import LossSchedule
from autobalance.metrics import classification_metrics
from autobalance.training.checkpoint import (
    load_checkpoint,
    previous_path,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from autobalance.training.compiled import compiled_module
from autobalance.training.lr_schedule import lr_at

EPOCH_METRICS = ("balanced_error", "worst_group_error")
"""Evaluated every ``eval_every`` epochs on validation (and test, with ``eval_test``); the second
with an attribute."""


@dataclass(frozen=True)
class StepView:
    """What a hook may read of the training at one step, and nothing more: where it is, the model,
    the optimizer's settings and its momentum buffers by parameter name (``None`` before SGD has
    made them). A hook reads the model's weights and runs it; it does not step the optimizer,
    change the schedule or touch the trainer's counters."""

    epoch: int
    step: int
    model: torch.nn.Module
    lr: float
    momentum: float
    weight_decay: float
    nesterov: bool
    momentum_buffers: Mapping[str, torch.Tensor] | None


def step_view(epoch: int, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> StepView:
    """What a hook sees of a training at one step: ``optimizer``'s first group's settings and its
    momentum buffers by parameter name (None until SGD has made one for every trained parameter)."""
    group = optimizer.param_groups[0]
    buffers: dict[str, torch.Tensor] | None = {}
    for name, p in model.named_parameters():
        buf = optimizer.state.get(p, {}).get("momentum_buffer") if p.requires_grad else None
        if p.requires_grad and buf is None:
            buffers = None
            break
        if buf is not None:
            buffers[name] = buf
    return StepView(epoch, step, model, float(group["lr"]), float(group.get("momentum", 0.0)),
                    float(group.get("weight_decay", 0.0)), bool(group.get("nesterov", False)), buffers)


class StepHook(Protocol):
    def before_step(self, view: StepView, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor | None) -> None:
        """Sees the step's batch and the training as the step will find it (the RNG too)."""

    def after_step(self, view: StepView) -> None: ...

    def epoch_record(self) -> dict[str, Any]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Trainer:
    """Train ``model`` with ``loss`` on ``data.train`` for ``optim.epochs`` epochs."""

    def __init__(
        self,
        model: torch.nn.Module,
        loss: ClassificationLoss,
        data: DataBundle,
        optim: OptimConfig,
        *,
        seed: int = 0,
        out_dir: Path | None = None,
        sinks: Sinks | None = None,
        schedule: LossSchedule | None = None,
        precision: str = "fp32",
        progress: bool = True,
        phase: str = "train",
        hooks: tuple[StepHook, ...] = (),
        epoch_callbacks: tuple = (),
        eval_every: int = 1,
        eval_test: bool = False,
        sync_batchnorm: bool = False,
        compile: bool = False,
    ) -> None:
        self.model, self.loss, self.data, self.optim_cfg = model, loss, data, optim
        self.seed, self.out_dir, self.sinks, self.phase = seed, out_dir, sinks, phase
        self.schedule = schedule or LossSchedule("none", data.train_counts,
                                                 default_sampler=data.sampler)
        self.progress, self.hooks, self.epoch_callbacks = progress, hooks, epoch_callbacks
        self.eval_every, self.eval_test = eval_every, eval_test
        self.device = next(model.parameters()).device
        self.ranks = data.ranks
        self.train_module = data_parallel(model, self.ranks, sync_batchnorm)
        if compile:
            self.train_module = compiled_module(self.train_module, self.device)
        self.autocast = precision == "bf16" and self.device.type == "cuda"
        self.optimizer = torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad], lr=optim.lr,
            momentum=optim.momentum, nesterov=optim.nesterov, weight_decay=optim.weight_decay,
            **({"fused": True} if compile and self.device.type == "cuda" else {}),
        )
        self.named_parameters = dict(model.named_parameters())
        """The model's parameters by name, for the loss's penalty (built once: a resume copies into them)."""
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.out_dir is None else Path(self.out_dir) / "checkpoints" / f"{self.phase}.pt"

    def view(self) -> StepView:
        """The training as a hook may see it now."""
        return step_view(self.epoch, self.step, self.model, self.optimizer)

    def forward(self, x: torch.Tensor, module: torch.nn.Module | None = None) -> torch.Tensor:
        """The model's logits on ``x`` at the trainer's precision (float32 out)."""
        ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if self.autocast
               else contextlib.nullcontext())
        with ctx:
            return (self.model if module is None else module)(x).float()

    def train_step(self, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor | None) -> float:
        self.model.train()
        loss = self.loss(self.forward(self.loss.augment_inputs(x, y, g), self.train_module), y, g)
        penalty = self.loss.penalty(self.named_parameters, self.optim_cfg.weight_decay)
        if penalty is not None:
            loss = loss + penalty
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{self.phase}: non-finite training loss {loss.item()} at epoch {self.epoch}, "
                f"step {self.step}; {divergence_cause(self.loss)}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return loss.item()

    @torch.no_grad()
    def logits(self, split: TensorSplit) -> torch.Tensor:
        """The model's logits on ``split`` as it is evaluated (eval mode, the loss's test-time
        adjustment applied), an (N, K) tensor."""
        was_training = self.model.training
        self.model.eval()
        logits = [self.loss.eval_logits(self.forward(x)) for x, _, _ in self.data.eval_batches(split)]
        self.model.train(was_training)
        return torch.cat(logits) if logits else torch.zeros(0, self.data.num_classes, device=self.device)

    def predict(self, split: TensorSplit) -> torch.Tensor:
        return self.logits(split).argmax(1)

    def evaluate(self, split: TensorSplit) -> dict[str, Any]:
        return self.metrics(self.predict(split), split)

    def metrics(self, predictions: torch.Tensor, split: TensorSplit) -> dict[str, Any]:
        """The metrics of ``predictions`` on ``split`` (:func:`classification_metrics`)."""
        return classification_metrics(predictions, split.y, self.data.train_counts, split.attribute,
                                      self.data.num_attribute_values)

    def state_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase, "epoch": self.epoch, "step": self.step,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "loss": self.loss.state_dict(), "history": self.history, "rng": rng_state(),
            "hooks": [h.state_dict() for h in self.hooks],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss.load_state_dict(state["loss"])
        set_rng_state(state["rng"])
        for hook, hook_state in zip(self.hooks, state["hooks"], strict=True):
            hook.load_state_dict(hook_state)

    def try_resume(self) -> bool:
        path = self.checkpoint_path
        if path is None or not self.ranks.broadcast_object(path.exists() or previous_path(path).exists()):
            return False
        self.load_state_dict(load_checkpoint(path, self.device))
        if self.sinks is not None:
            self.sinks.resumed("epoch", self.phase, self.history)
        return True

    def _epoch_record(self, train_loss: float, seconds: float, images: int) -> dict[str, Any]:
        record: dict[str, Any] = {
            "phase": self.phase, "epoch": self.epoch, "lr": lr_at(self.optim_cfg, self.epoch),
            "train_loss": train_loss, "seconds": seconds, "images_per_second": images / seconds,
        }
        last = self.epoch + 1 == self.optim_cfg.epochs
        if last or (self.epoch + 1) % self.eval_every == 0:
            for name, split in (("val", self.data.val), ("test", self.data.test)):
                if len(split) and (name == "val" or self.eval_test):
                    metrics = self.evaluate(split)
                    record.update({f"{name}_{key}": metrics[key] for key in EPOCH_METRICS if key in metrics})
        for hook in self.hooks:
            record.update(hook.epoch_record())
        return record

    def run_epoch(self) -> dict[str, Any]:
        lr = lr_at(self.optim_cfg, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        sampler = self.schedule.on_epoch(self.epoch, self.loss)
        n_batches = -(-len(self.data.train) // self.data.batch_size)
        bar = tqdm(total=n_batches, disable=None if self.progress else True, leave=False,
                   desc=f"{self.phase} {self.epoch + 1}/{self.optim_cfg.epochs}")
        start, images, total, count = time.perf_counter(), 0, 0.0, 0
        for x, y, g in self.data.train_batches(self.seed, self.epoch, sampler):
            if self.hooks:
                view = self.view()
                for hook in self.hooks:
                    hook.before_step(view, x, y, g)
            total += self.train_step(x, y, g) * len(y)
            count += len(y)
            images += len(y)
            if self.hooks:
                view = self.view()
                for hook in self.hooks:
                    hook.after_step(view)
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.3f}",
                            img_s=f"{images / (time.perf_counter() - start):.0f}")
        bar.close()
        total, count = self.ranks.sum([total, count])
        return self._epoch_record(total / max(count, 1), time.perf_counter() - start, int(count))

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Run the remaining epochs; with ``resume`` continue from the last checkpoint."""
        if resume and not self.try_resume() and self.sinks is not None:
            self.sinks.restarted(self.phase)  # stopped before its first checkpoint: it starts over
        while self.epoch < self.optim_cfg.epochs:
            record = self.run_epoch()
            self.history.append({"step": self.step, **record})
            self.epoch += 1
            if self.checkpoint_path is not None and self.ranks.is_main:
                save_checkpoint(self.checkpoint_path, self.state_dict())
            if self.sinks is not None:
                self.sinks.log("epoch", record, self.step)
            if self.progress:
                tqdm.write(_epoch_line(record))
            for callback in self.epoch_callbacks:
                callback(self)
        return self.history


FAR_FROM_CE = {"scales": 10.0, "offsets": 20.0, "weights": 100.0}
"""Past these a loss's values, rather than the learning rate, are the likelier cause of a divergence:
a scale ratio to 1 (either way), an offset's size in nats, the ratio of the largest weight to the smallest."""


def divergence_cause(loss: ClassificationLoss) -> str:
    """What a non-finite training loss most likely comes from: the loss's values when they lie
    far from plain CE's (scales 1, offsets 0, equal weights), else the learning rate."""
    values = loss.values() if callable(getattr(loss, "values", None)) else {}
    far = []
    if "scales" in values:
        scales = values["scales"]
        if float(torch.maximum(scales, 1 / scales).max()) > FAR_FROM_CE["scales"]:
            far.append(f"logit scales {float(scales.min()):.3g}..{float(scales.max()):.3g}")
    if "offsets" in values and float(values["offsets"].abs().max()) > FAR_FROM_CE["offsets"]:
        far.append(f"logit offsets up to {float(values['offsets'].abs().max()):.3g} in size")
    if "weights" in values and float(values["weights"].max() / values["weights"].min()) > FAR_FROM_CE["weights"]:
        far.append(f"loss weights {float(values['weights'].min()):.3g}..{float(values['weights'].max()):.3g}")
    if far:
        return (f"the loss's values are far from CE's ({', '.join(far)}), the likelier cause: check the loss "
                "(for a learned one, its search: search.outer.lr, search.outer.clip) before optim.lr")
    return "lower optim.lr (the loss's values are close to CE's)"


def _epoch_line(r: dict[str, Any]) -> str:
    val = f" val_bal_err {r['val_balanced_error']:.2f}" if "val_balanced_error" in r else ""
    test = f" test_bal_err {r['test_balanced_error']:.2f}" if "test_balanced_error" in r else ""
    if "test_worst_group_error" in r:
        test += f" test_worst_group_err {r['test_worst_group_error']:.2f}"
    return (f"[{r['phase']}] epoch {r['epoch'] + 1} loss {r['train_loss']:.4f}{val}{test} "
            f"({r['images_per_second']:.0f} img/s)")

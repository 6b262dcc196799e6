"""The procedure of ``adaptive_cost_la`` (Narasimhan and Menon, NeurIPS 2021): before each epoch
after the first, the model's class errors on the held-out validation split move the loss's class
costs one exponentiated-gradient step towards the worst classes (the dual of the run objective's
CVaR of class errors); the network then trains on the cost-sensitive logit-adjusted loss of those
costs. Validation is read by the updates only, never trained on."""

from __future__ import annotations

from typing import Any

import torch

from autobalance.class_attributes import per_class_means
from autobalance.config import ConfigError, RunConfig
from autobalance.data.bundle import DataBundle
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.beyond_balanced import AdaptiveCostLALoss
from autobalance.metrics import worst_count
from autobalance.objectives import OBJECTIVES
from autobalance.procedures import Procedure, register_procedure
from autobalance.training.trainer import StepView, Trainer


def worst_classes(cfg: RunConfig, num_classes: int) -> int:
    """How many of the worst classes the run objective averages: ceil(alpha K) for ``worst_class``
    with ``cvar_alpha`` (1 without), K for the balanced error's objectives."""
    objective = cfg.objective
    if objective.name == "worst_class":
        return 1 if objective.cvar_alpha is None else worst_count(objective.cvar_alpha, num_classes)
    if OBJECTIVES.metadata(objective.name).get("metric") == "balanced_error":
        return num_classes
    raise ConfigError(f"loss.name={cfg.loss.name} moves class costs towards the worst classes of objective=worst_class "
                      f"(with objective.cvar_alpha) or objective=balanced_ce; got objective={objective.name}")


def class_errors(model: torch.nn.Module, data: DataBundle) -> torch.Tensor:
    """The model's error on each class of the validation split, fractions in [0, 1] (eval mode,
    unadjusted logits; a class without validation examples counts 0)."""
    return per_class_means(model, data, data.val, lambda z, y: (z.argmax(1) != y).double())


class ValidationCostUpdates:
    """A step hook: at the first step of every epoch after the first, one cost update from the
    model as the previous epoch left it. Its state is the last epoch updated, so a resumed run
    updates exactly as an uninterrupted one (the costs ride in the loss's checkpoint)."""

    def __init__(self, loss: AdaptiveCostLALoss, data: DataBundle, step_size: float, worst: int) -> None:
        self.loss, self.data, self.step_size, self.worst = loss, data, step_size, worst
        self.updated_epoch = 0
        self.last_errors: list[float] = []

    def before_step(self, view: StepView, x, y, g) -> None:
        if view.epoch > self.updated_epoch:
            errors = class_errors(view.model, self.data)
            self.loss.update(errors, self.step_size, self.worst)
            self.updated_epoch, self.last_errors = view.epoch, errors.tolist()

    def after_step(self, view: StepView) -> None:
        pass

    def epoch_record(self) -> dict[str, Any]:
        costs = self.loss.costs
        return {"cost_max": float(costs.max() * len(costs)), "cost_min": float(costs.min() * len(costs))}

    def state_dict(self) -> dict[str, Any]:
        return {"updated_epoch": self.updated_epoch, "last_errors": self.last_errors}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updated_epoch, self.last_errors = state["updated_epoch"], state["last_errors"]


def check(cfg: RunConfig, data: DataBundle) -> None:
    if cfg.train_on_val or len(data.val) == 0:
        raise ConfigError(f"loss.name={cfg.loss.name} updates its class costs from validation errors; found "
                          f"train_on_val={cfg.train_on_val} and {len(data.val)} validation examples: expected "
                          "train_on_val=false and a validation split")
    worst_classes(cfg, data.num_classes)


def hooks(cfg: RunConfig, data: DataBundle, loss: ClassificationLoss) -> tuple[ValidationCostUpdates, ...]:
    return (ValidationCostUpdates(loss, data, cfg.loss.step_size, worst_classes(cfg, data.num_classes)),)


def report(cfg: RunConfig, trainer: Trainer, data: DataBundle, final_data: DataBundle) -> dict[str, Any]:
    """The costs the training ended with (K lambda: 1 is a uniform class) and the errors behind them."""
    (hook,) = trainer.hooks
    costs = (trainer.loss.costs * len(trainer.loss.costs)).tolist()
    named = zip(data.class_names, costs, strict=True)
    print("adaptive costs (K lambda): " + " ".join(f"{name} {c:.2f}" for name, c in named), flush=True)
    return {"class_costs": costs, "worst_classes": hook.worst, "updates": hook.updated_epoch,
            "last_validation_class_errors": hook.last_errors}


register_procedure("validation_costs", Procedure(check=check, hooks=hooks, after=report, after_phase="report"))

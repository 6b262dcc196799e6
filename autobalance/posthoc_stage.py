"""The post-hoc stage of a run (``posthoc.enabled=true``): offsets fitted to the final model's
validation outputs (:mod:`autobalance.posthoc`) and the adjusted model's validation and test metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autobalance.class_attributes import attribute_matrix, attribute_values, log_frequency, measure
from autobalance.config import ConfigError, RunConfig
from autobalance.data.bundle import DataBundle
from autobalance.group_metrics import index_means
from autobalance.losses.functional import cross_entropy
from autobalance.objectives import build_objective
from autobalance.posthoc import fit_offsets, offset_basis
from autobalance.training.trainer import Trainer


def class_attribute_values(cfg: RunConfig, data: DataBundle, val_logits: torch.Tensor,
                           model: torch.nn.Module | None = None) -> dict[str, Any]:
    """Each class attribute's K numbers in this run; difficulty is the per-class validation
    cross-entropy of ``val_logits``, the training loss (with ``model``) its per-class training one."""
    difficulty, _ = index_means(cross_entropy(val_logits.double(), data.val.y), data.val.y, data.num_classes)
    training_loss = None if model is None else measure("training_loss", model, data)
    return attribute_values(data.train_counts, data.summary.get("label_noise"), cfg.objective.class_weights,
                            difficulty.tolist(), training_loss)


def posthoc_stage(cfg: RunConfig, trainer: Trainer, data: DataBundle, fitted: DataBundle,
                  scored: Callable[[RunConfig, DataBundle, dict], dict]) -> dict[str, Any]:
    """Fit the offsets on ``fitted.val`` (data the final model did not train on) to the run's
    objective, then report the adjusted model on validation and test."""
    p = cfg.posthoc
    if not len(fitted.val):
        raise ConfigError("posthoc.enabled=true: the final model trained on every validation example "
                          "(train_on_val=true, or data.split=none); expected train_on_val=false and a validation split")
    val_logits = trainer.logits(fitted.val)
    kept: list[str] = []
    attributes = None
    if p.parametrization == "attributes":
        values = class_attribute_values(cfg, fitted, val_logits,
                                        trainer.model if "training_loss" in p.attributes else None)
        attributes, kept = attribute_matrix(p.attributes, values)
    basis = offset_basis(p.parametrization, data.num_classes, torch.tensor(log_frequency(fitted.train_counts)),
                         attributes)
    objective = build_objective(cfg.objective, data.num_classes, data.num_attribute_values, data.class_names)
    fit = fit_offsets(val_logits, fitted.val.y, fitted.val.attribute, objective, basis, p.steps, p.lr)
    offsets = fit.offsets.to(val_logits)

    def adjusted(split, logits):
        return scored(cfg, data, trainer.metrics((logits + offsets).argmax(1), split))

    result = {"parametrization": p.parametrization, "attributes": kept, "coefficients": fit.coefficients.tolist(),
              "offsets": fit.offsets.tolist(), "val_objective_before": fit.objective_before,
              "val_objective_after": fit.objective_after,
              "val": adjusted(fitted.val, val_logits), "test": adjusted(data.test, trainer.logits(data.test))}
    print(f"post-hoc offsets ({p.parametrization}{': ' + ', '.join(kept) if kept else ''}): validation objective "
          f"{fit.objective_before:.4f} -> {fit.objective_after:.4f}; test balanced error "
          f"{result['test']['balanced_error']:.2f} %, {result['test'].get('objective_metric', 'balanced_error')} "
          f"{result['test'].get('objective_error', result['test']['balanced_error']):.2f}", flush=True)
    return result

"""Just Train Twice (Liu et al., ICML 2021): train ERM briefly, then train a fresh model on the
training set with the first model's errors repeated ``upweight`` times."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from autobalance.config import RunConfig
from autobalance.data.bundle import DataBundle
from autobalance.losses.factory import loss_config
from autobalance.procedures import Procedure, TrainPhase, register_procedure
from autobalance.training.lr_schedule import shortened
from autobalance.training.trainer import Trainer


def error_set(identifier: Trainer, data: DataBundle) -> torch.Tensor:
    """Indices of the training examples the identification model misclassifies (unaugmented)."""
    return torch.nonzero(identifier.predict(data.train).to(data.train.y.device) != data.train.y).flatten()


def upsampled(data: DataBundle, errors: torch.Tensor, upweight: float) -> DataBundle:
    """``data`` whose training split holds each example of ``errors`` ``round(upweight)`` times
    (the paper's upsampling), every other example once."""
    copies = int(round(upweight)) - 1
    idx = torch.cat([torch.arange(len(data.train), device=data.train.y.device), errors.repeat(copies)])
    train = data.train.take(idx)
    return dataclasses.replace(data, train=train, train_counts=train.class_counts(data.num_classes))


def jtt_upsampled(cfg: RunConfig, data: DataBundle, train_phase: TrainPhase) -> tuple[DataBundle, dict[str, Any]]:
    """JTT's first stage: ERM for ``loss.identification_epochs`` epochs of the schedule, then the
    training set with its errors repeated ``loss.upweight`` times."""
    loss = cfg.loss
    epochs = min(loss.identification_epochs, cfg.optim.epochs)
    identify_cfg = dataclasses.replace(cfg, loss=loss_config("ce"))
    identifier = train_phase(identify_cfg, data, "identify", optim=shortened(cfg.optim, epochs))
    errors = error_set(identifier, data)
    info = {"identification_epochs": epochs, "upweight": loss.upweight, "errors": len(errors),
            "training_examples": len(data.train)}
    print(f"JTT: {len(errors)} of {len(data.train)} training examples misclassified after {epochs} epochs; "
          f"each now appears {round(loss.upweight)} times", flush=True)
    return upsampled(data, errors, loss.upweight), info


register_procedure("jtt", Procedure(before=jtt_upsampled))

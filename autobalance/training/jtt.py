"""Just Train Twice (Liu et al., ICML 2021): train ERM briefly, then train a fresh model on the
training set with the first model's errors repeated ``upweight`` times."""

from __future__ import annotations

import dataclasses

import torch

from autobalance.data.bundle import DataBundle
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

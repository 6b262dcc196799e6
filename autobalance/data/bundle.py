"""Device-resident train/validation/test tensors and the batch transform that feeds the model."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from autobalance.config import DataConfig
from autobalance.data.augment import NOISE_STD, gaussian_noise, geometric
from autobalance.data.batching import batches, epoch_generator, epoch_order, sample_indices, sampling_labels
from autobalance.data.dataset import ArraySplit
from autobalance.data.splits import stratified_folds
from autobalance.distributed import SINGLE, Ranks
from autobalance.errors import InputError


@dataclass
class TensorSplit:
    """One split on the device: ``x`` uint8 NCHW images or float features, ``y`` int64 labels."""

    x: torch.Tensor
    y: torch.Tensor
    attribute: torch.Tensor | None = None

    @classmethod
    def from_arrays(cls, split: ArraySplit, device: torch.device) -> TensorSplit:
        x = torch.from_numpy(np.ascontiguousarray(split.x))
        if x.dtype == torch.uint8 and x.ndim == 4:
            x = x.permute(0, 3, 1, 2).contiguous()
        attribute = None if split.attribute is None else torch.from_numpy(split.attribute).to(device)
        return cls(x.to(device), torch.from_numpy(split.y).to(device), attribute)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: torch.Tensor) -> TensorSplit:
        """The examples at ``idx``, in that order."""
        idx = idx.to(self.y.device)
        return TensorSplit(self.x[idx], self.y[idx], None if self.attribute is None else self.attribute[idx])

    def class_counts(self, num_classes: int) -> list[int]:
        return [int(c) for c in torch.bincount(self.y.cpu(), minlength=num_classes)]


@dataclass
class BatchTransform:
    """Geometric augmentation (train only, on the raw dtype) -> float -> normalization
    (``mean``/``std`` in [0, 1] units for uint8 images) -> additive noise (train only)."""

    mean: torch.Tensor
    std: torch.Tensor
    augmentation: str = "none"

    def __call__(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        if gen is not None:
            x = geometric(x, self.augmentation, gen)
        if x.dtype == torch.uint8:
            x = x.float().mul_(1.0 / (255.0 * self.std)).sub_(self.mean / self.std)
        else:
            x = (x.float() - self.mean) / self.std
        if gen is not None and self.augmentation in NOISE_STD:
            x = gaussian_noise(x, NOISE_STD[self.augmentation], gen)
        return x


@dataclass
class DataBundle:
    """Everything the training loop needs about the data, already on the device.

    Under data parallelism (``ranks``) every rank draws the same global batches from the seeded
    samplers and keeps its contiguous shard of each; augmentation is drawn for the whole batch
    before the shard is cut, so the shards put together are the single process's batch.
    """

    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    class_names: list[str]
    train_counts: list[int]
    transform: BatchTransform
    sampler: str = DataConfig.sampler
    batch_size: int = DataConfig.batch_size
    eval_batch_size: int = DataConfig.eval_batch_size
    augment_val: bool = False
    num_attribute_values: int = 1
    summary: dict = field(default_factory=dict)
    ranks: Ranks = SINGLE

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def cell_counts(self) -> list[list[int]]:
        """Training examples per cell, an (attribute x class) table (one row without an attribute)."""
        a = torch.zeros_like(self.train.y) if self.train.attribute is None else self.train.attribute
        cells = torch.bincount((a * self.num_classes + self.train.y).cpu(),
                               minlength=self.num_attribute_values * self.num_classes)
        return cells.reshape(self.num_attribute_values, self.num_classes).tolist()

    def train_batches(
        self, seed: int, epoch: int, sampler: str | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """Augmented, normalized training batches; the same for the same (seed, epoch)."""
        order = epoch_order(*sampling_labels(self.train.y, self.train.attribute, self.num_classes,
                                             sampler or self.sampler), epoch_generator(seed, epoch, 0))
        aug_gen = epoch_generator(seed, epoch, 1)
        for idx in batches(order, self.batch_size, min_size=2 * self.ranks.world_size):
            yield self._take(self.train, idx.to(self.train.y.device), aug_gen, shard=True)

    def sample_train_batch(self, seed: int, draw: int, batch_size: int | None = None):
        """One training batch (augmented as in training) for draw number ``draw``."""
        idx = sample_indices(self.train.y, self.num_classes, "shuffle", batch_size or self.batch_size,
                             epoch_generator(seed, draw, 4))
        return self._take(self.train, idx.to(self.train.y.device), epoch_generator(seed, draw, 5), shard=True)

    def sample_val_batch(self, seed: int, draw: int, batch_size: int | None = None,
                         sampler: str = "class_balanced"):
        """One validation batch; augmented only when ``augment_val`` is set."""
        if len(self.val) == 0:
            raise InputError("the validation split is empty; set data.split=stratified or balanced")
        idx = sample_indices(*sampling_labels(self.val.y, self.val.attribute, self.num_classes, sampler),
                             batch_size or self.batch_size, epoch_generator(seed, draw, 6))
        gen = epoch_generator(seed, draw, 7) if self.augment_val else None
        return self._take(self.val, idx.to(self.val.y.device), gen, shard=True)

    def merged_train_val(self) -> DataBundle:
        """The same data with the validation split folded into training (for final models)."""
        if len(self.val) == 0:
            return self
        attribute = (None if self.train.attribute is None or self.val.attribute is None
                     else torch.cat([self.train.attribute, self.val.attribute]))
        train = TensorSplit(torch.cat([self.train.x, self.val.x]), torch.cat([self.train.y, self.val.y]), attribute)
        empty = self.val.take(torch.zeros(0, dtype=torch.long))
        return dataclasses.replace(self, train=train, val=empty, train_counts=train.class_counts(self.num_classes))

    def cross_fold(self, folds: int, fold: int, seed: int) -> DataBundle:
        """Cross-fitting: training and validation merged, then split into ``folds`` stratified
        folds (by class, and by attribute x class with groups); fold ``fold`` validates, the
        rest trains. Over all folds every example serves both levels of the search."""
        if not 0 <= fold < folds:
            raise ValueError(f"fold {fold}: expected one of 0..{folds - 1}")
        pool = self.merged_train_val().train
        strata = pool.y if pool.attribute is None else pool.attribute * self.num_classes + pool.y
        held = torch.from_numpy(stratified_folds(strata.cpu().numpy(), folds, seed)[fold])
        keep = torch.ones(len(pool), dtype=torch.bool)
        keep[held] = False
        train = pool.take(keep.nonzero().squeeze(1))
        return dataclasses.replace(self, train=train, val=pool.take(held),
                                   train_counts=train.class_counts(self.num_classes))

    def eval_batches(
        self, split: TensorSplit
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """Unaugmented batches in order, for evaluation."""
        order = torch.arange(len(split))
        for start in range(0, len(split), self.eval_batch_size):
            idx = order[start : start + self.eval_batch_size].to(split.y.device)
            yield self._take(split, idx, None)

    def _take(self, split: TensorSplit, idx: torch.Tensor, gen: torch.Generator | None, shard: bool = False):
        """The batch ``idx`` transformed; with ``shard``, this rank's part of it."""
        x = self.transform(split.x[idx], gen)
        if shard and self.ranks.active:
            part = self.ranks.shard(len(idx))
            x, idx = x[part], idx[part]
        return x, split.y[idx], None if split.attribute is None else split.attribute[idx]

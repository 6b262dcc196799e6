"""Loss closures ``(params, hparams) -> scalar`` over fixed batches of a real model.

Semantics every hypergradient pass relies on:
- the model runs in train mode, so BatchNorm normalizes with batch statistics exactly as in
  the training step (eval-mode statistics would bias the hypergradient);
- buffers are cloned for each call, so running statistics never absorb hyper-step batches
  and the caller's buffers are never mutated;
- the RNG is forked and re-seeded on each call, so dropout masks and random augmentation are
  the same in every re-evaluation of one hyper-step (with ``rng``, restored to a recorded state
  instead: the draws of the training step taken from that state);
- under data parallelism each rank's closure holds its shard of the batches, and
  ``shard_mean`` (the average over ranks, e.g. :meth:`autobalance.distributed.Ranks.mean`)
  tells the methods to average every gradient, Hessian-vector product and mixed term of it
  over the ranks: the result is that of the whole batch, on every rank.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.func import functional_call

from autobalance.hypergrad.types import LossFn, Params

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
BatchLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, Params], torch.Tensor]
"""``batch_loss(logits, targets, groups, hparams) -> scalar``."""
InputFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, Params], torch.Tensor]
"""``input_fn(x, targets, groups, hparams) -> x'``: hyperparameters acting on the input."""
PenaltyFn = Callable[[Params, Params], torch.Tensor]
"""``penalty(params, hparams) -> scalar``: a regularizer on the model's parameters (learned weight decay)."""
ShardMean = Callable[[list[torch.Tensor]], list[torch.Tensor]]
"""Each tensor averaged over the ranks that hold the shards of one batch."""


class RngState:
    """The generators' state at one moment (CPU, and the CUDA devices given), to restore later:
    a closure built with it draws exactly what a training step from that moment draws."""

    def __init__(self, devices: Sequence[int] = ()) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = {d: torch.cuda.get_rng_state(d) for d in devices}

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        for device, state in self.cuda.items():
            torch.cuda.set_rng_state(state, device)


class ModelClosure:
    """Mean of ``batch_loss`` over ``batches`` with the model's parameters replaced, plus
    ``penalty(params, hparams)`` once when given (a regularizer is not a per-batch mean).

    ``hparams_after_network`` vouches to the engine that hyperparameters act only after the
    network (no ``input_fn``), so the mixed derivative may be taken in forward mode; reverse
    mode over BatchNorm's forward-mode derivative is wrong in torch 2.13 (tested) when they
    reach the input. A wrapper around the closure drops the attribute and so gets the exact
    double backward, never the wrong fast path. Empty data is refused here, by name.

    ``train_mode`` (the default) runs the model as in training: BatchNorm normalizes each batch by
    its own statistics, dropout drops; ``train_mode=False`` runs it as it is evaluated (BatchNorm's
    running statistics, no dropout), the model a validation objective is meant to judge.
    """

    def __init__(self, model: torch.nn.Module, batch_loss: BatchLoss, batches: Sequence[Batch],
                 seed: int = 0, input_fn: InputFn | None = None, shard_mean: ShardMean | None = None,
                 rng: RngState | None = None, penalty: PenaltyFn | None = None, train_mode: bool = True) -> None:
        self.model, self.batch_loss, self.batches = model, batch_loss, list(batches)
        self.penalty, self.train_mode = penalty, train_mode
        if not self.batches:
            raise ValueError("model_closure got no batches: the loss of empty data is undefined "
                             "(is the validation split empty?)")
        for i, (x, _, _) in enumerate(self.batches):
            if len(x) == 0:
                raise ValueError(f"batch {i} has no examples: the loss of empty data is undefined "
                                 "(is the validation split empty?)")
        self.seed, self.input_fn, self.shard_mean, self.rng = seed, input_fn, shard_mean, rng
        self.hparams_after_network = input_fn is None
        self.buffers = {n: b.detach() for n, b in model.named_buffers()}
        device = next(iter(model.parameters())).device
        self.devices = [device.index or 0] if device.type == "cuda" else []

    def __call__(self, params: Params, hparams: Params) -> torch.Tensor:
        was_training = self.model.training
        self.model.train(self.train_mode)
        try:
            with torch.random.fork_rng(devices=self.devices):
                if self.rng is None:
                    torch.manual_seed(self.seed)
                else:
                    self.rng.restore()
                total = 0.0
                for x, y, g in self.batches:
                    if self.input_fn is not None:
                        x = self.input_fn(x, y, g, hparams)
                    fresh = {n: b.clone() for n, b in self.buffers.items()}
                    logits = functional_call(self.model, (params, fresh), (x,))
                    total = total + self.batch_loss(logits, y, g, hparams)
        finally:
            self.model.train(was_training)
        mean = total / len(self.batches)
        return mean if self.penalty is None else mean + self.penalty(params, hparams)


class MeanClosure:
    """The mean of several closures (one per batch): a method's training loss from a list.

    It vouches that hyperparameters act after the network only when every member does, and
    is sharded over ranks when its members are (all alike)."""

    def __init__(self, closures: Sequence[LossFn]) -> None:
        self.closures = list(closures)
        self.hparams_after_network = all(getattr(c, "hparams_after_network", False) for c in self.closures)
        reducers = [getattr(c, "shard_mean", None) for c in self.closures]
        if any(r != reducers[0] for r in reducers):
            raise ValueError("the training closures disagree on shard_mean: all or none must be sharded, alike")
        self.shard_mean = reducers[0]

    def __call__(self, params: Params, hparams: Params) -> torch.Tensor:
        return sum(c(params, hparams) for c in self.closures) / len(self.closures)


def mean_closure(train_loss: LossFn | Sequence[LossFn]) -> LossFn:
    """One closure from a closure or a non-empty list of them."""
    if callable(train_loss):
        return train_loss
    closures = list(train_loss)
    if not closures:
        raise ValueError("no training closures: a hypergradient needs at least one training batch")
    return closures[0] if len(closures) == 1 else MeanClosure(closures)


def model_closure(model: torch.nn.Module, batch_loss: BatchLoss, batches: Sequence[Batch],
                  seed: int = 0, input_fn: InputFn | None = None, shard_mean: ShardMean | None = None,
                  rng: RngState | None = None, penalty: PenaltyFn | None = None, train_mode: bool = True) -> LossFn:
    return ModelClosure(model, batch_loss, batches, seed, input_fn, shard_mean, rng, penalty, train_mode)


def loss_closure(model: torch.nn.Module, loss: torch.nn.Module, batches: Sequence[Batch], applied_decay: float = 0.0,
                 seed: int = 0, shard_mean: ShardMean | None = None, rng: RngState | None = None) -> LossFn:
    """The training objective a parametric loss (hyperparameters by its parameter names) sets
    on ``batches``: the loss, its augmentation of the inputs and its learned weight decay's
    penalty beyond the ``applied_decay`` the optimizer adds itself."""
    return ModelClosure(model, loss_module_fn(loss), batches, seed, loss_input_fn(loss), shard_mean, rng,
                        loss_penalty_fn(loss, applied_decay))


def averaged_over_shards(closure: LossFn, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``tensors`` (derivatives of ``closure`` on this rank's shard) averaged over the ranks;
    unchanged for a closure that is not sharded."""
    reduce = getattr(closure, "shard_mean", None)
    return list(tensors) if reduce is None else reduce(list(tensors))


def loss_input_fn(loss: torch.nn.Module) -> InputFn | None:
    """The loss's augmentation of the inputs (``loss.augmentation``, its magnitudes taken from
    hparams as ``augmentation.<name>``); None for a loss without one."""
    augmentation = getattr(loss, "augmentation", None)
    if augmentation is None:
        return None
    prefix = "augmentation."

    def input_fn(x, y, g, hparams):
        own = {n[len(prefix):]: h for n, h in hparams.items() if n.startswith(prefix)}
        return functional_call(augmentation, own, (x, y, g))

    return input_fn


def loss_penalty_fn(loss: torch.nn.Module, applied: float) -> PenaltyFn | None:
    """The loss's learned weight decay (``loss.regularizer``, its decays taken from hparams as
    ``regularizer.<name>``) beyond the optimizer's ``applied`` decay; None for a loss without one."""
    regularizer = getattr(loss, "regularizer", None)
    if regularizer is None:
        return None
    prefix = "regularizer."

    def penalty(params, hparams):
        own = {n[len(prefix):]: h for n, h in hparams.items() if n.startswith(prefix)}
        return functional_call(regularizer, own, (params, applied))

    return penalty


def loss_module_fn(loss: torch.nn.Module) -> BatchLoss:
    """Evaluate a loss module (e.g. ParametricLoss) with its parameters taken from hparams."""

    def batch_loss(logits, y, g, hparams):
        return functional_call(loss, hparams, (logits, y, g))

    return batch_loss

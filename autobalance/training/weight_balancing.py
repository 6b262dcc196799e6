"""Weight balancing (Alshammari et al., CVPR 2022), its second stage: the first stage's features
frozen, the classifier retrained with a class-balanced loss, a strong weight decay and MaxNorm.

The paper's recipe (its CIFAR-100-LT demonstration): 10 epochs of SGD (lr 0.01, cosine, momentum
0.9, weight decay 0.1) on the classifier's weight and bias alone; the class-balanced loss of Cui et
al. in its "softmax" form (binary cross-entropy of the softmax probabilities against the one-hot
label, each example weighted by its class's effective-number weight, beta 0.9999); after every step
MaxNorm by projection: each weight row whose norm exceeds ``cap = min + max_norm * (max - min)`` of
the rows' norms at the stage's start is scaled back to it (the bias is not capped). Here the
frozen body runs in eval mode on the un-augmented training inputs, so its features are computed
once (the paper's body sees augmented images, with its BatchNorm in training mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from autobalance.config import RunConfig
from autobalance.data.bundle import DataBundle, TensorSplit
from autobalance.errors import InputError
from autobalance.losses.priors import class_balanced_weights
from autobalance.procedures import Procedure, register_procedure
from autobalance.training.trainer import Trainer


def row_norm_cap(weight: torch.Tensor, max_norm: float) -> float:
    """MaxNorm's radius: ``max_norm`` of the way from the smallest row norm to the largest."""
    norms = weight.detach().norm(dim=1)
    return float(norms.min() + max_norm * (norms.max() - norms.min()))


@torch.no_grad()
def project_rows_(weight: torch.Tensor, cap: float) -> None:
    """Scale every row whose norm exceeds ``cap`` back onto the ball of that radius, in place."""
    norms = weight.norm(dim=1, keepdim=True)
    weight.mul_(torch.where(norms > cap, cap / norms.clamp_min(1e-30), torch.ones_like(norms)))


def class_balanced_softmax_bce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The class-balanced loss's "softmax" form: the mean over examples and classes of the binary
    cross-entropy of softmax(logits) against the one-hot label, each example weighted by
    ``weights[target]``."""
    probs = logits.softmax(dim=1)
    labels = F.one_hot(targets, logits.shape[1]).to(probs.dtype)
    return F.binary_cross_entropy(probs, labels, weight=weights.to(probs.dtype)[targets, None].expand_as(probs))


@torch.no_grad()
def frozen_features(model: torch.nn.Module, data: DataBundle, split: TensorSplit) -> torch.Tensor:
    was_training = model.training
    model.eval()
    feats = torch.cat([model.features(x).float() for x, _, _ in data.eval_batches(split)])
    model.train(was_training)
    return feats


def retrain_classifier(model: torch.nn.Module, data: DataBundle, split: TensorSplit, counts: Sequence[int],
                       seed: int, epochs: int = 10, lr: float = 0.01, weight_decay: float = 0.1,
                       max_norm: float = 0.1, beta: float = 0.9999, momentum: float = 0.9) -> dict[str, Any]:
    """Weight balancing's second stage on ``model.head`` (a linear head) from ``split``'s frozen
    features; returns the settings, the cap and the final row norms."""
    head = model.head
    if not isinstance(head, torch.nn.Linear):
        raise InputError(f"weight balancing retrains a linear classifier; this model's head is {type(head).__name__} "
                         "(set model.normalized_head=false)")
    feats, targets = frozen_features(model, data, split), split.y
    weights = class_balanced_weights(counts, beta).to(feats.device)
    params = [head.weight, head.bias]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    cap = row_norm_cap(head.weight, max_norm)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        for group in optimizer.param_groups:  # cosine annealing to 0, stepped per epoch
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        order = torch.randperm(len(targets), generator=generator).to(targets.device)
        for start in range(0, len(order), data.batch_size):
            idx = order[start : start + data.batch_size]
            loss = class_balanced_softmax_bce(head(feats[idx]), targets[idx], weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            project_rows_(head.weight, cap)
    return {"epochs": epochs, "lr": lr, "weight_decay": weight_decay, "max_norm": max_norm, "beta": beta,
            "row_norm_cap": cap, "row_norms": head.weight.detach().norm(dim=1).tolist()}


def classifier_stage(cfg: RunConfig, trainer: Trainer, data: DataBundle, final_data: DataBundle) -> dict[str, Any]:
    """Weight balancing's second stage on the trained model, from the data it trained on."""
    loss = cfg.loss
    info = retrain_classifier(trainer.model, final_data, final_data.train, final_data.train_counts, cfg.seed,
                              loss.classifier_epochs, loss.classifier_lr, loss.classifier_weight_decay,
                              loss.max_norm, loss.beta)
    print(f"weight balancing: classifier retrained {info['epochs']} epochs (weight decay {info['weight_decay']}, "
          f"row norms capped at {info['row_norm_cap']:.3g})", flush=True)
    return info


register_procedure("weight_balancing", Procedure(after=classifier_stage, after_phase="classifier"))

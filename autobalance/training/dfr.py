"""Deep Feature Reweighting (Kirichenko et al., ICLR 2023), the DFR^Tr_Val variant: keep the
ERM model's features and refit its last layer on group-balanced held-out data.

The recipe of the paper: standardize the held-out features; an L1-penalized logistic
regression whose inverse strength ``C`` is picked from :data:`C_GRID` by worst-group accuracy
on half of the held-out split after fitting on the other half; then, with that ``C``, fit on
``subsamples`` group-balanced draws of the whole held-out split (each group cut to the smallest
group's size) and average their coefficients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from autobalance.config import ConfigError, RunConfig
from autobalance.data.bundle import DataBundle, TensorSplit
from autobalance.errors import InputError
from autobalance.procedures import Procedure, register_procedure
from autobalance.training.trainer import Trainer

C_GRID = (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
SUBSAMPLES = 10


@torch.no_grad()
def split_features(model: torch.nn.Module, data: DataBundle, split: TensorSplit) -> np.ndarray:
    was_training = model.training
    model.eval()
    feats = torch.cat([model.features(x).float().cpu() for x, _, _ in data.eval_batches(split)])
    model.train(was_training)
    return feats.numpy().astype(np.float64)


def balanced_draw(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices with every present group cut to the size of the smallest one."""
    present = np.unique(groups)
    size = min(int((groups == g).sum()) for g in present)
    return np.concatenate([rng.choice(np.flatnonzero(groups == g), size, replace=False) for g in present])


def _fit(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> LogisticRegression:
    solver = "liblinear" if len(np.unique(y)) == 2 else "saga"
    return LogisticRegression(l1_ratio=1.0, C=c, solver=solver, max_iter=1000, random_state=seed).fit(x, y)


def _worst_group_accuracy(model: LogisticRegression, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    correct = model.predict(x) == y
    return min(correct[groups == g].mean() for g in np.unique(groups))


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> float:
    """The ``C`` of :data:`C_GRID` with the best worst-group accuracy on one half of the
    held-out split, fitted on a group-balanced draw of the other half."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    tune, check = order[: len(y) // 2], order[len(y) // 2:]
    fit_idx = tune[balanced_draw(groups[tune], rng)]
    scores = [_worst_group_accuracy(_fit(x[fit_idx], y[fit_idx], c, seed), x[check], y[check], groups[check])
              for c in C_GRID]
    return C_GRID[int(np.argmax(scores))]


def retrain_last_layer(model: torch.nn.Module, data: DataBundle, held_out: TensorSplit, seed: int,
                       subsamples: int = SUBSAMPLES) -> dict:
    """Replace ``model.head``'s weights by DFR's averaged logistic regression on ``held_out``
    (its groups are the (attribute, class) cells); returns the chosen ``C``."""
    if not isinstance(model.head, torch.nn.Linear):
        raise InputError(f"DFR refits a linear last layer; this model's head is {type(model.head).__name__} "
                         "(set model.normalized_head=false)")
    if held_out.attribute is None:
        raise InputError("DFR needs the held-out split's attribute: give the data an attribute column "
                         "(data.attribute_column)")
    feats = split_features(model, data, held_out)
    mean, std = feats.mean(0), feats.std(0) + 1e-8
    x = (feats - mean) / std
    y = held_out.y.cpu().numpy()
    groups = held_out.attribute.cpu().numpy() * data.num_classes + y
    c = choose_c(x, y, groups, seed)
    rng = np.random.default_rng(seed)
    k = data.num_classes
    coef, intercept = np.zeros((k, x.shape[1])), np.zeros(k)
    for _ in range(subsamples):
        idx = balanced_draw(groups, rng)
        fitted = _fit(x[idx], y[idx], c, seed)
        w, b = _class_scores(fitted, k)
        coef += w / subsamples
        intercept += b / subsamples
    weight = coef / std
    bias = intercept - weight @ mean
    with torch.no_grad():
        model.head.weight.copy_(torch.as_tensor(weight, dtype=model.head.weight.dtype))
        model.head.bias.copy_(torch.as_tensor(bias, dtype=model.head.bias.dtype))
    return {"C": c, "subsamples": subsamples, "held_out_examples": len(y)}


def _class_scores(fitted: LogisticRegression, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class score weights (K x D) and biases whose argmax is the regression's prediction:
    a binary regression's score s becomes (-s/2, s/2)."""
    w, b = fitted.coef_, fitted.intercept_
    if len(fitted.classes_) == 2 and num_classes == 2:
        return np.concatenate([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
    coef, intercept = np.full((num_classes, w.shape[1]), 0.0), np.full(num_classes, -1e4)
    coef[fitted.classes_], intercept[fitted.classes_] = w, b
    return coef, intercept


def dfr_check(cfg: RunConfig, data: DataBundle) -> None:
    if cfg.train_on_val or len(data.val) == 0 or data.val.attribute is None:
        raise ConfigError(f"loss.name=dfr refits the last layer on the validation split's groups; found "
                          f"train_on_val={cfg.train_on_val}, {len(data.val)} validation examples, "
                          f"{'no' if data.val.attribute is None else 'an'} attribute column: expected "
                          "train_on_val=false and a validation split with an attribute")


def dfr_stage(cfg: RunConfig, trainer: Trainer, data: DataBundle, final_data: DataBundle) -> dict[str, Any]:
    """DFR's last-layer refit on the held-out validation split."""
    info = retrain_last_layer(trainer.model, data, data.val, cfg.seed)
    print(f"DFR: last layer refit on {info['held_out_examples']} validation examples (C={info['C']})", flush=True)
    return info


register_procedure("dfr", Procedure(check=dfr_check, after=dfr_stage, after_phase="dfr"))

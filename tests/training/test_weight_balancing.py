"""Weight balancing's second stage: MaxNorm by projection, the class-balanced loss and one step of
the classifier retrain against a hand-checked computation; both stages through the pipeline."""

import dataclasses
import json

import torch
import torch.nn.functional as F

from autobalance.data.bundle import BatchTransform, DataBundle, TensorSplit
from autobalance.losses.factory import loss_config
from autobalance.losses.priors import class_balanced_weights
from autobalance.models.heads import Classifier
from autobalance.pipeline import run
from autobalance.training.weight_balancing import (
    class_balanced_softmax_bce,
    project_rows_,
    retrain_classifier,
    row_norm_cap,
)


def test_maxnorm_caps_the_rows_over_the_radius_and_leaves_the_others():
    weight = torch.tensor([[3.0, 4.0], [0.6, 0.8], [0.0, 2.0]])  # row norms 5, 1, 2
    assert row_norm_cap(weight, 0.25) == 2.0  # 1 + 0.25 * (5 - 1)
    project_rows_(weight, 2.0)
    torch.testing.assert_close(weight, torch.tensor([[1.2, 1.6], [0.6, 0.8], [0.0, 2.0]]))


def test_the_class_balanced_loss_is_the_weighted_bce_of_the_softmax():
    logits, targets = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]]), torch.tensor([0, 2])
    w = torch.tensor([0.5, 1.0, 1.5])
    p = logits.softmax(1)
    bce = -(F.one_hot(targets, 3) * p.log() + (1 - F.one_hot(targets, 3)) * (1 - p).log())
    expected = (w[targets, None] * bce).sum() / 6  # the mean over the 2 x 3 entries
    torch.testing.assert_close(class_balanced_softmax_bce(logits, targets, w), expected)


def test_one_epoch_of_the_classifier_retrain_is_one_sgd_step_then_the_projection():
    torch.manual_seed(0)
    model = Classifier(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()), 3, 3)
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    counts = [8, 3, 1]
    data = DataBundle(TensorSplit(x, y), TensorSplit(x[:0], y[:0]), TensorSplit(x, y), ["a", "b", "c"], counts,
                      BatchTransform(torch.zeros(1, 4), torch.ones(1, 4)), batch_size=64)
    body = [p.detach().clone() for p in model.body.parameters()]
    w0, b0 = model.head.weight.detach().clone(), model.head.bias.detach().clone()
    feats = model.body(x).detach()
    leaf_w, leaf_b = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    loss = class_balanced_softmax_bce(feats @ leaf_w.T + leaf_b, y, class_balanced_weights(counts, 0.9999))
    gw, gb = torch.autograd.grad(loss, [leaf_w, leaf_b])
    lr, wd = 0.5, 0.1
    w1, b1 = w0 - lr * (gw + wd * w0), b0 - lr * (gb + wd * b0)  # the first step: the buffer is the gradient
    norms = w0.norm(dim=1)
    cap = float(norms.min() + 0.1 * (norms.max() - norms.min()))
    w1 = w1 * torch.clamp(cap / w1.norm(dim=1, keepdim=True), max=1.0)
    info = retrain_classifier(model, data, data.train, counts, seed=0, epochs=1, lr=lr, weight_decay=wd, max_norm=0.1)
    torch.testing.assert_close(model.head.weight.detach(), w1)
    torch.testing.assert_close(model.head.bias.detach(), b1)
    assert info["row_norm_cap"] == cap and max(info["row_norms"]) <= cap * (1 + 1e-6)
    assert all(torch.equal(p, q) for p, q in zip(body, model.body.parameters(), strict=True))  # features frozen


def test_both_stages_run_in_the_pipeline_and_the_classifier_stage_is_timed(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, loss=loss_config("weight_balancing", classifier_epochs=2))
    results = run(cfg, tmp_path)
    assert results["weight_balancing"]["epochs"] == 2 and set(results["phase_seconds"]) == {"train", "classifier"}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert max(metrics["weight_balancing"]["row_norms"]) <= metrics["weight_balancing"]["row_norm_cap"] * (1 + 1e-6)

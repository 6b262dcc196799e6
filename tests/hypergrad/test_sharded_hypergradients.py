"""Hypergradients under data parallelism: two gloo ranks, each holding half of every batch,
give the single process's hypergradient on the whole batch (float64).

Without BatchNorm the two are the same function; with BatchNorm each rank normalizes its half
(as DDP does), so the single-process reference is the mean of the two halves' closures. A
validation objective that averages per class (balanced cross-entropy) is not the mean of its
halves' values: the ranks evaluate it on the gathered batch (``whole_batch_objective``).
"""

from __future__ import annotations

import functools
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from autobalance.config import ObjectiveConfig
from autobalance.distributed import Ranks, whole_batch_objective
from autobalance.hypergrad import loss_module_fn, make_method, model_closure
from autobalance.hypergrad.closures import MeanClosure
from autobalance.losses import ParametricLoss
from autobalance.objectives import build_objective

K, WORLD = 3, 2
METHODS = {
    "identity": {},
    "cg": {"max_iter": 15, "tol": 1e-12},
    "neumann": {"terms": 8},
    "last_layer": {},
    "minres": {"max_iter": 15, "tol": 1e-12},
    "finite_difference": {},
    "unrolled": {"steps": 3, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3},
    "unrolled_recompute": {"steps": 3, "lr": 0.1, "memory": "recompute"},
}
VARIANTS = {"mlp": (False, "ce"), "batchnorm": (True, "ce"), "balanced_objective": (False, "balanced_ce")}
"""(BatchNorm in the model, validation objective)."""


class Net(nn.Module):
    def __init__(self, batchnorm: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 6), *([nn.BatchNorm1d(6)] if batchnorm else []), nn.Tanh())
        self.head = nn.Linear(6, K)

    def forward(self, x):
        return self.head(self.body(x))


def _problem(batchnorm: bool):
    """A model away from its optimum, a parametric loss, two training batches and a validation batch."""
    torch.manual_seed(0)
    model = Net(batchnorm).double()
    loss = ParametricLoss(K, learn=("scales", "offsets", "weights"), scales=[1.0, 0.8, 0.6],
                          offsets=[0.1, -0.2, 0.1], weights=[1.0, 1.5, 2.0]).double()
    batches = []
    for n in (16, 16, 12):
        x = torch.randn(n, 4, dtype=torch.float64)
        batches.append((x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long(), None))
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    return model, loss_module_fn(loss), batches[:2], batches[2], params, hparams


def _objective(name: str):
    if name == "ce":
        return lambda z, y, g: nn.functional.cross_entropy(z, y)
    return build_objective(ObjectiveConfig(name), K)


def _method(name: str):
    base = "unrolled" if name.startswith("unrolled") else name
    return make_method(base, damping=0.1, **METHODS[name])


def _compute(name, batch_loss, val_loss, train, val, params, hparams, closure):
    """One hypergradient, with ``closure(batch_loss, batch)`` making each batch's closure."""
    method = _method(name)
    closures = [closure(batch_loss, b) for b in train]
    if name.startswith("unrolled"):
        closures = [closures[i % len(closures)] for i in range(method.steps)]
    result = method.compute(params, hparams, closures, closure(val_loss, val), {})
    assert result.finite, (name, result.diagnostics)
    return result.grads


def _halves(batch):
    x, y, g = batch
    return [(x[s], y[s], g) for s in (Ranks(r, WORLD).shard(len(y)) for r in range(WORLD))]


def _on_rank(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    ranks = Ranks(rank, WORLD)
    results = {}
    for variant, (batchnorm, objective) in VARIANTS.items():
        model, batch_loss, train, val, params, hparams = _problem(batchnorm)
        val_loss = whole_batch_objective(_objective(objective), ranks)

        def sharded(fn, batch, model=model):
            return model_closure(model, fn, [_halves(batch)[rank]], shard_mean=ranks.mean)

        for name in METHODS:
            results[(variant, name)] = _compute(name, batch_loss, val_loss, train, val, params, hparams, sharded)
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


@functools.cache
def _single_process(variant: str) -> dict:
    batchnorm, objective = VARIANTS[variant]
    model, batch_loss, train, val, params, hparams = _problem(batchnorm)
    val_loss = whole_batch_objective(_objective(objective), Ranks())

    def whole(fn, batch):
        if batchnorm:  # per-half statistics, as on the ranks
            return MeanClosure([model_closure(model, fn, [half]) for half in _halves(batch)])
        return model_closure(model, fn, [batch])

    return {name: _compute(name, batch_loss, val_loss, train, val, params, hparams, whole) for name in METHODS}


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_on_rank, args=(port, str(out)), nprocs=WORLD)
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", list(METHODS))
def test_two_ranks_with_half_batches_equal_one_process_with_the_whole_batch(rank_results, name, variant):
    reference = _single_process(variant)[name]
    for ranks_grads in rank_results:
        for key, ref in reference.items():
            torch.testing.assert_close(ranks_grads[(variant, name)][key], ref, rtol=1e-6, atol=1e-9)


def test_every_rank_ends_with_the_same_hypergradient(rank_results):
    first, second = rank_results
    for key, grads in first.items():
        for name, g in grads.items():
            assert torch.equal(g, second[key][name]), (key, name)


def test_closures_disagreeing_on_sharding_are_refused():
    model, batch_loss, train, _, _, _ = _problem(False)
    with pytest.raises(ValueError, match="shard_mean"):
        MeanClosure([model_closure(model, batch_loss, [train[0]], shard_mean=Ranks().mean),
                     model_closure(model, batch_loss, [train[1]])])

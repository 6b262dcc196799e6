"""Reference machinery for the tests: exact inner solves and central finite differences."""

from __future__ import annotations

import torch
from torch.func import jacfwd, jacrev

from autobalance.hypergrad.primitives import flatten, unflatten


def solve_inner(loss_fn, params: dict, names: list[str] | None = None, newton_steps: int = 30) -> dict:
    """argmin over ``names`` (all by default) of ``loss_fn(params)`` to machine precision:
    L-BFGS to get close, then damped-free Newton steps (float64)."""
    names = list(params) if names is None else names
    fixed = {n: p.detach() for n, p in params.items() if n not in names}
    x = flatten([params[n].detach() for n in names]).clone().requires_grad_(True)
    like = [params[n] for n in names]

    def f(flat):
        return loss_fn({**fixed, **dict(zip(names, unflatten(flat, like), strict=True))})

    opt = torch.optim.LBFGS([x], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    opt.step(closure)
    flat = x.detach()
    for _ in range(newton_steps):
        g = torch.func.grad(f)(flat)
        if g.norm() < 1e-14:
            break
        flat = flat - torch.linalg.solve(jacfwd(jacrev(f), randomness="same")(flat), g)
    return {**fixed, **dict(zip(names, unflatten(flat, like), strict=True))}


def central_differences(fn, hparams: dict, eps: float = 1e-5) -> dict:
    """d fn(hparams) / d hparams, entry by entry."""
    out = {}
    for name, value in hparams.items():
        grad = torch.zeros_like(value)
        for i in range(value.numel()):
            plus, minus = value.clone(), value.clone()
            plus.view(-1)[i] += eps
            minus.view(-1)[i] -= eps
            grad.view(-1)[i] = (fn({**hparams, name: plus}) - fn({**hparams, name: minus})) / (2 * eps)
        out[name] = grad
    return out


def three_class_labels(x: torch.Tensor) -> torch.Tensor:
    """Labels 0-2 that the first two input entries decide: a learnable, unbalanced toy task."""
    flat = x.reshape(len(x), -1)
    return (flat[:, 0] > 0).long() + (flat[:, 1] > 0.8).long()


def linear_problem(loss, objective, weight_decay: float = 1e-2):
    """A linear model on the three-class toy task (seed 0: 60 training and 30 validation inputs)
    trained with ``loss`` plus an L2 term and validated by ``objective``: the inner solution, the
    loss's parameters and the two closures the hypergradient methods take."""
    from torch import nn
    from torch.func import functional_call

    from autobalance.hypergrad import loss_module_fn, model_closure

    torch.manual_seed(0)
    x, xv = torch.randn(60, 4, dtype=torch.float64), torch.randn(30, 4, dtype=torch.float64)
    y, yv = three_class_labels(x), three_class_labels(xv)
    model = nn.Linear(4, 3).double()
    data_loss = model_closure(model, loss_module_fn(loss), [(x, y, None)])

    def train_loss(params, hp):
        return data_loss(params, hp) + weight_decay / 2 * sum((p**2).sum() for p in params.values())

    def val_loss(params, hp):
        return objective(functional_call(model, params, (xv,)), yv, None)

    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    params = solve_inner(lambda p: train_loss(p, hparams), dict(model.named_parameters()))
    return params, hparams, train_loss, val_loss

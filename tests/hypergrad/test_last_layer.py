"""The last-layer hypergradient at any head size: dense exact solve for small heads, MINRES beyond.

MINRES is checked against scipy's implementation and the pseudo-inverse; the head's
hypergradient through MINRES against the dense solve (float64, 1e-8 relative), for linear heads
with and without bias and weight decay and for the cosine (normalized) head.
"""

import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch import nn

from autobalance.config import ObjectiveConfig
from autobalance.hypergrad import DenseSolver, ImplicitHypergradient, loss_module_fn, make_method, model_closure
from autobalance.hypergrad.primitives import HessianOperator
from autobalance.hypergrad.solvers import minres
from autobalance.losses import ParametricLoss
from autobalance.models.heads import Classifier
from autobalance.objectives import build_objective


def _symmetric(n, negative, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eig = torch.linspace(0.1, 5.0, n, dtype=torch.float64)
    eig[:negative] = -eig[:negative]
    return q @ torch.diag(eig) @ q.T


@pytest.mark.parametrize("negative", [0, 7])
def test_minres_agrees_with_scipy_on_definite_and_indefinite_systems(negative):
    a = _symmetric(30, negative)
    b = torch.randn(30, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x, iterations, stop = minres(lambda v: a @ v, b, max_iter=200, tol=1e-13)
    reference, info = scipy.sparse.linalg.minres(a.numpy(), b.numpy(), rtol=1e-13, maxiter=200)
    assert info == 0 and stop == "tolerance" and iterations <= 60
    np.testing.assert_allclose(x.numpy(), reference, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(a @ x, b, rtol=0, atol=1e-10)


def test_minres_returns_the_minimum_norm_solution_of_a_singular_consistent_system():
    a = _symmetric(20, 3)
    q = torch.linalg.eigh(a).eigenvectors
    a = a - (a @ q[:, :4]) @ q[:, :4].T  # remove four eigen-directions: rank 16
    b = a @ torch.randn(20, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x, _, _ = minres(lambda v: a @ v, b, max_iter=200, tol=1e-14)
    torch.testing.assert_close(x, torch.linalg.pinv(a, hermitian=True) @ b, rtol=1e-9, atol=1e-11)


def _head_problem(head: str, equal_scales: bool = False, classes: int = 6, features: int = 5, n: int = 80,
                  seed: int = 0):
    """A fixed feature map (the identity on given features) under a head; float64."""
    torch.manual_seed(seed)
    x = torch.randn(n, features, dtype=torch.float64)
    y = torch.arange(n) % classes
    x[:, 0] += y.double()  # a signal, so the head has something to fit
    xv = torch.randn(n // 2, features, dtype=torch.float64)
    yv = torch.arange(n // 2) % classes
    model = Classifier(nn.Identity(), features, classes, normalized_head=head == "cosine")
    if head == "linear_no_bias":
        model.head = nn.Linear(features, classes, bias=False)
    model = model.double()
    scales = torch.ones(classes) if equal_scales else torch.linspace(0.7, 1.3, classes)
    loss = ParametricLoss(classes, learn=("scales", "offsets", "weights"), scales=scales,
                          offsets=torch.linspace(-0.5, 0.5, classes),
                          weights=torch.linspace(0.5, 2.0, classes)).double()
    objective = build_objective(ObjectiveConfig(), classes)
    train_loss = model_closure(model, loss_module_fn(loss), [(x, y, None)])
    val_loss = model_closure(model, lambda z, yy, g, hp: objective(z, yy, g), [(xv, yv, None)], seed=1)
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    return params, hparams, train_loss, val_loss


@pytest.mark.parametrize("head", ["linear", "linear_no_bias", "cosine"])
@pytest.mark.parametrize("damping", [0.0, 5e-4])
def test_matrix_free_head_solve_equals_the_dense_solve(head, damping):
    # Without weight decay a linear softmax head's Hessian is singular; the hypergradient is
    # defined (and both paths agree) when the validation gradient avoids the null space, as it
    # does with equal logit scales (the default recipe learns offsets only).
    problem = _head_problem(head, equal_scales=damping == 0)
    dense = make_method("last_layer", damping=damping).compute(*problem)
    free = make_method("last_layer", damping=damping, dense_max_size=0, max_iter=500,
                       tol=1e-14).compute(*problem)
    assert dense.diagnostics["path"] == "dense" and free.diagnostics["path"] == "minres"
    assert free.diagnostics["residual"] < 1e-9
    for name, g in dense.grads.items():
        torch.testing.assert_close(free.grads[name], g, rtol=1e-8, atol=1e-12 * float(g.abs().max()))


def test_the_cosine_head_problem_is_indefinite_so_cg_alone_would_not_do():
    """Why MINRES and not CG: without damping the cosine head's Hessian has negative curvature."""
    params, hparams, train_loss, _ = _head_problem("cosine")
    h = HessianOperator(train_loss, params, hparams, ["head.weight"]).dense()
    assert float(torch.linalg.eigvalsh((h + h.T) / 2).min()) < 0


def test_a_thousand_class_head_is_solved_without_building_its_hessian():
    classes, features = 1000, 16
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(8, features), nn.ReLU())
    model = Classifier(body, features, classes)
    x, y = torch.randn(256, 8), torch.randint(0, classes, (256,))
    counts = torch.bincount(y, minlength=classes).clamp(min=1).tolist()
    loss = ParametricLoss(classes, learn=("offsets",), counts=counts, cluster_size=50)
    objective = build_objective(ObjectiveConfig(), classes)
    train_loss = model_closure(model, loss_module_fn(loss), [(x, y, None)])
    val_loss = model_closure(model, lambda z, yy, g, hp: objective(z, yy, g), [(x[:128], y[:128], None)])
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    method = make_method("last_layer", damping=5e-4)
    result = method.compute(params, hparams, train_loss, val_loss)
    d = result.diagnostics
    assert result.finite and d["path"] == "minres"
    assert d["hessian_params"] == classes * (features + 1)
    assert d["hvp_calls"] <= method.solver.max_iter + 1 < d["hessian_params"]
    assert result.grads["raw_offsets"].shape == (1, 20)


def test_the_dense_solver_refuses_a_head_over_its_limit_and_names_the_way_out():
    with pytest.raises(ValueError, match="exceeds max_size=10.*minres"):
        ImplicitHypergradient(DenseSolver(max_size=10), ("head",)).compute(*_head_problem("linear"))

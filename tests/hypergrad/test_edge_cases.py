"""Edge cases of the engine: wrapped closures, unused parameters, empty data, honest residuals."""

import pytest
import torch
from torch import nn

from autobalance.hypergrad import METHODS, loss_module_fn, make_method, model_closure
from autobalance.hypergrad.primitives import mixed_product, mixed_product_double_backward
from autobalance.hypergrad.solvers import CGSolver
from autobalance.losses import ParametricLoss


class BatchNormMLP(nn.Module):
    """4-8-3 with BatchNorm, plus an auxiliary head the forward pass never uses."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh())
        self.head = nn.Linear(8, 3)
        self.aux = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.body(x))


def _setup(input_scale: bool = False):
    torch.manual_seed(0)
    model = BatchNormMLP().double()
    loss = ParametricLoss(3, learn=("offsets", "weights"), offsets=[0.2, 0.0, -0.2]).double()
    x, xv = torch.randn(16, 4, dtype=torch.float64), torch.randn(12, 4, dtype=torch.float64)
    y, yv = torch.arange(16) % 3, torch.arange(12) % 3
    batch_loss = loss_module_fn(loss)
    if input_scale:  # a hyperparameter acting on the input, as an augmentation strength does
        def input_fn(x_, y_, g_, hp):
            return x_ * hp["input_scale"]

        def batch_loss(z, t, g, hp, inner=batch_loss):
            return inner(z, t, g, {k: v for k, v in hp.items() if k != "input_scale"})
    else:
        input_fn = None
    train = model_closure(model, batch_loss, [(x, y, None)], seed=1, input_fn=input_fn)
    val = model_closure(model, lambda z, t, g, hp: nn.functional.cross_entropy(z, t), [(xv, yv, None)], seed=2)
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    if input_scale:
        hparams["input_scale"] = torch.tensor(1.3, dtype=torch.float64)
    return model, train, val, params, hparams


def test_a_wrapped_closure_with_input_hyperparameters_gets_the_exact_mixed_term():
    _, train, _, params, hparams = _setup(input_scale=True)

    def wrapped(p, h):  # the obvious way to add a regularizer; it drops the closure's attributes
        return train(p, h) + 0.1 * (h["raw_offsets"] ** 2).sum()

    direction = torch.randn(sum(p.numel() for p in params.values()), dtype=torch.float64)
    got = mixed_product(wrapped, params, hparams, list(params), direction)
    exact = mixed_product_double_backward(wrapped, params, hparams, list(params), direction)
    for n in hparams:
        torch.testing.assert_close(got[n], exact[n], rtol=1e-9, atol=1e-12)
    assert got["input_scale"].abs() > 1e-6


@pytest.mark.parametrize("method", ["identity", "cg", "minres", "neumann"])
def test_wrapped_closures_give_the_same_hypergradient_as_the_closure_itself(method):
    _, train, val, params, hparams = _setup(input_scale=True)
    plain = make_method(method).compute(params, hparams, train, val)
    wrapped = make_method(method).compute(params, hparams, lambda p, h: train(p, h) + 0.0, val)
    for n in hparams:
        torch.testing.assert_close(wrapped.grads[n], plain.grads[n], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_a_parameter_the_forward_pass_never_uses_is_zero_curvature_not_an_error(method):
    _, train, val, params, hparams = _setup()
    options = {"cg": {"max_iter": 300, "tol": 1e-12}, "minres": {"max_iter": 300, "tol": 1e-12}}.get(method, {})
    result = make_method(method, damping=0.1, **options).compute(params, hparams, train, val)
    assert result.finite and all(torch.isfinite(g).all() for g in result.grads.values())
    without_aux = {n: p for n, p in params.items() if not n.startswith("aux.")}
    if method not in ("neumann", "finite_difference"):  # their step sizes depend on the whole vector
        reference = make_method(method, damping=0.1, **options).compute(without_aux, hparams, train, val)
        for n in hparams:
            torch.testing.assert_close(result.grads[n], reference.grads[n], rtol=1e-8, atol=1e-12)


def test_unused_parameters_in_the_recomputing_unroll():
    _, train, val, params, hparams = _setup()
    graph = make_method("unrolled", steps=2).compute(params, hparams, train, val)
    recompute = make_method("unrolled", steps=2, memory="recompute").compute(params, hparams, train, val)
    for n in hparams:
        torch.testing.assert_close(recompute.grads[n], graph.grads[n], rtol=1e-10, atol=1e-13)


def test_empty_validation_data_is_refused_naming_the_cause():
    model, _, _, _, _ = _setup()
    with pytest.raises(ValueError, match="no batches"):
        model_closure(model, lambda z, t, g, hp: z.sum(), [])
    empty = (torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.long), None)
    with pytest.raises(ValueError, match="batch 1 has no examples"):
        model_closure(model, lambda z, t, g, hp: z.sum(), [(torch.ones(2, 4), torch.zeros(2).long(), None), empty])


def test_cg_reports_the_true_residual_not_the_recurrence_value():
    """float32 with a tolerance below its precision: the recurrence claims convergence."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(50, 50, generator=g))
    a = q @ torch.diag(torch.logspace(-3, 2, 50)) @ q.T
    v = torch.randn(50, generator=g)
    operator = _Operator(a)
    x, info, _ = CGSolver(max_iter=500, tol=1e-12, warm_start=False)(operator, v, {})
    true = float((a.double() @ x.double() - v.double()).norm() / v.double().norm())
    # float32 products against a float64 check: at one thread the float32 sums differ by about 15 %
    assert info["residual"] == pytest.approx(true, rel=0.3)
    assert info["residual"] > 1e-9  # float32 cannot reach 1e-12


def test_a_warm_start_that_already_meets_the_tolerance_says_so():
    a = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    v = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    solver = CGSolver(max_iter=3, tol=1e-10)
    x, info, state = solver(_Operator(a), v, {})
    assert info["stop"] == "tolerance"  # converged on its last allowed iteration
    _, again, _ = solver(_Operator(a), v, state)
    assert again["stop"] == "tolerance" and again["iterations"] == 0


class _Operator:
    def __init__(self, a):
        self.a, self.size = a, a.shape[0]

    def __call__(self, v):
        return self.a @ v


@pytest.mark.parametrize("method", ["identity", "cg", "last_layer", "finite_difference"])
def test_a_list_of_per_batch_closures_is_their_mean(method):
    model, _, val, params, hparams = _setup()
    loss = loss_module_fn(ParametricLoss(3, learn=("offsets", "weights"), offsets=[0.2, 0.0, -0.2]).double())
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.arange(16) % 3
    halves = [model_closure(model, loss, [(x[:8], y[:8], None)]), model_closure(model, loss, [(x[8:], y[8:], None)])]
    whole = model_closure(model, loss, [(x[:8], y[:8], None), (x[8:], y[8:], None)])
    by_list = make_method(method, damping=0.1).compute(params, hparams, halves, val)
    by_closure = make_method(method, damping=0.1).compute(params, hparams, whole, val)
    for n in hparams:
        torch.testing.assert_close(by_list.grads[n], by_closure.grads[n], rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="no training closures"):
        make_method(method).compute(params, hparams, [], val)

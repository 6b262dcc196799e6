"""A validation objective run as the model is evaluated (``train_mode=False``: BatchNorm's running
statistics) rather than as in training (each batch's own statistics): the closure computes what
``model.eval()`` computes, and the implicit methods' hypergradients of it match float64 central
differences of the inner solve (a small CNN with BatchNorm)."""

import pytest
import torch
from inner_solve import central_differences, solve_inner, three_class_labels
from torch import nn

from autobalance.hypergrad import loss_closure, make_method, model_closure
from autobalance.losses import ParametricLoss
from autobalance.models.heads import Classifier

K, WD = 3, 1e-2
HEAD = ["head.weight", "head.bias"]


def _cnn_with_running_statistics() -> nn.Module:
    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Tanh(), nn.Flatten())
    model = Classifier(body, 2 * 4 * 4, K).double()
    with torch.no_grad():  # running statistics away from any one batch's, as after a long-tailed training
        model.body[1].running_mean.copy_(torch.tensor([0.5, -0.4]))
        model.body[1].running_var.copy_(torch.tensor([2.0, 0.3]))
    return model


def _ce(z, y, g, hp):
    return nn.functional.cross_entropy(z, y)


def test_an_eval_mode_closure_judges_the_model_as_it_is_evaluated():
    model = _cnn_with_running_statistics()
    xv = torch.randn(30, 1, 4, 4, dtype=torch.float64)
    batch = [(xv, three_class_labels(xv), None)]
    params = dict(model.named_parameters())
    as_evaluated = model_closure(model, _ce, batch, train_mode=False)(params, {})
    as_in_training = model_closure(model, _ce, batch)(params, {})
    model.eval()
    torch.testing.assert_close(as_evaluated, _ce(model(xv), three_class_labels(xv), None, {}))
    assert abs(float((as_evaluated - as_in_training).detach())) > 1e-2
    model.train()
    model_closure(model, _ce, batch, train_mode=False)(params, {})
    assert model.training  # the closure leaves the mode it found


@pytest.fixture(scope="module")
def problem():
    model = _cnn_with_running_statistics()
    torch.manual_seed(1)
    x, xv = torch.randn(24, 1, 4, 4, dtype=torch.float64), torch.randn(30, 1, 4, 4, dtype=torch.float64)
    loss = ParametricLoss(K, learn=("scales", "offsets"), scales=[1.0, 0.8, 1.3], offsets=[0.3, 0.0, -0.3]).double()
    train = loss_closure(model, loss, [(x, three_class_labels(x), None)])
    val = model_closure(model, _ce, [(xv, three_class_labels(xv), None)], train_mode=False)
    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}

    def objective(params, hp):
        return train(params, hp) + WD / 2 * sum((p**2).sum() for p in params.values())

    return model, hparams, objective, train, val


@pytest.mark.parametrize("method", [pytest.param("cg", marks=pytest.mark.slow), "last_layer"])
def test_implicit_hypergradients_of_an_eval_mode_objective_match_finite_differences(problem, method):
    model, hparams, objective, train, val = problem
    names = HEAD if method == "last_layer" else None
    params = solve_inner(lambda p: objective(p, hparams), dict(model.named_parameters()), names)
    result = make_method(method, damping=WD, max_iter=500, tol=1e-13).compute(params, hparams, train, val)
    ref = central_differences(lambda hp: val(solve_inner(lambda p: objective(p, hp), params, names), hp), hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-4, atol=1e-8)
        assert result.grads[n].abs().max() > 1e-4, n

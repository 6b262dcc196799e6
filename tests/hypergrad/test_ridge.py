"""Ridge regression: the IFT hypergradient has a closed form (differentiate the normal equations)."""

import pytest
import torch

from autobalance.hypergrad import make_method

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(0)
X, Y = torch.randn(40, 6, generator=g), torch.randn(40, generator=g)
XV, YV = torch.randn(30, 6, generator=g), torch.randn(30, generator=g)
LOG_LAM = torch.linspace(-1.0, 0.5, 6)
torch.set_default_dtype(torch.float32)


def train_loss(params, hp):
    w = params["w"]
    return ((X @ w - Y) ** 2).mean() / 2 + 0.5 * (hp["log_lam"].exp() * w**2).sum()


def val_loss(params, hp):
    return ((XV @ params["w"] - YV) ** 2).mean() / 2


def w_star(log_lam):
    return torch.linalg.solve(X.T @ X / len(X) + torch.diag(log_lam.exp()), X.T @ Y / len(X))


def closed_form_hypergradient():
    log_lam = LOG_LAM.clone().requires_grad_(True)
    return torch.autograd.grad(val_loss({"w": w_star(log_lam)}, {}), log_lam)[0]


@pytest.mark.parametrize(
    ("name", "options", "rtol"),
    [("cg", {"max_iter": 50, "tol": 1e-13}, 1e-9),
     ("minres", {"max_iter": 50, "tol": 1e-13}, 1e-9),
     ("neumann", {"terms": 400}, 1e-6),
     ("last_layer", {}, 1e-10)],
)
def test_implicit_methods_converge_to_the_closed_form(name, options, rtol):
    method = make_method(name, subset=("w",) if name == "last_layer" else None, **options)
    result = method.compute({"w": w_star(LOG_LAM)}, {"log_lam": LOG_LAM.clone()}, train_loss, val_loss)
    assert result.finite
    torch.testing.assert_close(result.grads["log_lam"], closed_form_hypergradient(), rtol=rtol, atol=1e-12)
    assert result.diagnostics["residual"] < 1e-5


def test_neumann_with_a_too_large_fixed_step_diverges_and_power_iteration_fixes_it():
    params, hp = {"w": w_star(LOG_LAM)}, {"log_lam": LOG_LAM.clone()}
    auto = make_method("neumann", terms=5).compute(params, hp, train_loss, val_loss)
    eig = auto.diagnostics["eigenvalue"]
    fixed = make_method("neumann", terms=5, eta=3.0 / eig).compute(params, hp, train_loss, val_loss)
    assert fixed.diagnostics["residual"] > 10 * auto.diagnostics["residual"]
    lam_max = torch.linalg.eigvalsh(X.T @ X / len(X) + torch.diag(LOG_LAM.exp())).max()
    assert eig == pytest.approx(float(lam_max), rel=1e-3)


def test_cg_warm_start_needs_fewer_iterations():
    method = make_method("cg", max_iter=50, tol=1e-10)
    params, hp = {"w": w_star(LOG_LAM)}, {"log_lam": LOG_LAM.clone()}
    first = method.compute(params, hp, train_loss, val_loss)
    second = method.compute(params, hp, train_loss, val_loss, first.state)
    assert second.diagnostics["iterations"] < first.diagnostics["iterations"]


def test_cg_on_an_indefinite_hessian_still_returns_a_useful_direction():
    from autobalance.hypergrad.solvers import CGSolver

    h = torch.diag(torch.tensor([-2.0, 1.0, 3.0]))
    v = torch.tensor([1.0, 1.0, 1.0])

    class Operator:
        size = 3

        def __call__(self, x):
            return h @ x

    p, info, _ = CGSolver(max_iter=5)(Operator(), v, {})
    assert info["stop"] == "negative_curvature" and p.norm() > 0
    torch.testing.assert_close(p, v * 3 / 2)  # (v.v) / |v.Hv| along v


def test_cg_warm_start_does_not_accumulate_along_negative_curvature():
    """Warm-starting every solve from the last one on an indefinite Hessian (as in a search
    before the model settles) must stay as bounded as cold solves of the same systems."""
    from autobalance.hypergrad.solvers import CGSolver

    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    h = q @ torch.diag(torch.tensor([-0.5, -0.1, 0.01, 0.2, 1.0, 2.0, 5.0, 10.0], dtype=torch.float64)) @ q.T
    solver, state, warm_norms, cold_norms = CGSolver(max_iter=3), {}, [], []
    for _ in range(40):
        v = torch.randn(8, generator=g, dtype=torch.float64)
        p, _, state = solver(lambda x: h @ x, v, state)
        warm_norms.append(float(p.norm()))
        cold_norms.append(float(solver(lambda x: h @ x, v, {})[0].norm()))
    assert max(warm_norms) <= 2 * max(cold_norms)

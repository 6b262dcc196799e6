"""What accuracy each solver's defaults buy: relative error of the hypergradient against a
converged solve, and the true relative residual the search logs, on two float64 problems.

Problems: logistic regression (15 parameters) and a 4-6-3 tanh MLP (51 parameters), trained to
their optimum with the parametric loss and weight decay 1e-2 (tests/hypergrad); reference: CG
run to a 1e-14 residual over all parameters. Then the last-layer solve on a 100-class head
(6,500 parameters, float32) trained to interpolation on a long-tailed Gaussian problem, MINRES
with growing iteration budgets against the dense exact solve.

    python scripts/solver_accuracy.py --out experiments/hypergrad
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "hypergrad"))
from test_parametric_loss_problems import _problem  # noqa: E402
from torch import nn  # noqa: E402

from autobalance.config import ObjectiveConfig  # noqa: E402
from autobalance.hypergrad import loss_module_fn, make_method, model_closure  # noqa: E402
from autobalance.hypergrad.primitives import HessianOperator  # noqa: E402
from autobalance.losses import ParametricLoss  # noqa: E402
from autobalance.losses.priors import logit_adjustment_offsets  # noqa: E402
from autobalance.models.heads import Classifier  # noqa: E402
from autobalance.objectives import build_objective  # noqa: E402
from autobalance.runtime import code_version  # noqa: E402

WEIGHT_DECAY = 5e-4

METHODS = {"identity": {}, "neumann": {}, "cg": {}, "minres": {}, "cg (max_iter=50)": {"max_iter": 50},
           "neumann (terms=50)": {"terms": 50}}


def flat(result) -> torch.Tensor:
    return torch.cat([g.flatten() for g in result.grads.values()])


def head_budget(classes: int = 100, features: int = 64, steps: int = 1500) -> list[str]:
    """MINRES budgets on a trained 100-class head against the dense solve (float32, seed 0)."""
    torch.manual_seed(0)
    counts = [max(2, int(500 * 0.01 ** (k / (classes - 1)))) for k in range(classes)]
    means = torch.randn(classes, 32) * 1.5
    x = torch.cat([means[k] + torch.randn(c, 32) for k, c in enumerate(counts)])
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    body = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, features), nn.ReLU())
    model = Classifier(body, features, classes)
    loss = ParametricLoss(classes, learn=("offsets",), offsets=logit_adjustment_offsets(counts))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=WEIGHT_DECAY)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (128,))
        opt.zero_grad()
        loss(model(x[idx]), y[idx]).backward()
        opt.step()
    with torch.no_grad():
        train_error = float((model(x).argmax(1) != y).float().mean())
    objective = build_objective(ObjectiveConfig(), classes)
    idx, vidx = torch.randint(0, len(x), (128,)), torch.randint(0, len(x), (128,))
    train = model_closure(model, loss_module_fn(loss), [(x[idx], y[idx], None)])
    val = model_closure(model, lambda z, t, g, hp: objective(z, t, g), [(x[vidx], y[vidx], None)])
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    dense = make_method("last_layer", damping=WEIGHT_DECAY, dense_max_size=10**5).compute(params, hparams, train, val)
    reference = flat(dense)
    lines = [f"## last-layer solve, 100-class head ({classes * (features + 1):,} parameters, float32), "
             f"training error {100 * train_error:.1f} %", "",
             f"Dense exact solve: {dense.diagnostics['seconds'] * 1e3:.0f} ms.", "",
             "| MINRES budget | relative error | cosine | residual | ms |", "|---|---|---|---|---|"]
    for budget in (10, 20, 40, 50, 80, 160):
        result = make_method("last_layer", damping=WEIGHT_DECAY, dense_max_size=0, max_iter=budget,
                             tol=1e-10).compute(params, hparams, train, val)
        error = float((flat(result) - reference).norm() / reference.norm())
        cosine = float(torch.nn.functional.cosine_similarity(flat(result), reference, dim=0))
        lines.append(f"| {budget} | {error:.1e} | {cosine:.4f} | {result.diagnostics['residual']:.1e} | "
                     f"{result.diagnostics['seconds'] * 1e3:.0f} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/hypergrad"))
    args = parser.parse_args()
    lines = ["# What the solvers' defaults buy", "",
             f"`python scripts/solver_accuracy.py`, code {code_version()}. Relative error of the hypergradient "
             "against CG run to a 1e-14 residual; `residual` is the true relative residual |Hp - v| / |v| that "
             "`hypersteps.jsonl` records (identity solves nothing, so it has none). Defaults: neumann 5 terms, "
             "cg 10 iterations (tol 1e-5), minres 100 iterations (tol 1e-6).", ""]
    for hidden, label in ((None, "logistic regression"), (6, "4-6-3 tanh MLP")):
        params, hparams, train, val = _problem(hidden)
        h = HessianOperator(train, params, hparams, list(params)).dense()
        eig = torch.linalg.eigvalsh((h + h.T) / 2)
        reference = flat(make_method("cg", max_iter=2000, tol=1e-14).compute(params, hparams, train, val))
        lines += [f"## {label}: {h.shape[0]} parameters, Hessian condition number {float(eig.max() / eig.min()):.0f}",
                  "", "| method | relative error | residual | products |", "|---|---|---|---|"]
        for name, options in METHODS.items():
            result = make_method(name.split()[0], **options).compute(params, hparams, train, val)
            error = float((flat(result) - reference).norm() / reference.norm())
            residual = result.diagnostics.get("residual")
            lines.append(f"| {name} | {error:.1e} | {'-' if residual is None else f'{residual:.1e}'} | "
                         f"{result.diagnostics.get('hvp_calls', 0)} |")
        lines.append("")
    lines += head_budget()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "solver_defaults.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""What data parallelism communicates per hyper-step, in bytes, for each hypergradient method.

Counted, not estimated: one hyper-step of each method runs on ResNet-32 (CIFAR-10 and
CIFAR-100 heads) in one process with a counting ``shard_mean`` in place of the all-reduce, so
every reduction the engine would make across ranks is recorded with its size. ResNet-50
(ImageNet-LT, 1,000 classes) has no model here; its row applies the same counts of reductions
(validation gradient, Hessian-vector products, mixed term) to its parameter counts. The
validation objective's gather of the batch's logits and labels is added per evaluation. For
scale, DDP's own all-reduce of one inner step's gradient is listed: a hyper-step every
``every`` steps adds its bytes to ``every`` such steps.

    python scripts/communication_plan.py --out experiments/distributed
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from autobalance.config import HypergradConfig, ObjectiveConfig
from autobalance.hypergrad import loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss
from autobalance.models import create_model
from autobalance.objectives import build_objective
from autobalance.runtime import code_version

BYTES = 4  # float32
BATCH, VAL_BATCH = 128, 128
RESNET50 = {"params": 25_557_032, "head": 2048 * 1000 + 1000, "classes": 1000}
"""torchvision's ResNet-50 with a 1,000-class head (He et al. 2016)."""
METHODS = {"last_layer": {}, "identity": {}, "cg": {}, "neumann": {}, "unrolled": {"steps": 5}}


class Counter:
    """A ``shard_mean`` that reduces nothing and records how many floats each call would send."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        self.sizes.append(sum(t.numel() for t in tensors))
        return tensors


def count(method_name: str, classes: int) -> dict:
    torch.manual_seed(0)
    model = create_model("resnet32", (3, 32, 32), classes, width=16)
    loss = ParametricLoss(classes, learn=("offsets",))
    objective = build_objective(ObjectiveConfig("balanced_ce"), classes)
    train_counter, val_counter = Counter(), Counter()
    x, y = torch.randn(BATCH, 3, 32, 32), torch.randint(classes, (BATCH,))
    xv, yv = torch.randn(VAL_BATCH, 3, 32, 32), torch.randint(classes, (VAL_BATCH,))
    method = make_method(method_name, damping=HypergradConfig().damping or 5e-4, **METHODS[method_name])
    train = [model_closure(model, loss_module_fn(loss), [(x, y, None)], shard_mean=train_counter)
             for _ in range(method.closures_needed(1))]
    val = model_closure(model, lambda z, t, g, hp: objective(z, t, g), [(xv, yv, None)], shard_mean=val_counter)
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    result = method.compute(params, hparams, train, val, {})
    head = sum(p.numel() for n, p in params.items() if n.startswith("head"))
    subset = head if method_name == "last_layer" else sum(p.numel() for p in params.values())
    return {"method": method_name, "classes": classes, "params": sum(p.numel() for p in params.values()),
            "hessian_params": subset, "hparams": sum(h.numel() for h in hparams.values()),
            "sizes": train_counter.sizes + val_counter.sizes, "val_evaluations": len(val_counter.sizes),
            "path": result.diagnostics.get("path", "")}


def scaled(size: int, row: dict, hessian_params: int, hparams: int) -> int:
    """One reduction's size for another model: it is a * (Hessian's parameters) + b * (loss
    parameters) + c (the loss value), so a and b carry over with the new sizes."""
    if size == row["hessian_params"] ** 2:
        raise ValueError("a dense head Hessian does not scale; ResNet-50's head takes MINRES")
    a, rest = divmod(size, row["hessian_params"])
    b, c = divmod(rest, row["hparams"])
    return a * hessian_params + b * hparams + c


def resnet50_row(row: dict) -> dict:
    subset = RESNET50["head"] if row["method"] == "last_layer" else RESNET50["params"]
    sizes = [scaled(s, row, subset, RESNET50["classes"]) for s in row["sizes"]]
    return {**row, "classes": RESNET50["classes"], "params": RESNET50["params"], "hessian_params": subset,
            "hparams": RESNET50["classes"], "sizes": sizes}


def report(rows: list[tuple[str, dict]]) -> str:
    lines = ["| model | classes | method | all-reduces | MB all-reduced | MB gathered (validation logits) "
             "| MB of one DDP inner step | hyper-step / inner step |", "|---|---|---|---|---|---|---|---|"]
    for model, r in rows:
        reduced = sum(r["sizes"]) * BYTES / 1e6
        gathered = r["val_evaluations"] * VAL_BATCH * (r["classes"] + 1) * BYTES / 1e6
        step = r["params"] * BYTES / 1e6
        method = f"{r['method']} ({r['path']})" if r["path"] else r["method"]
        lines.append(f"| {model} | {r['classes']} | {method} | {len(r['sizes'])} | {reduced:.2f} | {gathered:.3f} "
                     f"| {step:.2f} | {(reduced + gathered) / step:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/distributed"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    measured = [count(m, k) for k in (10, 100) for m in METHODS]
    rows = [("ResNet-32", r) for r in measured]
    rows += [("ResNet-50 (counts of the 100-class row)", resnet50_row(r)) for r in measured if r["classes"] == 100]
    table = report(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "communication.json").write_text(json.dumps([{"model": m, **r} for m, r in rows]) + "\n")
    text = (f"# Communication per hyper-step under data parallelism\n\nCode version {code_version()}; "
            f"`python scripts/communication_plan.py --out {args.out}`. Float32; batch {BATCH}, validation "
            f"batch {VAL_BATCH}; ResNet-32 width 16 (CIFAR); methods at their defaults, `unrolled` with "
            f"5 steps.\n\n{table}\n")
    (args.out / "communication.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

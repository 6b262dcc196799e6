"""Cost of one hyper-step as the number of classes grows, as multiples of one plain training step.

Heads of 10, 100, 1,000 and 8,142 classes: under ResNet-32 (its 64-wide features, synthetic
CIFAR-shaped batches), and on synthetic 512-wide features with no network below the head
(the worst case for the ratio: the plain step is then a head-only step). Methods:
``last_layer_dense`` (the dense exact solve, the only path before MINRES; refused above its
4,096-parameter limit), ``last_layer`` (the default: dense up to ``dense_max_size``, MINRES
beyond), ``cg`` and ``neumann`` over all parameters at their defaults. Median of repeats after
a warm-up; the loss learns offsets, as the default recipe does. Also reports the crossover: the
dense and MINRES head solves timed alone on ResNet-32 heads of growing size.

    python scripts/bench_heads.py --out experiments/hypergrad
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from bench_hypergrad import median_seconds  # scripts/ is on the path when run as a script
from torch import nn

from autobalance.config import ObjectiveConfig
from autobalance.hypergrad import DenseSolver, ImplicitHypergradient, loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss
from autobalance.models import create_model
from autobalance.models.heads import Classifier
from autobalance.objectives import build_objective
from autobalance.runtime import code_version

WEIGHT_DECAY = 5e-4
METHODS = ["plain_step", "last_layer_dense", "last_layer", "cg", "neumann"]
SETTINGS = [("resnet32", 10), ("resnet32", 100), ("resnet32", 1000), ("resnet32", 8142),
            ("features512", 1000), ("features512", 8142)]
CROSSOVER_CLASSES = [5, 10, 16, 25, 40, 63]


class Setup:
    def __init__(self, backbone: str, classes: int, batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        if backbone == "resnet32":
            self.model, shape = create_model("resnet32", (3, 32, 32), classes), (3, 32, 32)
        else:
            width = int(backbone.removeprefix("features"))
            self.model, shape = Classifier(nn.Identity(), width, classes), (width,)
        self.loss = ParametricLoss(classes, learn=("offsets",))
        self.batches = [(torch.randn(batch, *shape, generator=g), torch.randint(0, classes, (batch,), generator=g),
                         None) for _ in range(2)]
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=WEIGHT_DECAY)
        self.objective = build_objective(ObjectiveConfig(), classes)
        self.train = model_closure(self.model, loss_module_fn(self.loss), [self.batches[0]])
        self.val = model_closure(self.model, lambda z, y, g, hp: self.objective(z, y, g), [self.batches[1]], 1)
        self.params = {n: p.detach() for n, p in self.model.named_parameters()}
        self.hparams = {n: p.detach() for n, p in self.loss.named_parameters()}
        self.head_size = sum(p.numel() for n, p in self.params.items() if n.startswith("head."))

    def method(self, name: str):
        if name == "last_layer_dense":
            return ImplicitHypergradient(DenseSolver(), ("head",), WEIGHT_DECAY, name)
        return make_method(name, damping=WEIGHT_DECAY)

    def runner(self, name: str):
        if name == "plain_step":
            x, y, _ = self.batches[0]

            def step():
                self.opt.zero_grad()
                self.loss(self.model(x), y).backward()
                self.opt.step()
            return step, {}
        method, state, last = self.method(name), {}, {}

        def hyper_step():
            nonlocal state
            result = method.compute(self.params, self.hparams, self.train, self.val, state)
            state = result.state
            last.update(result.diagnostics)
        return hyper_step, last


def measure(backbone: str, classes: int, batch: int, repeats: int) -> dict:
    setup = Setup(backbone, classes, batch)
    rows = {}
    for name in METHODS:
        if name == "last_layer_dense" and setup.head_size > DenseSolver.max_size:
            rows[name] = {"refused": f"head of {setup.head_size} parameters > max_size {DenseSolver.max_size}"}
            continue
        run, diagnostics = setup.runner(name)
        slow = name == "last_layer_dense" and setup.head_size > 1500
        rows[name] = {"seconds": median_seconds(run, 1 if slow else repeats)}
        keep = ("path", "iterations", "residual", "hvp_calls", "stop")
        rows[name].update({k: diagnostics[k] for k in keep if k in diagnostics})
    base = rows["plain_step"]["seconds"]
    for r in rows.values():
        if "seconds" in r:
            r["time_ratio"] = r["seconds"] / base
    return {"backbone": backbone, "classes": classes, "head_params": setup.head_size, "rows": rows}


def crossover(batch: int, repeats: int) -> list[dict]:
    """Dense against MINRES for the head solve alone, on ResNet-32 heads of growing size."""
    out = []
    for classes in CROSSOVER_CLASSES:
        setup = Setup("resnet32", classes, batch)
        row = {"classes": classes, "head_params": setup.head_size}
        for label, options in (("dense", {"dense_max_size": 10**9}), ("minres", {"dense_max_size": 0})):
            method = make_method("last_layer", damping=WEIGHT_DECAY, **options)
            args = (setup.params, setup.hparams, setup.train, setup.val)
            row[label] = median_seconds(lambda m=method, a=args: m.compute(*a), repeats)
        out.append(row)
        print(f"crossover {classes:4d} classes {row['head_params']:6d} params  dense {row['dense'] * 1e3:8.1f} ms"
              f"  minres {row['minres'] * 1e3:8.1f} ms", flush=True)
    return out


def render(report: dict) -> str:
    lines = ["# One hyper-step as the number of classes grows (x one plain training step)", "",
             f"`python scripts/bench_heads.py`: batch {report['batch']}, synthetic data, median of "
             f"{report['repeats']} after a warm-up (1 for dense solves over 1,500 parameters); torch "
             f"{report['torch']}, {report['threads']} threads, {report['machine']}, code {report['code_version']}. "
             "`last_layer_dense` is the dense exact solve (the only last-layer path before this report); "
             "`last_layer` the default (dense up to `dense_max_size`, MINRES beyond); `cg` (10 iterations) and "
             "`neumann` (5 terms) over all parameters. `features512`: synthetic 512-wide features with no "
             "network below the head, so the plain step is a head-only step.", "",
             "| backbone | classes | head params | " + " | ".join(METHODS[1:]) + " | last_layer path, iterations |",
             "|---|---|---|" + "---|" * len(METHODS)]
    for s in report["settings"]:
        cells = []
        for name in METHODS[1:]:
            r = s["rows"][name]
            cells.append("refused" if "refused" in r else f"{r['time_ratio']:.2f}x")
        ll = s["rows"]["last_layer"]
        lines.append(f"| {s['backbone']} | {s['classes']} | {s['head_params']:,} | " + " | ".join(cells)
                     + f" | {ll.get('path')}, {ll.get('iterations')} |")
    lines += ["", "Plain step (ms): " + ", ".join(
        f"{s['backbone']}/{s['classes']} {s['rows']['plain_step']['seconds'] * 1e3:.1f}" for s in report["settings"]),
        "", "## Crossover: the head solve alone, dense against MINRES (ResNet-32 heads)", "",
        "| classes | head params | dense (ms) | MINRES (ms) |", "|---|---|---|---|"]
    lines += [f"| {r['classes']} | {r['head_params']:,} | {r['dense'] * 1e3:.1f} | {r['minres'] * 1e3:.1f} |"
              for r in report["crossover"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("experiments/hypergrad"))
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args()
    report = {"code_version": code_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "batch": args.batch,
              "repeats": args.repeats, "settings": [], "crossover": crossover(args.batch, args.repeats)}
    for backbone, classes in SETTINGS:
        s = measure(backbone, classes, args.batch, args.repeats)
        report["settings"].append(s)
        print(s, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"heads_{args.tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"heads_{args.tag}.md").write_text(render(report))
    print(render(report))


if __name__ == "__main__":
    main()

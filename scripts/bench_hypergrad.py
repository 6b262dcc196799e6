"""Cost of one hyper-step of each hypergradient method, as multiples of one plain training step.

Time: median over repeats in this process, after a warm-up call (so Neumann's power iteration
and CG run warm-started, as they do inside a search). Peak memory: each method runs once in a
fresh subprocess; the kernel's peak-RSS counter is reset after setup and read afterwards.

Side by side: ``higher`` for the unrolled method, and a transcription of the official
AutoBalance hyper-step (gradients averaged over 10 train + 10 validation batches, Neumann
series with step 1.0 and 5 terms over all parameters).

    python scripts/bench_hypergrad.py --out experiments/hypergrad
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from autobalance.hypergrad import SGDStep, loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss
from autobalance.models import create_model
from autobalance.runtime import code_version

MODELS = {"resnet32": (3, 32, 32), "cnn28": (1, 28, 28)}
METHODS = ["plain_step", "identity", "finite_difference", "last_layer", "cg", "neumann",
           "unrolled", "unrolled_recompute", "higher_unrolled", "official_neumann", "forward_step_2", "forward_step_20"]
"""``forward_step_H``: forward mode's work in one *training* step (its tangents advanced for H
hyperparameter entries: 2 power-law exponents, or 20 per-class scales and offsets); it runs at
every step of the search, so its ratio to a plain step is its cost in the search."""
UNROLL_STEPS = 5
WEIGHT_DECAY = 5e-4  # the inner objective's weight decay: the damping of the implicit solves


def _proc_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(field)


class Setup:
    """A model, the parametric loss (scales + offsets) and synthetic CIFAR- or MNIST-shaped batches."""

    def __init__(self, model_name: str, batch: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        shape = MODELS[model_name]
        self.model = create_model(model_name, shape, 10)
        self.loss = ParametricLoss(10, learn=("scales", "offsets"))
        g = torch.Generator().manual_seed(seed)
        self.batches = [(torch.randn(batch, *shape, generator=g), torch.randint(0, 10, (batch,), generator=g),
                         None) for _ in range(20)]
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        self.params = {n: p.detach() for n, p in self.model.named_parameters()}
        self.hparams = {n: p.detach() for n, p in self.loss.named_parameters()}
        self.train_fn = loss_module_fn(self.loss)

    def closure(self, batches, seed=0):
        return model_closure(self.model, self.train_fn, batches, seed)

    def val_closure(self, batches):
        return model_closure(self.model, lambda z, y, g, hp: nn.functional.cross_entropy(z, y), batches, 1)

    def runner(self, method: str):
        """A zero-argument callable performing one hyper-step (or one plain step)."""
        b = self.batches
        if method == "plain_step":
            def run():
                x, y, _ = b[0]
                self.opt.zero_grad()
                self.loss(self.model(x), y).backward()
                self.opt.step()
            return run
        if method == "higher_unrolled":
            import higher

            def run():
                opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9,
                                      weight_decay=WEIGHT_DECAY)
                with higher.innerloop_ctx(self.model, opt, copy_initial_weights=True) as (fmodel, diffopt):
                    for x, y, _ in b[:UNROLL_STEPS]:
                        diffopt.step(self.loss(fmodel(x), y))
                    xv, yv, _ = b[10]
                    val = nn.functional.cross_entropy(fmodel(xv), yv)
                    torch.autograd.grad(val, list(self.loss.parameters()))
            return run
        if method == "official_neumann":
            m = make_method("neumann", terms=5, eta=1.0, report_residual=False)
            train, val = self.closure(b[:10]), self.val_closure(b[10:20])
            return lambda: m.compute(self.params, self.hparams, train, val)
        if method in ("unrolled", "unrolled_recompute"):
            memory = "recompute" if method == "unrolled_recompute" else "graph"
            m = make_method("unrolled", steps=UNROLL_STEPS, lr=0.01, momentum=0.9, weight_decay=WEIGHT_DECAY,
                            memory=memory)
            trains = [self.closure([batch]) for batch in b[:UNROLL_STEPS]]
            val = self.val_closure([b[10]])
            return lambda: m.compute(self.params, self.hparams, trains, val)
        if method.startswith("forward_step_"):
            return self.forward_runner(int(method.removeprefix("forward_step_")))
        options = {"cg": {"max_iter": 5}, "neumann": {"terms": 5}}.get(method, {})
        damping = 0.0 if method in ("identity", "finite_difference") else WEIGHT_DECAY
        m = make_method(method, damping=damping, **options)
        train, val = self.closure([b[0]]), self.val_closure([b[10]])
        state = {}

        def run():
            nonlocal state
            state = m.compute(self.params, self.hparams, train, val, state).state
        return run


    def forward_runner(self, entries: int):
        """One tangent advance of forward mode for ``entries`` hyperparameter entries."""
        counts = [500 // (k + 1) for k in range(10)]
        if entries == 2:
            loss = ParametricLoss(10, learn=("scales", "offsets"), counts=counts, parametrization="power_law")
        else:
            loss = ParametricLoss(10, learn=("scales", "offsets"))
        hparams = {n: p.detach() for n, p in loss.named_parameters()}
        m = make_method("forward")
        closure = model_closure(self.model, loss_module_fn(loss), [self.batches[0]])
        step = SGDStep(lr=0.01, momentum=0.9, weight_decay=WEIGHT_DECAY)
        state = m.init_state(self.params, hparams)
        return lambda: m.advance(state, self.params, hparams, closure, step)


def median_seconds(run, repeats: int) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_method(setup: Setup, method: str, repeats: int) -> float:
    return median_seconds(setup.runner(method), repeats)


def peak_memory_mb(model: str, method: str, batch: int) -> float:
    """Peak RSS increase (MB) of one call, measured in a fresh interpreter."""
    out = subprocess.run([sys.executable, __file__, "--memory-probe", model, method, "--batch", str(batch)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def memory_probe(model: str, method: str, batch: int) -> None:
    setup = Setup(model, batch)
    run = setup.runner(method)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter
    base = _proc_kb("VmRSS")
    run()
    print((_proc_kb("VmHWM") - base) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("experiments/hypergrad"))
    parser.add_argument("--tag", default="cpu")
    parser.add_argument("--memory-probe", nargs=2, metavar=("MODEL", "METHOD"))
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(*args.memory_probe, args.batch)
        return

    report = {"code_version": code_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "batch": args.batch,
              "repeats": args.repeats, "results": {}}
    for model in args.models:
        setup = Setup(model, args.batch)
        rows = {}
        for method in args.methods:
            seconds = time_method(setup, method, args.repeats)
            rows[method] = {"seconds": seconds, "peak_mb": peak_memory_mb(model, method, args.batch)}
            mb = rows[method]["peak_mb"]
            print(f"{model:9s} {method:18s} {seconds * 1000:9.1f} ms  {mb:8.1f} MB", flush=True)
        base = rows["plain_step"]
        for r in rows.values():
            r["time_ratio"] = r["seconds"] / base["seconds"]
            r["memory_ratio"] = r["peak_mb"] / base["peak_mb"] if base["peak_mb"] > 0 else None
        report["results"][model] = rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"report_{args.tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"report_{args.tag}.md").write_text(render(report, args))
    print(render(report, args))


def render(report: dict, args) -> str:
    lines = [f"# One hyper-step, as multiples of one plain training step ({args.tag})", "",
             f"`python scripts/bench_hypergrad.py --tag {args.tag}`: batch {report['batch']}, synthetic data, "
             f"median of {report['repeats']} after a warm-up; torch {report['torch']}, "
             f"{report['threads']} threads, code {report['code_version']}.", ""]
    for model, rows in report["results"].items():
        lines += [f"## {model}", "", "| method | time (ms) | x plain step | peak MB | x plain step |",
                  "|---|---|---|---|---|"]
        for method, r in rows.items():
            mem = "-" if r["memory_ratio"] is None else f"{r['memory_ratio']:.2f}"
            lines.append(f"| {method} | {r['seconds'] * 1000:.1f} | {r['time_ratio']:.2f} | "
                         f"{r['peak_mb']:.1f} | {mem} |")
        for ours in ("unrolled", "unrolled_recompute"):
            if "higher_unrolled" in rows and ours in rows:
                h, u = rows["higher_unrolled"], rows[ours]
                lines += ["", f"{ours} (K={UNROLL_STEPS}) vs higher: {h['seconds'] / u['seconds']:.2f}x faster, "
                              f"{h['peak_mb'] / max(u['peak_mb'], 1e-9):.2f}x less peak memory."]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

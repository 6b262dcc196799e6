"""Hypergradient fidelity: does a search's hypergradient point where the final model's does?

The ground truth is the slope of the *final* model's validation objective (and validation
balanced error) with respect to each power-law exponent (gamma of the scales, tau of the offsets,
w of the weights n_k^w), by central finite differences over complete training runs with common
random numbers: both sides share the seed, so the split, the initialization and the batch order
are the same, and the run is deterministic at one thread. Against it, each search timing and
hypergradient method runs a search whose outer learning rate is 1e-30 (the loss stays at the
point, to float32 precision) and records every hyper-step's hypergradient; the report gives their
mean, its sign agreement and its cosine with the ground truth, per seed and point.

    python scripts/hypergrad_fidelity.py run --runs experiments/fidelity/runs.jsonl \\
        [--kind truth|estimate] [--worker 0 --workers 2] [override ...]
    python scripts/hypergrad_fidelity.py report --runs experiments/fidelity/runs.jsonl > report.md
    python scripts/hypergrad_fidelity.py plot --runs experiments/fidelity/runs.jsonl --out agreement.png

Every job appends one row to the runs file when it ends; a rerun skips the jobs already there,
so an interrupted study resumes where it stopped. Overrides (Hydra syntax) apply to every job.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_module

from autobalance.config import RunConfig
from autobalance.configure import load_config
from autobalance.data.build import build_data
from autobalance.data.bundle import DataBundle
from autobalance.losses.factory import build_search_loss
from autobalance.objectives import build_objective
from autobalance.pipeline import make_trainer, search_loss
from autobalance.runtime import seed_everything
from autobalance.training.trainer import Trainer

EXPERIMENT = "fashion_mnist_lt_interpolation"
SEEDS = (0, 1, 2, 3, 4)
POINTS = {"la": {"scales": 0.0, "offsets": 1.0, "weights": 0.0},
          "vs_tuned": {"scales": 0.1, "offsets": 1.0, "weights": 0.0}}
"""Where the slopes are taken: LA (tau 1) and the VS that validation tunes on the preset (gamma 0.1)."""
STEPS = {"scales": 0.03, "offsets": 0.1, "weights": 0.1}
"""Half-widths of the central differences, per exponent."""
EXPONENTS = ("scales", "offsets")
TIMINGS = {
    "default": {},
    "official": {"search.epochs": 90, "search.warmup_epochs": 36, "search.every": 20, "search.batches": 10},
    "terminal": {"search.epochs": 60, "search.warmup_epochs": 42},
}
"""Search timings on the 60-epoch preset: ours (half the schedule, compressed, from 20 %), the
official code's (a search 1.5x the retrain, hyper-steps from 40 %, every 20 iterations over 10
batches) and terminal-phase hyper-steps on the full-length schedule (its last 30 %)."""
METHODS = ("last_layer", "forward")
METHOD_TIMINGS = {"forward": ("terminal",)}
METHOD_POINTS = {"forward": ("la",)}
"""Timings and points each method runs at (all, unless named here): forward mode, whose cost is
one double backward per exponent per training step (about ten minutes a run here, at one
thread), runs the full-length schedule with tangents carried from its first step, where it is
the exact derivative of the model that is trained, at LA only, for the session's CPU time."""


def jobs(kinds: tuple[str, ...], methods: tuple[str, ...], exponents: tuple[str, ...],
         timings: tuple[str, ...] = tuple(TIMINGS)) -> list[dict[str, Any]]:
    """Every job of the study, truth first (the expensive part), seeds interleaved."""
    out: list[dict[str, Any]] = []
    if "truth" in kinds:
        out += [{"kind": "truth", "seed": s, "point": p, "exponent": e, "side": side}
                for p, e, side, s in itertools.product(POINTS, exponents, (1, -1), SEEDS)]
    if "estimate" in kinds:
        out += [{"kind": "estimate", "seed": s, "point": p, "timing": t, "method": m}
                for m in methods for t in METHOD_TIMINGS.get(m, tuple(TIMINGS)) if t in timings
                for p, s in itertools.product(METHOD_POINTS.get(m, tuple(POINTS)), SEEDS)]
    return out


def job_key(job: dict[str, Any]) -> str:
    return json.dumps({k: job[k] for k in sorted(job) if k in ("kind", "seed", "point", "exponent", "side",
                                                                 "timing", "method")})


def compose_config(overrides: list[str]) -> RunConfig:
    with initialize_config_module("autobalance.configs", version_base="1.3"):
        return load_config(compose("config", overrides=[f"+experiment={EXPERIMENT}", *overrides]))


def with_search(cfg: RunConfig, point: str, timing: str, method: str) -> RunConfig:
    """The search of ``timing`` and ``method`` that measures at ``point`` without moving from it."""
    exps = POINTS[point]
    family = dataclasses.replace(cfg.search.family, learn=list(EXPONENTS), init="vs",
                                 init_gamma=exps["scales"], init_tau=exps["offsets"], parametrization="power_law")
    s = dataclasses.replace(cfg.search, enabled=True, family=family, compare_with=[],
                            hypergrad=dataclasses.replace(cfg.search.hypergrad, method=method),
                            outer=dataclasses.replace(cfg.search.outer, lr=1e-30, clip=None))
    fields = {k.split(".", 1)[1]: v for k, v in TIMINGS[timing].items()}
    return dataclasses.replace(cfg, search=dataclasses.replace(s, **fields), train_on_val=False)


def validation_fit(trainer: Trainer, data: DataBundle, cfg: RunConfig) -> dict[str, float]:
    """The model as evaluated (eval mode, whole validation split): objective and balanced error."""
    objective = build_objective(cfg.objective, data.num_classes, data.num_attribute_values)
    trainer.model.eval()
    with torch.no_grad():
        logits = torch.cat([trainer.forward(x) for x, _, _ in data.eval_batches(data.val)])
        value = float(objective(logits.double(), data.val.y, data.val.attribute))
    return {"val_objective": value, "val_balanced_error": trainer.evaluate(data.val)["balanced_error"]}


def run_truth(cfg: RunConfig, job: dict[str, Any]) -> dict[str, Any]:
    exps = dict(POINTS[job["point"]])
    exps[job["exponent"]] += job["side"] * STEPS[job["exponent"]]
    cfg = dataclasses.replace(cfg, seed=job["seed"], train_on_val=False)
    seed_everything(cfg.seed)
    data = build_data(cfg.data, cfg.seed)
    loss = build_search_loss(["scales", "offsets", "weights"], "uniform", data.train_counts,
                             parametrization="power_law")
    with torch.no_grad():
        for part, value in exps.items():
            getattr(loss, f"raw_{part}").fill_(value)
    loss.requires_grad_(False)
    trainer = make_trainer(cfg, data, None, None, torch.device("cpu"), loss=loss, phase="truth")
    trainer.fit()
    return {"exponents": exps, "step": STEPS[job["exponent"]], **validation_fit(trainer, data, cfg)}


def run_estimate(cfg: RunConfig, job: dict[str, Any]) -> dict[str, Any]:
    cfg = dataclasses.replace(with_search(cfg, job["point"], job["timing"], job["method"]), seed=job["seed"])
    seed_everything(cfg.seed)
    data = build_data(cfg.data, cfg.seed)
    hook, searcher = search_loss(cfg, data, None, None, torch.device("cpu"), {})
    grads = {part: [r["hypergrad"][f"raw_{part}"][0][0] for r in hook.records if r["applied"]]
             for part in EXPONENTS}
    moved = max(abs(v - POINTS[job["point"]][p]) for p, v in
                {p: float(t[0]) for p, t in hook.loss.exponents().items()}.items())
    return {"hyper_steps": hook.hyper_steps, "skipped": hook.skipped, "moved": moved,
            "mean": {p: float(np.mean(g)) if g else math.nan for p, g in grads.items()},
            "last": {p: g[-1] if g else math.nan for p, g in grads.items()},
            "positive": {p: int(np.sum(np.array(g) > 0)) for p, g in grads.items()},
            "epochs": cfg.search.search_epochs(cfg.optim.epochs),
            **validation_fit(searcher, data, cfg)}


def code_version() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def run(args: argparse.Namespace) -> None:
    runs = Path(args.runs)
    runs.parent.mkdir(parents=True, exist_ok=True)
    done = {job_key(json.loads(line)) for line in runs.read_text().splitlines()} if runs.exists() else set()
    every = jobs(tuple(args.kind), tuple(args.method), tuple(args.exponent), tuple(args.timing))
    mine = [j for j in every[args.worker::args.workers] if job_key(j) not in done]  # the same split on every rerun
    cfg = compose_config(args.overrides)
    code = code_version()  # the code this process loaded, not what HEAD becomes while it runs
    torch.set_num_threads(1)
    for i, job in enumerate(mine):
        print(f"[{i + 1}/{len(mine)}] {job_key(job)}", flush=True)
        start = time.perf_counter()
        result = (run_truth if job["kind"] == "truth" else run_estimate)(cfg, job)
        row = {**job, **result, "seconds": time.perf_counter() - start, "overrides": args.overrides,
               "code": code}
        with runs.open("a") as f:
            f.write(json.dumps(row) + "\n")


def ground_truth(rows: list[dict[str, Any]], metric: str) -> dict[tuple[int, str], dict[str, float]]:
    """(seed, point) -> {exponent: central difference of ``metric``}."""
    sides: dict[tuple, dict[int, dict]] = {}
    for r in rows:
        if r["kind"] == "truth":
            sides.setdefault((r["seed"], r["point"], r["exponent"]), {})[r["side"]] = r
    out: dict[tuple[int, str], dict[str, float]] = {}
    for (seed, point, exponent), s in sides.items():
        if 1 in s and -1 in s:
            out.setdefault((seed, point), {})[exponent] = (s[1][metric] - s[-1][metric]) / (2 * s[1]["step"])
    return out


def mean_interval(values: list[float]) -> str:
    """``mean [low, high]``: the mean over seeds with its 95 % t-interval."""
    import scipy.stats

    m = float(np.mean(values))
    if len(values) < 2:
        return f"{m:+.4f}"
    half = float(scipy.stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))
    return f"{m:+.4f} [{m - half:+.4f}, {m + half:+.4f}]"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def report(args: argparse.Namespace) -> str:
    rows = [json.loads(line) for line in Path(args.runs).read_text().splitlines()]
    truth = ground_truth(rows, "val_objective")
    truth_err = ground_truth(rows, "val_balanced_error")
    lines = ["## Ground truth: d(final validation objective) / d(exponent), central differences", "",
             "| point | seed | " + " | ".join(f"d obj / d {e}" for e in EXPONENTS)
             + " | " + " | ".join(f"d bal. err / d {e} (points)" for e in EXPONENTS) + " |",
             "|---|---|" + "---|" * (2 * len(EXPONENTS))]
    for (seed, point), slope in sorted(truth.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        err = truth_err[(seed, point)]
        lines.append(f"| {point} | {seed} | " + " | ".join(f"{slope.get(e, math.nan):+.4f}" for e in EXPONENTS)
                     + " | " + " | ".join(f"{err.get(e, math.nan):+.2f}" for e in EXPONENTS) + " |")
    lines += ["", "Over the seeds (mean and 95 % t-interval):", "", "| point | metric | "
              + " | ".join(f"d / d {e}" for e in EXPONENTS) + " |", "|---|---|" + "---|" * len(EXPONENTS)]
    for point in POINTS:
        for label, table in (("objective", truth), ("balanced error", truth_err)):
            seeds = [t for (_, p), t in table.items() if p == point and set(EXPONENTS) <= set(t)]
            if seeds:
                lines.append(f"| {point} | {label} | " + " | ".join(mean_interval([t[e] for t in seeds])
                                                                    for e in EXPONENTS) + " |")
    lines += ["", "## Estimates against it", "",
              "Mean hypergradient over a search's hyper-steps (over seeds: mean and 95 % t-interval); sign: "
              "seeds whose mean has their own ground truth's sign; cosine: of the mean and the ground truth "
              "over the exponents, mean over seeds.", "",
              "| method | timing | point | seeds | hyper-steps | " + " | ".join(f"mean d/d {e}" for e in EXPONENTS)
              + " | " + " | ".join(f"sign {e}" for e in EXPONENTS) + " | cosine | search s |",
              "|---|---|---|---|---|" + "---|" * (2 * len(EXPONENTS)) + "---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["kind"] == "estimate":
            groups.setdefault((r["method"], r["timing"], r["point"]), []).append(r)
    for (method, timing, point), rs in sorted(groups.items()):
        paired = [r for r in rs if set(EXPONENTS) <= set(truth.get((r["seed"], point), {}))]
        means = {e: mean_interval([r["mean"][e] for r in rs]) for e in EXPONENTS}
        signs = {e: sum(np.sign(r["mean"][e]) == np.sign(truth[(r["seed"], point)][e]) for r in paired)
                 for e in EXPONENTS}
        cos = [cosine(np.array([r["mean"][e] for e in EXPONENTS]),
                      np.array([truth[(r["seed"], point)][e] for e in EXPONENTS])) for r in paired]
        lines.append(f"| {method} | {timing} | {point} | {len(rs)} | {np.mean([r['hyper_steps'] for r in rs]):.0f} | "
                     + " | ".join(means[e] for e in EXPONENTS) + " | "
                     + " | ".join(f"{signs[e]}/{len(paired)}" for e in EXPONENTS)
                     + f" | {np.mean(cos) if cos else math.nan:+.2f} | {np.mean([r['seconds'] for r in rs]):.0f} |")
    return "\n".join(lines) + "\n"


def plot(args: argparse.Namespace) -> None:
    """Each estimate's mean hypergradient against its seed's ground truth, one panel per exponent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(args.runs).read_text().splitlines()]
    truth = ground_truth(rows, "val_objective")
    fig, axes = plt.subplots(1, len(EXPONENTS), figsize=(5 * len(EXPONENTS), 4.5))
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["kind"] == "estimate":
            groups.setdefault((r["method"], r["timing"], r["point"]), []).append(r)
    for ax, e in zip(axes, EXPONENTS, strict=True):
        for (method, timing, point), rs in sorted(groups.items()):
            pairs = [(truth[(r["seed"], point)][e], r["mean"][e]) for r in rs if e in truth.get((r["seed"], point), {})]
            if pairs:
                xs, ys = zip(*pairs, strict=True)
                ax.scatter(xs, ys, label=f"{method}, {timing}, {point}", marker="o" if point == "la" else "^")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlabel(f"final model: d objective / d {e} (finite differences)")
        ax.set_ylabel(f"search: mean d objective / d {e}")
        ax.set_title(f"{e}: agreement lies in the first and third quadrants")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(args.out, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--runs", required=True)
    r.add_argument("--kind", nargs="+", default=["truth", "estimate"], choices=["truth", "estimate"])
    r.add_argument("--method", nargs="+", default=list(METHODS))
    r.add_argument("--exponent", nargs="+", default=list(EXPONENTS), choices=list(STEPS))
    r.add_argument("--timing", nargs="+", default=list(TIMINGS), choices=list(TIMINGS))
    r.add_argument("--worker", type=int, default=0)
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("overrides", nargs="*")
    p = sub.add_parser("report")
    p.add_argument("--runs", required=True)
    f = sub.add_parser("plot")
    f.add_argument("--runs", required=True)
    f.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args)
    elif args.command == "plot":
        plot(args)
    else:
        sys.stdout.write(report(args))


if __name__ == "__main__":
    main()

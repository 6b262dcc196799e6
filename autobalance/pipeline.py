"""The run: build everything from a :class:`RunConfig`, then either train a baseline, or
search a loss -> export it -> retrain with it frozen -> evaluate, writing results as it goes."""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from autobalance.bilevel import BilevelSearch
from autobalance.config import LossConfig, OptimConfig, RunConfig, SearchConfig
from autobalance.data.build import build_data
from autobalance.data.bundle import DataBundle
from autobalance.logging.sinks import Sinks, make_sinks
from autobalance.losses.clustering import cluster_means
from autobalance.losses.factory import build_loss, build_search_loss
from autobalance.losses.family import ParametricLoss
from autobalance.losses.io import save_loss
from autobalance.losses.schedules import LossSchedule
from autobalance.models import create_model
from autobalance.objectives import build_objective
from autobalance.plots import plot_per_class_accuracy, plot_trajectories
from autobalance.reporting import finite, summary_table, write_json, write_per_class_csv
from autobalance.run_dir import prepare_run_dir
from autobalance.runtime import code_version, resolve_device, seed_everything
from autobalance.training.trainer import Trainer


def build_model(cfg: RunConfig, data: DataBundle, device: torch.device) -> torch.nn.Module:
    """A freshly initialized model; the seed fixes the initialization."""
    torch.manual_seed(cfg.seed)
    return create_model(cfg.model.name, data.input_shape, data.num_classes, cfg.model.width,
                        cfg.model.normalized_head, cfg.model.dropout).to(device)


def make_trainer(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks | None, device,
                 loss=None, phase: str = "train", hooks=(), epoch_callbacks=(),
                 optim: OptimConfig | None = None) -> Trainer:
    optim = optim or cfg.optim
    model = build_model(cfg, data, device)
    loss = loss if loss is not None else build_loss(cfg.loss, data.train_counts, data.num_groups)
    schedule = LossSchedule(cfg.schedule.name, data.train_counts,
                            cfg.schedule.first_epoch(optim.epochs), cfg.schedule.beta, data.sampler)
    return Trainer(model, loss.to(device), data, optim, seed=cfg.seed, out_dir=out_dir, sinks=sinks,
                   schedule=schedule, precision=cfg.precision, progress=cfg.logger.progress,
                   phase=phase, hooks=hooks, epoch_callbacks=epoch_callbacks, eval_every=cfg.eval_every)


def search_optim(optim: OptimConfig, search: SearchConfig, epochs: int) -> OptimConfig:
    """The training schedule for the search: compressed to its length (milestones scaled with
    it) unless ``search.optim_*`` give the search its own milestones, decay or weight decay."""
    ratio = epochs / optim.epochs
    milestones = (search.optim_milestones if search.optim_milestones is not None
                  else [round(m * ratio) for m in optim.milestones])
    return dataclasses.replace(
        optim, epochs=epochs, warmup_epochs=min(optim.warmup_epochs, epochs - 1), milestones=milestones,
        decay=optim.decay if search.optim_decay is None else search.optim_decay,
        weight_decay=optim.weight_decay if search.optim_weight_decay is None else search.optim_weight_decay)


def _phase_seconds(trainer: Trainer) -> float:
    return sum(r["seconds"] for r in trainer.history)


def _write_per_class(out_dir: Path, data: DataBundle, metrics: dict[str, Any],
                     extra_columns: dict[str, list[float]] | None = None) -> None:
    write_per_class_csv(out_dir / "per_class.csv", data.class_names, data.train_counts,
                        data.summary["counts"]["test"], metrics["per_class_accuracy"], extra_columns)


def run_baseline(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device,
                 epoch_callbacks=()) -> dict[str, Any]:
    final_data = data.merged_train_val() if cfg.train_on_val else data
    trainer = make_trainer(cfg, final_data, out_dir, sinks, device, epoch_callbacks=epoch_callbacks)
    trainer.fit(resume=cfg.resume)
    metrics = trainer.evaluate(data.test)
    results = {"method": cfg.loss.name, "phase_seconds": {"train": _phase_seconds(trainer)},
               "test": metrics}
    if len(final_data.val):  # train_on_val=false: the validation split can pick hyperparameters
        results["val"] = trainer.evaluate(final_data.val)
    _write_per_class(out_dir, final_data, metrics)
    print(summary_table(metrics, data.class_names, final_data.train_counts))
    return results


def run_search(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device,
               epoch_callbacks=()) -> dict[str, Any]:
    s = cfg.search
    loss = build_search_loss(s.learn, s.init, data.train_counts, data.num_groups, s.scale_map,
                             s.cluster_size, s.init_tau, s.init_gamma, s.init_beta)
    objective = build_objective(cfg.objective, data.num_classes, data.num_groups)
    n_search = s.search_epochs(cfg.optim.epochs)
    optim = search_optim(cfg.optim, s, n_search) if s.retrain else cfg.optim
    hook = BilevelSearch(loss, data, s, objective, optim, cfg.seed, sinks, total_epochs=cfg.optim.epochs)
    searcher = make_trainer(cfg, data, out_dir, sinks, device, loss=loss, phase="search",
                            hooks=(hook,), epoch_callbacks=epoch_callbacks, optim=optim)
    searcher.fit(resume=cfg.resume)
    if hook.hyper_steps == 0:
        warnings.warn(f"the search made no hyper-step (search epochs {hook.first_epoch}..{hook.active_epochs - 1} "
                      f"with hyper-steps every {s.every} steps): the exported loss is its starting point "
                      f"({s.init}); lengthen the search or lower search.warmup_epochs / search.every",
                      RuntimeWarning, stacklevel=2)
    learned = hook.frozen_loss()
    provenance = {"seed": cfg.seed, "code_version": code_version(), "dataset": data.summary["dataset"],
                  "method": s.method, "objective": cfg.objective.name, "hyper_steps": hook.hyper_steps,
                  "skipped": hook.skipped, "freeze": s.freeze}
    loss_path = save_loss(out_dir / "learned_loss.yaml", learned, data.class_names, data.train_counts,
                          provenance)
    final_data = data.merged_train_val() if cfg.train_on_val else data
    phase_seconds = {"search": _phase_seconds(searcher)}
    if s.retrain:
        final = make_trainer(cfg, final_data, out_dir, sinks, device, loss=learned, phase="retrain",
                             epoch_callbacks=epoch_callbacks)
        final.fit(resume=cfg.resume)
        phase_seconds["retrain"] = _phase_seconds(final)
    else:
        final = searcher
    metrics = final.evaluate(data.test)
    accuracies = {"learned loss": metrics["per_class_accuracy"]}
    results: dict[str, Any] = {"method": f"autobalance-{s.method}", "phase_seconds": phase_seconds,
                               "test": metrics, "learned_loss": str(loss_path),
                               "hyper_steps": hook.hyper_steps, "hyper_steps_skipped": hook.skipped,
                               "hyper_steps_unsolved": hook.unsolved}
    for name in s.compare_with:  # same seed, data and schedule: paired with the learned loss
        baseline_cfg = dataclasses.replace(cfg, loss=LossConfig(name=name),
                                           search=dataclasses.replace(s, enabled=False))
        baseline = make_trainer(baseline_cfg, final_data, out_dir, sinks, device, phase=name)
        baseline.fit(resume=cfg.resume)
        phase_seconds[name] = _phase_seconds(baseline)
        results[f"{name}_test"] = baseline.evaluate(data.test)
        accuracies[name.upper()] = results[f"{name}_test"]["per_class_accuracy"]
    columns = {k: v[0].tolist() for k, v in learned.values().items()}
    plots = [plot_per_class_accuracy(accuracies, data.class_names, final_data.train_counts,
                                     out_dir / "per_class_accuracy.png")]
    if hook.records:
        labels, counts = _trace_columns(learned, data.class_names, data.train_counts)
        plots.append(plot_trajectories(hook.records, list(learned.learn), labels, counts,
                                       out_dir / "hyperparameters.png"))
    results["plots"] = [str(p) for p in plots]
    _write_per_class(out_dir, final_data, metrics, columns)
    print(summary_table(metrics, data.class_names, final_data.train_counts, columns))
    for name in s.compare_with:
        theirs = results[f"{name}_test"]["balanced_error"]
        print(f"{name.upper() + ' balanced_error':>24}: {theirs:.2f} % (learned loss "
              f"{metrics['balanced_error'] - theirs:+.2f} points, same seed)")
    print(f"learned loss: {loss_path}")
    print("plots: " + ", ".join(results["plots"]))
    return results


def data_line(summary: dict[str, Any]) -> str:
    """One line on what the run trains on, printed before the first (possibly long) epoch."""
    counts = summary["counts"]
    groups = f", {summary['num_groups']} groups" if summary["num_groups"] > 1 else ""
    return (f"data: {summary['dataset']}, {len(summary['class_names'])} classes{groups}; train {sum(counts['train'])} "
            f"(per class {max(counts['train'])} down to {min(counts['train'])}, imbalance "
            f"{summary['imbalance_ratio']:.1f}), validation {sum(counts['val'])}, test {sum(counts['test'])}")


def summary_record(results: dict[str, Any]) -> dict[str, Any]:
    """The final numbers of the run's model (the learned loss after a search) for W&B's summary:
    headline errors, per-class accuracy up to 100 classes, each paired baseline and the gap."""
    test = results["test"]
    record: dict[str, Any] = {k: test.get(k) for k in ("balanced_error", "few_shot_error", "worst_class_error",
                                                       "worst_group_accuracy") if test.get(k) is not None}
    if len(test["per_class_accuracy"]) <= 100:
        record["per_class_accuracy"] = test["per_class_accuracy"]
    for key, other in results.items():
        if key.endswith("_test") and isinstance(other, dict):
            name = key.removesuffix("_test")
            record[f"{name}/balanced_error"] = other["balanced_error"]
            record[f"minus_{name}/balanced_error"] = test["balanced_error"] - other["balanced_error"]
    return record


def _trace_columns(loss: ParametricLoss, class_names: list[str], counts: list[int]) -> tuple[list[str], list[float]]:
    """Names and training counts of the hyper-step traces' columns: classes, or clusters."""
    if loss.cluster_size == 1:
        return list(class_names), [float(c) for c in counts]
    means = cluster_means(torch.tensor(counts, dtype=torch.float64), loss.cluster)
    return [f"cluster {i}" for i in range(len(means))], means.tolist()


def run(cfg: RunConfig, out_dir: str | Path, epoch_callbacks=()) -> dict[str, Any]:
    """Run as configured and write results under ``out_dir``; returns the metrics dict."""
    out_dir = Path(out_dir)
    prepare_run_dir(out_dir, cfg)
    start = time.perf_counter()
    version = code_version()
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    print(f"run directory: {out_dir}", flush=True)
    data = build_data(cfg.data, cfg.seed, device)
    write_json(out_dir / "data_summary.json", data.summary)
    print(data_line(data.summary), flush=True)
    sinks = make_sinks(cfg.logger.name, out_dir, cfg.logger.project, cfg.name, cfg.logger.mode,
                       dataclasses.asdict(cfg))
    try:
        runner = run_search if cfg.search.enabled else run_baseline
        results = runner(cfg, data, out_dir, sinks, device, epoch_callbacks)
        results.update(dataset=data.summary["dataset"], seed=cfg.seed, code_version=version,
                       epochs=cfg.optim.epochs, wall_seconds=time.perf_counter() - start)
        write_json(out_dir / "metrics.json", finite(results))
        sinks.log("summary", summary_record(results), 0)
        print(f"results in {out_dir}")
        return results
    finally:
        sinks.close()

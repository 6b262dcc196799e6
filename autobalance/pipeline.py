"""The run: build everything from a :class:`RunConfig`, then either train a baseline, or
search a loss -> export it -> retrain with it frozen -> evaluate, writing results as it goes."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autobalance.bilevel import BilevelSearch
from autobalance.class_attributes import attribute_values
from autobalance.config import ConfigError, FamilyConfig, OptimConfig, RunConfig, SearchConfig
from autobalance.configure import recorded_run_config
from autobalance.data.build import build_data
from autobalance.data.bundle import DataBundle, TensorSplit
from autobalance.data.progress import data_progress
from autobalance.distributed import Ranks, current_ranks
from autobalance.errors import InputError
from autobalance.logging.sinks import Sinks, make_sinks
from autobalance.losses.augmentation import applicable_ops
from autobalance.losses.clustering import cluster_means
from autobalance.losses.factory import LOSSES, build_loss, family_loss, loss_config, registered_settings
from autobalance.losses.family import ParametricLoss, mean_loss
from autobalance.losses.io import load_loss, save_loss
from autobalance.losses.schedules import LossSchedule
from autobalance.models import create_model
from autobalance.objective_metrics import with_objective_metrics
from autobalance.objectives import build_objective, class_weight_list
from autobalance.plots import plot_per_class_accuracy, plot_trajectories
from autobalance.posthoc_stage import posthoc_stage
from autobalance.procedures import PROCEDURES, Procedure
from autobalance.reporting import (
    data_line,
    finite,
    summary_record,
    summary_table,
    write_json,
    write_per_class_csv,
    write_per_group_csv,
    write_predictions_csv,
)
from autobalance.run_dir import code_provenance, lock_run_dir, prepare_run_dir, record_code_version, unlock_run_dir
from autobalance.runtime import code_version, resolve_device, seed_everything
from autobalance.training import dfr, jtt, validation_costs, weight_balancing  # noqa: F401 - their procedures register
from autobalance.training.checkpoint import load_checkpoint
from autobalance.training.lr_schedule import shortened
from autobalance.training.trainer import Trainer


def build_model(cfg: RunConfig, data: DataBundle, device: torch.device) -> torch.nn.Module:
    """A freshly initialized model; the seed fixes the initialization."""
    torch.manual_seed(cfg.seed)
    return create_model(cfg.model, data.input_shape, data.num_classes).to(device)


def make_trainer(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks | None, device,
                 loss=None, phase: str = "train", hooks=(), epoch_callbacks=(),
                 optim: OptimConfig | None = None) -> Trainer:
    optim = optim or cfg.optim
    model = build_model(cfg, data, device)
    loss = loss if loss is not None else build_loss(cfg.loss, data.train_counts, data.cell_counts())
    schedule = LossSchedule(cfg.schedule.name, data.train_counts,
                            cfg.schedule.first_epoch(optim.epochs), cfg.schedule.beta, data.sampler)
    return Trainer(model, loss.to(device), data, optim, seed=cfg.seed, out_dir=out_dir, sinks=sinks,
                   schedule=schedule, precision=cfg.precision, progress=cfg.logger.progress and data.ranks.is_main,
                   phase=phase, hooks=hooks, epoch_callbacks=epoch_callbacks, eval_every=cfg.eval_every,
                   eval_test=cfg.eval_test_per_epoch,
                   sync_batchnorm=cfg.model.sync_batchnorm, compile=cfg.compile)


def search_optim(optim: OptimConfig, search: SearchConfig, epochs: int) -> OptimConfig:
    """The training schedule for the search: compressed to its length (milestones scaled with
    it) unless ``search.inner`` gives the search its own milestones, decay or weight decay."""
    inner = search.inner
    short = shortened(optim, epochs)
    return dataclasses.replace(
        short, milestones=short.milestones if inner.milestones is None else inner.milestones,
        decay=optim.decay if inner.decay is None else inner.decay,
        weight_decay=optim.weight_decay if inner.weight_decay is None else inner.weight_decay)


def _phase_seconds(trainer: Trainer) -> float:
    return sum(r["seconds"] for r in trainer.history)


def _write_per_class(out_dir: Path, data: DataBundle, metrics: dict[str, Any],
                     extra_columns: dict[str, list[float]] | None = None) -> None:
    write_per_class_csv(out_dir / "per_class.csv", data.class_names, data.train_counts,
                        data.summary["counts"]["test"], metrics["per_class_accuracy"], extra_columns)
    if "per_group_accuracy" in metrics:
        write_per_group_csv(out_dir / "per_group.csv", data.class_names, data.summary["cell_counts"],
                            metrics["per_group_accuracy"])


def scored(cfg: RunConfig, data: DataBundle, metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with the run objective's own (:func:`with_objective_metrics`)."""
    return with_objective_metrics(metrics, cfg.objective, data.class_names)


def evaluated(cfg: RunConfig, trainer: Trainer, split: TensorSplit) -> dict[str, Any]:
    """The trainer's model on ``split``: its metrics and the run objective's."""
    return scored(cfg, trainer.data, trainer.evaluate(split))


def final_test_metrics(cfg: RunConfig, trainer: Trainer, data: DataBundle, out_dir: Path) -> dict[str, Any]:
    """The run's model on the test split: its metrics, with its predictions written (rank 0)
    to ``test_predictions.csv``."""
    test = data.test
    predictions = trainer.predict(test)
    if data.ranks.is_main:
        write_predictions_csv(out_dir / "test_predictions.csv", test.y.tolist(), predictions.tolist(),
                              None if test.attribute is None else test.attribute.tolist(), data.class_names)
    return scored(cfg, data, trainer.metrics(predictions, test))


def training_fit(trainer: Trainer, split: TensorSplit) -> dict[str, Any]:
    """The final model on the data it was fitted on (clean inputs, eval mode): how close the
    schedule came to interpolation, where losses that only shift logits lose their effect."""
    fit = trainer.evaluate(split)
    print(f"training fit: error {fit['error']:.2f} %, balanced error {fit['balanced_error']:.2f} % "
          f"on {len(split)} training examples", flush=True)
    return fit


def train(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device, phase: str,
          phase_seconds: dict[str, float], **trainer_options) -> Trainer:
    """One phase: build a fresh model and trainer, fit (resuming when asked), record its time."""
    trainer = make_trainer(cfg, data, out_dir, sinks, device, phase=phase, **trainer_options)
    trainer.fit(resume=cfg.resume)
    phase_seconds[phase] = _phase_seconds(trainer)
    return trainer


def run_baseline(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device,
                 epoch_callbacks=()) -> dict[str, Any]:
    """A fixed loss (with its procedure's stages, if it has any): train -> evaluate -> report."""
    final_data = data.merged_train_val() if cfg.train_on_val else data
    phase_seconds: dict[str, float] = {}
    name = LOSSES.metadata(cfg.loss.name).get("procedure")
    procedure = Procedure() if name is None else PROCEDURES[name]
    if procedure.check is not None:
        procedure.check(cfg, data)
    extra: dict[str, Any] = {}
    if procedure.before is not None:
        def train_phase(phase_cfg: RunConfig, phase_data: DataBundle, phase: str, **options) -> Trainer:
            return train(phase_cfg, phase_data, out_dir, sinks, device, phase, phase_seconds, **options)

        final_data, extra[name] = procedure.before(cfg, final_data, train_phase)
    options: dict[str, Any] = {}
    if procedure.hooks is not None:
        loss = build_loss(cfg.loss, final_data.train_counts, final_data.cell_counts())
        options = {"loss": loss, "hooks": procedure.hooks(cfg, final_data, loss)}
    trainer = train(cfg, final_data, out_dir, sinks, device, "train", phase_seconds, epoch_callbacks=epoch_callbacks,
                    **options)
    if procedure.after is not None:
        start = time.perf_counter()
        extra[name] = procedure.after(cfg, trainer, data, final_data)
        phase_seconds[procedure.after_phase] = time.perf_counter() - start
    results = {"method": cfg.loss.name, "phase_seconds": phase_seconds,
               **evaluate_stage(cfg, trainer, data, final_data, out_dir), **extra}
    report_stage(cfg, data, final_data, results["test"], out_dir, counts_title=_fit_on(cfg, data))
    return results


def evaluate_stage(cfg: RunConfig, model: Trainer, data: DataBundle, fitted: DataBundle,
                   out_dir: Path) -> dict[str, Any]:
    """The final model (a trainer holding it) on the test split (once: its predictions go to
    ``test_predictions.csv``), on the data it was ``fitted`` on, on the validation split it left
    out (if any), and with the post-hoc stage when asked: ``{"test", "train", "val", "posthoc"}``."""
    results: dict[str, Any] = {"test": final_test_metrics(cfg, model, data, out_dir),
                               "train": training_fit(model, fitted.train)}
    if len(fitted.val):  # the final model never trained on it: it can pick hyperparameters
        results["val"] = evaluated(cfg, model, fitted.val)
    if cfg.posthoc.enabled:
        results["posthoc"] = posthoc_stage(cfg, model, data, fitted, scored)
    return results


def report_stage(cfg: RunConfig, data: DataBundle, final_data: DataBundle, metrics: dict[str, Any], out_dir: Path,
                 columns: dict[str, list[float]] | None = None, counts_title: str = "train") -> None:
    """``per_class.csv`` (and ``per_group.csv``) on rank 0, and the per-class table on the console."""
    if data.ranks.is_main:
        _write_per_class(out_dir, final_data, metrics, columns)
    print(summary_table(metrics, data.class_names, final_data.train_counts, columns, counts_title=counts_title))


def augmentation_ops(family: FamilyConfig, data: DataBundle) -> tuple[str, ...]:
    """The search's augmentation operations: as configured, else all that suit the input when
    ``augment`` is learned, else none."""
    if family.augment_ops is not None:
        return tuple(family.augment_ops)
    return applicable_ops(len(data.input_shape)) if "augment" in family.learn else ()


def search_loss(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device, phase_seconds,
                epoch_callbacks=(), phase: str = "search", fold: int | None = None) -> tuple[BilevelSearch, Trainer]:
    """One search: train with the bilevel hook; returns the hook (the learned loss and its
    trace) and the searching trainer."""
    s, family = cfg.search, cfg.search.family
    optim = search_optim(cfg.optim, s, s.search_epochs(cfg.optim.epochs)) if s.retrain else cfg.optim
    loss = family_loss(family, data.train_counts, data.cell_counts(), augmentation_ops(family, data),
                       decay_reference=optim.weight_decay,
                       attribute_values=attribute_values(data.train_counts, data.summary.get("label_noise"),
                                                         cfg.objective.class_weights))
    objective = build_objective(cfg.objective, data.num_classes, data.num_attribute_values, data.class_names)
    total = cfg.optim.epochs
    steps_per_epoch = math.ceil(len(data.train) / data.batch_size)
    expected = (s.search_epochs(total) - s.first_hyper_epoch(total)) * steps_per_epoch // s.every
    hook = BilevelSearch(loss, data, s, objective, optim, cfg.seed, sinks, total_epochs=total, fold=fold,
                         phase=phase, expected_hyper_steps=expected)
    searcher = train(cfg, data, out_dir, sinks, device, phase, phase_seconds, loss=loss, hooks=(hook,),
                     epoch_callbacks=epoch_callbacks, optim=optim)
    if hook.hyper_steps == 0:
        warnings.warn(f"the search made no hyper-step (search epochs {hook.first_epoch}..{hook.active_epochs - 1} "
                      f"with hyper-steps every {s.every} steps): the exported loss is its starting point "
                      f"({family.init}); lengthen the search or lower search.warmup_epochs / search.every",
                      RuntimeWarning, stacklevel=3)
    return hook, searcher


@dataclass
class SearchOutcome:
    """What the search stage returns: its hooks (one per cross-fitting fold: the traces, the
    guard), the last searching trainer (the final model when ``search.retrain=false``) and the
    learned loss (with folds, the mean of theirs)."""

    hooks: list[BilevelSearch]
    searcher: Trainer
    learned: ParametricLoss

    def summary(self) -> dict[str, Any]:
        """Hyper-steps taken, skipped and unsolved, the guard's back-offs, and whether each search
        exported its starting point (the guard saw the objective climb)."""
        hooks = self.hooks
        return {"hyper_steps": sum(h.hyper_steps for h in hooks), "hyper_steps_skipped": sum(h.skipped for h in hooks),
                "hyper_steps_unsolved": sum(h.unsolved for h in hooks),
                "guard_backoffs": sum(0 if h.guard is None else h.guard.backoffs for h in hooks),
                "exported_start": [h.climbed() is not None for h in hooks]}


def search_stage(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device, phase_seconds,
                 epoch_callbacks=()) -> SearchOutcome:
    """One search, or with ``search.folds`` = k > 1 one per cross-fitting fold (phases
    ``search_fold0``...)."""
    k = cfg.search.folds
    if k == 1:
        hook, searcher = search_loss(cfg, data, out_dir, sinks, device, phase_seconds, epoch_callbacks)
        return SearchOutcome([hook], searcher, hook.frozen_loss())
    hooks = []
    for fold in range(k):
        fold_data = data.cross_fold(k, fold, cfg.seed)
        print(f"cross-fitting: search {fold + 1} of {k}, validating on {len(fold_data.val)} of "
              f"{len(fold_data.train) + len(fold_data.val)} examples", flush=True)
        hook, searcher = search_loss(cfg, fold_data, out_dir, sinks, device, phase_seconds, epoch_callbacks,
                                     phase=f"search_fold{fold}", fold=fold)
        hooks.append(hook)
    return SearchOutcome(hooks, searcher, mean_loss([h.frozen_loss() for h in hooks]))


def export_stage(cfg: RunConfig, data: DataBundle, outcome: SearchOutcome, out_dir: Path) -> Path:
    """The learned loss as ``learned_loss.yaml`` (rank 0), with what made it."""
    s = cfg.search
    loss_path = out_dir / "learned_loss.yaml"
    if data.ranks.is_main:
        summary = outcome.summary()
        provenance = {"seed": cfg.seed, **code_provenance(out_dir), "dataset": data.summary["dataset"],
                      "method": s.hypergrad.method, "objective": cfg.objective.name,
                      "hyper_steps": summary["hyper_steps"], "skipped": summary["hyper_steps_skipped"],
                      "folds": s.folds, "export": s.export.value, "world_size": data.ranks.world_size}
        save_loss(loss_path, outcome.learned, data.class_names, data.train_counts, provenance)
    return loss_path


def retrain_stage(cfg: RunConfig, final_data: DataBundle, learned: ParametricLoss, out_dir: Path, sinks: Sinks,
                  device, phase_seconds, epoch_callbacks=()) -> Trainer:
    """A fresh model (the seed's initialization) trained with the learned loss, frozen."""
    return train(cfg, final_data, out_dir, sinks, device, "retrain", phase_seconds, loss=learned,
                 epoch_callbacks=epoch_callbacks)


def paired_baselines(cfg: RunConfig, data: DataBundle, final_data: DataBundle, out_dir: Path, sinks: Sinks, device,
                     phase_seconds) -> dict[str, dict[str, Any]]:
    """``search.compare_with``: each baseline trained with the same seed, data and schedule as the
    learned loss's retrain, its test metrics by name (paired with the learned loss's)."""
    out = {}
    for name in cfg.search.compare_with:
        baseline_cfg = dataclasses.replace(cfg, loss=loss_config(name),
                                           search=dataclasses.replace(cfg.search, enabled=False))
        trainer = train(baseline_cfg, final_data, out_dir, sinks, device, name, phase_seconds)
        out[name] = scored(cfg, data, trainer.evaluate(data.test))
    return out


def run_search(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device,
               epoch_callbacks=()) -> dict[str, Any]:
    """search -> export -> retrain -> evaluate -> paired baselines -> report; ``stage=search``
    stops after the export."""
    s = cfg.search
    phase_seconds: dict[str, float] = {}
    outcome = search_stage(cfg, data, out_dir, sinks, device, phase_seconds, epoch_callbacks)
    rank_gap = _check_replicas(data.ranks, outcome.learned)
    loss_path = export_stage(cfg, data, outcome, out_dir)
    results: dict[str, Any] = {"method": f"autobalance-{s.hypergrad.method}", "phase_seconds": phase_seconds,
                               "learned_loss": str(loss_path), **outcome.summary(), "loss_rank_gap": rank_gap}
    if cfg.stage == "search":
        if len(data.val):  # the searching model trained on the training split alone
            results["val"] = evaluated(cfg, outcome.searcher, data.val)
        print(f"learned loss: {loss_path} (stage=search: no retrain, the test split unread)")
        return results
    final_data = data.merged_train_val() if cfg.train_on_val else data
    final = (retrain_stage(cfg, final_data, outcome.learned, out_dir, sinks, device, phase_seconds, epoch_callbacks)
             if s.retrain else outcome.searcher)
    fitted = final_data if s.retrain else data
    results.update(evaluate_stage(cfg, final, data, fitted, out_dir))
    metrics = results["test"]
    baselines = paired_baselines(cfg, data, final_data, out_dir, sinks, device, phase_seconds)
    results.update({f"{name}_test": m for name, m in baselines.items()})
    accuracies = {"learned loss": metrics["per_class_accuracy"],
                  **{name.upper(): m["per_class_accuracy"] for name, m in baselines.items()}}
    learned = outcome.learned
    columns = {k: v[0].tolist() for k, v in learned.values().items() if v.shape[-1] == data.num_classes}
    results["plots"] = []
    if data.ranks.is_main:
        results["plots"] = [str(p) for p in _plots(outcome.hooks[0], learned, data, final_data, accuracies, out_dir)]
    report_stage(cfg, data, final_data, metrics, out_dir, columns,
                 counts_title=_fit_on(cfg, data) if s.retrain else "train")
    for name, theirs in baselines.items():
        print(f"{name.upper() + ' balanced_error':>24}: {theirs['balanced_error']:.2f} % (learned loss "
              f"{metrics['balanced_error'] - theirs['balanced_error']:+.2f} points, same seed)")
    print(f"learned loss: {loss_path}")
    print("plots: " + ", ".join(results["plots"]))
    return results


def run_evaluate(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks: Sinks, device,
                 epoch_callbacks=()) -> dict[str, Any]:
    """``stage=evaluate``: the final model of the run ``from_run`` (its last checkpoint), with that
    run's loss (a search's learned-loss file), evaluated and reported again as the run did."""
    source = Path(cfg.from_run).expanduser()
    procedure = LOSSES.metadata(cfg.loss.name).get("procedure")
    if procedure is not None:
        raise ConfigError(f"from_run={source}: loss={cfg.loss.name} changes its data or model around the checkpoint "
                          "(a multi-stage procedure); expected a run of a single training phase")
    s = cfg.search
    phase = ("retrain" if s.retrain else f"search_fold{s.folds - 1}" if s.folds > 1 else "search") \
        if s.enabled else "train"
    checkpoint = source / "checkpoints" / f"{phase}.pt"
    if not checkpoint.is_file():
        raise InputError(f"from_run={source}: no final checkpoint {checkpoint.relative_to(source)}; expected a "
                         "finished run that kept its checkpoints")
    final_data = data.merged_train_val() if cfg.train_on_val else data
    fitted = final_data if not s.enabled or s.retrain else data
    loss = load_loss(source / "learned_loss.yaml", data.num_classes, setting="from_run") if s.enabled else None
    trainer = make_trainer(cfg, fitted, out_dir, None, device, loss=loss, phase=phase)
    trainer.model.load_state_dict(load_checkpoint(checkpoint, device)["model"])
    print(f"evaluating {checkpoint} ({phase}, epoch {trainer.optim_cfg.epochs})", flush=True)
    results = {"method": f"autobalance-{s.hypergrad.method}" if s.enabled else cfg.loss.name,
               "evaluated": str(checkpoint), **evaluate_stage(cfg, trainer, data, fitted, out_dir)}
    report_stage(cfg, data, fitted, results["test"], out_dir,
                 counts_title=_fit_on(cfg, data) if not s.enabled or s.retrain else "train")
    return results


def _fit_on(cfg: RunConfig, data: DataBundle) -> str:
    """What the per-class table's counts are: the training split, or training + validation."""
    return "train+val" if cfg.train_on_val and len(data.val) else "train"


def _check_replicas(ranks: Ranks, learned: ParametricLoss) -> float:
    """The largest difference between the ranks' learned losses (0 in one process); every rank
    computes the same outer steps from the same averaged hypergradients, so any gap is a bug."""
    gap = ranks.differing(list(learned.parameters()))
    if gap > 1e-6:
        raise RuntimeError(f"the ranks ended the search with different loss parameters (largest difference "
                           f"{gap:.3g}); their hyper-steps went out of step")
    return gap


def _plots(hook: BilevelSearch, learned: ParametricLoss, data: DataBundle, final_data: DataBundle,
           accuracies: dict[str, list[float]], out_dir: Path) -> list[Path]:
    plots = [plot_per_class_accuracy(accuracies, data.class_names, final_data.train_counts,
                                     out_dir / "per_class_accuracy.png")]
    if hook.records:
        labels, counts = _trace_columns(learned, data.class_names, data.train_counts)
        parts = [name for name, table in learned.learned_values().items() if table.shape[-1] == len(labels)]
        plots.append(plot_trajectories(hook.records, parts, labels, counts, out_dir / "hyperparameters.png"))
    return plots


def _trace_columns(loss: ParametricLoss, class_names: list[str], counts: list[int]) -> tuple[list[str], list[float]]:
    """Names and training counts of the hyper-step traces' columns: classes, or clusters."""
    if loss.cluster_size == 1:
        return list(class_names), [float(c) for c in counts]
    means = cluster_means(torch.tensor(counts, dtype=torch.float64), loss.cluster)
    return [f"cluster {i}" for i in range(len(means))], means.tolist()


def check_shards(cfg: RunConfig, ranks: Ranks) -> None:
    """Every rank must hold an equal shard of each batch, so that the ranks' mean is the batch's;
    a loss that keeps statistics of whole batches runs in one process."""
    if ranks.world_size > 1 and LOSSES.metadata(cfg.loss.name).get("single_process"):
        raise ConfigError(f"loss.name={cfg.loss.name}: its state follows whole batches, which one process of "
                          f"{ranks.world_size} does not see; expected a single process (not torchrun)")
    sizes = {"data.batch_size": cfg.data.batch_size}
    if cfg.search.enabled:
        sizes["search.val_batch_size"] = cfg.search.val_batch_size or cfg.data.batch_size
    for key, size in sizes.items():
        if size % ranks.world_size:
            raise ConfigError(f"{key}={size}: expected a multiple of the {ranks.world_size} ranks "
                              "(each rank holds an equal shard of every batch)")


def run(cfg: RunConfig, out_dir: str | Path, epoch_callbacks=()) -> dict[str, Any]:
    """Run as configured and write results under ``out_dir``; returns the metrics dict.

    In a process group (torchrun) every rank runs this with its shard of each batch; rank 0
    alone prints, logs and writes ``out_dir``."""
    ranks = current_ranks()
    if cfg.stage == "evaluate":  # the recorded run's settings, evaluated here
        cfg = dataclasses.replace(recorded_run_config(cfg.from_run), stage="evaluate", from_run=cfg.from_run,
                                  device=cfg.device, logger=cfg.logger, resume=False, name=cfg.name)
    cfg = dataclasses.replace(cfg, loss=registered_settings(cfg.loss))  # a bare LossConfig(name=...) too
    check_shards(cfg, ranks)
    with contextlib.nullcontext() if ranks.is_main else contextlib.redirect_stdout(io.StringIO()):
        return _run(cfg, Path(out_dir), ranks, epoch_callbacks)


def _run(cfg: RunConfig, out_dir: Path, ranks: Ranks, epoch_callbacks) -> dict[str, Any]:
    main = ranks.is_main
    start = time.perf_counter()
    lock = None
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = lock_run_dir(out_dir)
    try:
        return _locked_run(cfg, out_dir, ranks, epoch_callbacks, start)
    finally:
        if lock is not None:
            unlock_run_dir(lock)


def _locked_run(cfg: RunConfig, out_dir: Path, ranks: Ranks, epoch_callbacks, start: float) -> dict[str, Any]:
    main = ranks.is_main
    if main:
        prepare_run_dir(out_dir, cfg)
        record_code_version(out_dir, code_version(), cfg.resume)
    ranks.barrier()  # a refused run directory stops rank 0 here, and torchrun the others
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    print(f"run directory: {out_dir}", flush=True)
    with data_progress(cfg.logger.progress and main):
        data = dataclasses.replace(build_data(cfg.data, cfg.seed, device), ranks=ranks)
    print(data_line(data.summary), flush=True)
    weights = class_weight_list(cfg.objective.class_weights, data.class_names)  # names -> K numbers, checked
    cfg = dataclasses.replace(cfg, objective=dataclasses.replace(cfg.objective, class_weights=weights))
    sinks = (make_sinks(cfg.logger.name, out_dir, cfg.logger.project, cfg.name, cfg.logger.mode,
                        dataclasses.asdict(cfg)) if main else None)
    try:
        if main:
            write_json(out_dir / "data_summary.json", data.summary)
        runner = run_evaluate if cfg.stage == "evaluate" else run_search if cfg.search.enabled else run_baseline
        results = runner(cfg, data, out_dir, sinks, device, epoch_callbacks)
        results.update(dataset=data.summary["dataset"], seed=cfg.seed,
                       **(code_provenance(out_dir) if main else {"code_version": code_version()}),
                       epochs=cfg.optim.epochs, world_size=ranks.world_size,
                       wall_seconds=time.perf_counter() - start)
        if main:
            write_json(out_dir / "metrics.json", finite(results))
            sinks.log("summary", summary_record(results), 0)
        print(f"results in {out_dir}")
        return results
    finally:
        if sinks is not None:
            sinks.close()

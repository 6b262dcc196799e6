"""The run: build data, model and loss from a :class:`RunConfig`, train, evaluate, write results."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from autobalance.config import RunConfig
from autobalance.data.build import build_data
from autobalance.data.bundle import DataBundle
from autobalance.logging.sinks import make_sinks
from autobalance.losses.factory import build_loss
from autobalance.losses.schedules import LossSchedule
from autobalance.models import create_model
from autobalance.reporting import finite, summary_table, write_json, write_per_class_csv
from autobalance.runtime import code_version, resolve_device, seed_everything
from autobalance.training.trainer import Trainer


def build_model(cfg: RunConfig, data: DataBundle, device: torch.device) -> torch.nn.Module:
    """A freshly initialized model; the seed fixes the initialization."""
    torch.manual_seed(cfg.seed)
    return create_model(cfg.model.name, data.input_shape, data.num_classes, cfg.model.width,
                        cfg.model.normalized_head, cfg.model.dropout).to(device)


def make_trainer(cfg: RunConfig, data: DataBundle, out_dir: Path, sinks, device,
                 loss=None, phase: str = "train", hooks=(), epoch_callbacks=()) -> Trainer:
    model = build_model(cfg, data, device)
    loss = loss if loss is not None else build_loss(cfg.loss, data.train_counts, data.num_groups)
    schedule = LossSchedule(cfg.schedule.name, data.train_counts,
                            cfg.schedule.first_epoch(cfg.optim.epochs), cfg.schedule.beta,
                            data.sampler)
    return Trainer(model, loss.to(device), data, cfg.optim, seed=cfg.seed, out_dir=out_dir,
                   sinks=sinks, schedule=schedule, precision=cfg.precision,
                   progress=cfg.logger.progress, phase=phase, hooks=hooks,
                   epoch_callbacks=epoch_callbacks)


def write_results(out_dir: Path, trainer: Trainer, data: DataBundle, cfg: RunConfig,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """metrics.json, per_class.csv and the console summary for the trained model."""
    metrics = trainer.evaluate(data.test)
    results = finite({
        "method": cfg.loss.name,
        "dataset": data.summary["dataset"],
        "seed": cfg.seed,
        "code_version": code_version(),
        "epochs": cfg.optim.epochs,
        "train_seconds": sum(r["seconds"] for r in trainer.history),
        "test": metrics,
        **(extra or {}),
    })
    write_json(out_dir / "metrics.json", results)
    test_counts = data.summary["counts"]["test"]
    write_per_class_csv(out_dir / "per_class.csv", data.class_names, data.train_counts,
                        test_counts, metrics["per_class_accuracy"])
    print(summary_table(metrics, data.class_names, data.train_counts))
    print(f"results in {out_dir}")
    return results


def run(cfg: RunConfig, out_dir: str | Path, epoch_callbacks=()) -> dict[str, Any]:
    """Train one model as configured and write its results under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    data = build_data(cfg.data, cfg.seed, device)
    write_json(out_dir / "data_summary.json", data.summary)
    sinks = make_sinks(cfg.logger.name, out_dir, cfg.logger.project, cfg.name, cfg.logger.mode,
                       dataclasses.asdict(cfg))
    try:
        trainer = make_trainer(cfg, data, out_dir, sinks, device, epoch_callbacks=epoch_callbacks)
        trainer.fit(resume=cfg.resume)
        results = write_results(out_dir, trainer, data, cfg,
                                {"wall_seconds": time.perf_counter() - start})
        sinks.log("summary", {"balanced_error": results["test"]["balanced_error"]}, trainer.step)
        return results
    finally:
        sinks.close()

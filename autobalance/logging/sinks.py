"""Where records go: JSONL files always, Weights & Biases or TensorBoard when asked.

A record is a flat-ish dict logged under a ``kind`` ("epoch", "hyperstep", "summary").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from autobalance.errors import InputError
from autobalance.legacy import record_phase
from autobalance.registry import Registry
from autobalance.reporting import finite


class Sink(Protocol):
    def log(self, kind: str, record: dict[str, Any], step: int) -> None: ...

    def close(self) -> None: ...


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Scalars and lists of scalars as ``prefix/key`` or ``prefix/key/i`` (for W&B, TensorBoard)."""
    flat: dict[str, float] = {}
    for key, value in record.items():
        name = f"{prefix}/{key}" if prefix else key
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int | float):
            flat[name] = float(value)
        elif isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                flat.update(flatten({str(i): v}, name))
    return flat


class JsonlSink:
    """One ``<kind>s.jsonl`` file per kind in the run directory, appended line by line.

    "summary" records are not written: ``metrics.json`` already holds the whole summary.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def path(self, kind: str) -> Path:
        return self.out_dir / f"{kind}s.jsonl"

    def log(self, kind: str, record: dict[str, Any], step: int) -> None:
        if kind == "summary":
            return
        with open(self.path(kind), "a") as f:
            f.write(json.dumps(finite({"step": step, **record})) + "\n")

    def rewrite(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Replace a kind's file (after resuming, to drop lines past the checkpoint)."""
        with open(self.path(kind), "w") as f:
            for r in records:
                f.write(json.dumps(finite(r)) + "\n")

    def replace_phase(self, kind: str, phase: str, records: list[dict[str, Any]]) -> None:
        """Replace one phase's lines of a kind's file, keeping the other phases' (after resuming
        the retrain, the search's epochs stay; after resuming fold 1's search, fold 0's hyper-steps)."""
        path = self.path(kind)
        lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        self.rewrite(kind, [r for r in lines if record_phase(r) != phase] + records)

    def drop_phase(self, phase: str) -> None:
        """Remove a phase's lines from every kind's file: the phase starts over (interrupted
        before its first checkpoint), so what it wrote before would be written twice."""
        for path in sorted(self.out_dir.glob("*s.jsonl")):
            self.replace_phase(path.name.removesuffix("s.jsonl"), phase, [])

    def close(self) -> None:
        pass


class WandbSink:
    """One W&B run per sink, always finished on close so multirun jobs never share a run."""

    def __init__(self, out_dir: Path, project: str, name: str, mode: str,
                 config: dict[str, Any]) -> None:
        import wandb

        self.run = wandb.init(project=project, name=name, dir=str(out_dir), mode=mode,
                              config=config, reinit="finish_previous")

    def log(self, kind: str, record: dict[str, Any], step: int) -> None:
        """Epochs under ``<phase>/epoch/...`` (search, retrain and each baseline apart, never one
        sawtooth), hyper-steps under ``hyperstep/...``; the summary goes to the run's summary."""
        if kind == "summary":
            self.run.summary.update(flatten(record))
            return
        prefix = f"{record['phase']}/{kind}" if "phase" in record and kind != "hyperstep" else kind
        self.run.log({**flatten(record, prefix), f"{prefix}/step": step})

    def close(self) -> None:
        self.run.finish()


class TensorBoardSink:
    def __init__(self, out_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def log(self, kind: str, record: dict[str, Any], step: int) -> None:
        for key, value in flatten(record, kind).items():
            self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class Sinks:
    """Fan-out to several sinks; the JSONL sink is always first."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    @property
    def jsonl(self) -> JsonlSink:
        return next(s for s in self.sinks if isinstance(s, JsonlSink))

    def log(self, kind: str, record: dict[str, Any], step: int) -> None:
        for s in self.sinks:
            s.log(kind, record, step)

    def resumed(self, kind: str, phase: str, records: list[dict[str, Any]]) -> None:
        """A phase resumed from its checkpoint: the run's record (the JSONL files) holds exactly the
        ``kind`` records the checkpoint kept; streaming loggers keep what they already showed."""
        self.jsonl.replace_phase(kind, phase, records)

    def restarted(self, phase: str) -> None:
        """A phase starts over (it stopped before its first checkpoint): its records are dropped."""
        self.jsonl.drop_phase(phase)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


LOGGERS: Registry[Callable[..., Sink | None]] = Registry("logger.name")
"""Loggers by name: ``builder(out_dir, project, run_name, mode, config)`` -> the sink beside the
JSONL files (always written), or None."""
LOGGERS.register("jsonl")(lambda out_dir, project, run_name, mode, config: None)
LOGGERS.register("wandb")(lambda out_dir, project, run_name, mode, config:
                          WandbSink(out_dir, project, run_name, mode, config))
LOGGERS.register("tensorboard")(lambda out_dir, project, run_name, mode, config: TensorBoardSink(out_dir))


def make_sinks(name: str, out_dir: Path, project: str = "autobalance", run_name: str = "run",
               mode: str = "offline", config: dict[str, Any] | None = None) -> Sinks:
    sinks: list[Sink] = [JsonlSink(out_dir)]
    try:
        extra = LOGGERS[name](out_dir, project, run_name, mode, config or {})
    except ModuleNotFoundError as err:
        raise InputError(f"logger={name} needs the {err.name} package: pip install 'autobalance[{name}]' "
                         "(or choose logger=jsonl)") from None
    return Sinks(sinks if extra is None else [*sinks, extra])

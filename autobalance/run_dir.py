"""A run directory holds one run: a new run refuses a directory that holds another's outputs,
and ``resume=true`` refuses a configuration that differs from the one the run was made with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from autobalance.config import ConfigError, RunConfig
from autobalance.distributed import Ranks
from autobalance.legacy import recorded_settings

OUTPUTS = ("metrics.json", "epochs.jsonl", "hypersteps.jsonl", "checkpoints", "learned_loss.yaml")
CODE_VERSIONS = "code_versions.json"
FREE_ON_RESUME = ("resume", "device", "logger", "name", "eval_every", "eval_test_per_epoch")
"""Keys that may change between a run and its resumption: they do not change what is computed."""


def flat_settings(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"section.key": value}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(flat_settings(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(saved: dict[str, Any], cfg: RunConfig) -> list[str]:
    """``key=saved (now new)`` for every setting that differs, apart from :data:`FREE_ON_RESUME`."""
    old, new = recorded_settings(flat_settings(saved)), flat_settings(dataclasses.asdict(cfg))
    return [f"{k}={old.get(k)!r} (now {new.get(k)!r})" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k) and k.split(".")[0] not in FREE_ON_RESUME]


def prepare_run_dir(out_dir: Path, cfg: RunConfig) -> None:
    """Check ``out_dir`` against ``cfg`` and record the validated config as ``config.yaml``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    present = [name for name in OUTPUTS if (out_dir / name).exists()]
    saved_path = out_dir / "config.yaml"
    if not cfg.resume and present:
        raise ConfigError(f"{out_dir} already holds a run ({', '.join(present)}); pass resume=true to continue "
                          "it, or choose another output directory (hydra.run.dir=...)")
    if cfg.resume and present and saved_path.exists():
        differences = config_differences(yaml.safe_load(saved_path.read_text()) or {}, cfg)
        if differences:
            raise ConfigError(f"resume=true, but the run in {out_dir} was made with other settings: "
                              f"{'; '.join(differences)}; resume with its settings or start a new directory")
    saved_path.write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))


LOCK = "run.lock"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def lock_run_dir(out_dir: Path) -> Path:
    """Claim ``out_dir`` for this process: ``run.lock`` holds its process id and host. A second run
    into the same directory stops at once naming the first; a lock whose process has ended (a run
    killed without cleaning up) is taken over, and said. Returns the lock's path (release it with
    :func:`unlock_run_dir`)."""
    path = Path(out_dir) / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                holder = {}
            pid, host = holder.get("pid"), holder.get("host")
            if host not in (None, me["host"]):
                raise ConfigError(f"{out_dir} is in use by process {pid} on {host} ({path}); if that run has ended, "
                                  "delete the lock, or choose another output directory (hydra.run.dir=...)") from None
            if isinstance(pid, int) and pid != me["pid"] and _process_alive(pid):
                raise ConfigError(f"{out_dir} is in use by process {pid}, a run still going ({path}); wait for it, or "
                                  "choose another output directory (hydra.run.dir=...)") from None
            print(f"{out_dir}: taking over the lock of process {pid}, which has ended", flush=True)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return path


def unlock_run_dir(path: Path) -> None:
    """Release a lock :func:`lock_run_dir` took (this process's only)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, json.JSONDecodeError):
        pass


def record_code_version(out_dir: Path, version: str, resume: bool) -> list[str]:
    """The code versions a run has run under, oldest first (``code_versions.json``): ``version``
    starts a new run's list and joins a resumed run's when it differs from the last one, so a
    run finished under one commit and resumed under another says so. A run resumed from before
    this file existed starts from the version its ``metrics.json`` names, if it has one."""
    path, metrics = out_dir / CODE_VERSIONS, out_dir / "metrics.json"
    versions: list[str] = []
    if resume and path.exists():
        versions = json.loads(path.read_text())
    elif resume and metrics.exists():
        versions = [v for v in [json.loads(metrics.read_text()).get("code_version")] if v]
    if not versions or versions[-1] != version:
        versions.append(version)
    path.write_text(json.dumps(versions) + "\n")
    return versions


def code_provenance(out_dir: Path) -> dict[str, Any]:
    """``code_version`` (the code that started the run in ``out_dir``) and, when a resume ran
    other code, ``resumed_with`` (:func:`record_code_version` wrote them)."""
    first, *later = json.loads((out_dir / CODE_VERSIONS).read_text())
    return {"code_version": first, **({"resumed_with": later} if later else {})}


def job_dirname(number: int, overrides: str, max_length: int = 120) -> str:
    """A multirun job's directory name: its number and overrides, flat (a path-valued override
    such as ``data.path=/a/b.npz`` would nest directories) and, when long, shortened with a hash
    of the whole; Hydra keeps the overrides in full in ``.hydra/overrides.yaml``."""
    flat = re.sub(r"[^A-Za-z0-9=,._+\-\[\]]", "_", overrides)
    if len(flat) > max_length:
        flat = flat[: max_length - 9] + "-" + hashlib.sha256(overrides.encode()).hexdigest()[:8]
    return f"{number}_{flat}" if flat else str(number)


_START: list[datetime] = []
START_ENV = "AUTOBALANCE_START_TIME"
"""The command's start time, ISO-formatted, for the processes it starts (a joblib sweep's workers)."""


def start_time(pattern: str) -> str:
    """The command's start time, formatted (``${start_time:...}`` in the run and sweep directories'
    names): the same in every process of one command, so that every rank of a torchrun job and
    every worker of a joblib sweep names the directory the command printed."""
    if not _START:
        inherited = os.environ.get(START_ENV)  # set by the command (autobalance.train.main)
        _START.append(datetime.fromisoformat(inherited) if inherited else datetime.now())
    return _START[0].strftime(pattern)


def mark_start_time() -> None:
    """Fix the command's start time for this process and the processes it starts."""
    _START[:] = [datetime.now()]
    os.environ[START_ENV] = _START[0].isoformat()


def agree_on_start_time(ranks: Ranks) -> None:
    """Take rank 0's clock as the job's start time, on every rank."""
    _START[:] = [ranks.broadcast_object(datetime.now())]
    os.environ[START_ENV] = _START[0].isoformat()

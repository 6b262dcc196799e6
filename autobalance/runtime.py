"""Device selection, seeding and code-version stamping."""

from __future__ import annotations

import functools
import random
import subprocess
from pathlib import Path

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda but no CUDA device is visible; use device=auto or cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@functools.cache
def code_version() -> str:
    """Git commit of the package source (with ``-dirty``), or the package version.

    Read once per process (the first run calls it before training), so every job of a
    multirun is stamped with the code it imported, even if the checkout changes meanwhile."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "autobalance", "configs"], capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"autobalance-{version('autobalance')}"

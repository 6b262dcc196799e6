"""Checkpoints that survive a kill at any moment and load with ``torch.load(weights_only=True)``.

A new checkpoint is written beside the old one, read back, and only then takes its name; the
one it replaces is kept as ``<name>.prev``. A resume over a damaged checkpoint (a disk that
filled, a copy cut short) falls back to the previous one and says so; with none, it stops with
one line naming the file. Nothing already trained is lost beyond the epoch being written.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, with no previous one to fall back to."""


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a temporary file, check that it reads back, keep the old checkpoint as ``.prev``,
    then rename the new one into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    torch.load(tmp, map_location="cpu", weights_only=True)
    if path.exists():
        os.replace(path, previous_path(path))
    os.replace(tmp, path)


def _read(path: Path, device: torch.device | str) -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=True)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path``, else (missing or damaged) the previous one, with a warning."""
    prev = previous_path(path)
    try:
        return _read(path, device)
    except Exception as err:  # torch.load raises RuntimeError, EOFError, pickle and zip errors alike
        if not path.exists() and not prev.exists():
            raise
        reason = "is missing" if not path.exists() else f"cannot be read ({type(err).__name__}: {err})"
        if not prev.exists():
            raise CheckpointError(f"checkpoint {path} {reason} and no previous checkpoint is kept; move it "
                                  "away to start this phase over") from None
        try:
            state = _read(prev, device)
        except Exception as prev_err:
            raise CheckpointError(f"checkpoint {path} {reason}, and the previous one, {prev}, cannot be read "
                                  f"either ({type(prev_err).__name__}); move both away to start this phase "
                                  "over") from None
    warnings.warn(f"checkpoint {path} {reason}; resuming from the previous one, {prev} (after epoch "
                  f"{state.get('epoch', '?')}), so that epoch is trained again", RuntimeWarning, stacklevel=2)
    return state


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])

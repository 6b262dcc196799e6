"""Files that appear whole or not at all, even when several processes write them at once.

Caches and downloads are shared by every run on a machine: a Hydra multirun, or two studies
started together, decode the same archive side by side. Each writer gets a temporary file of its
own beside the destination and renames it into place (atomic on one file system), so no reader
sees a half-written file and no writer removes another's.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A private temporary path beside ``dest`` (same suffix) to write to; renamed onto ``dest``
    when the block ends, removed if it raises."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}.", suffix=f".part{dest.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def save_npz(dest: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` of ``arrays`` to ``dest``, atomically."""
    with atomic_path(dest) as tmp:
        np.savez(tmp, **arrays)

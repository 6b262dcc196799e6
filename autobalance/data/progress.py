"""The progress line of long data work (decoding an image archive or folder once), shown as
``logger.progress`` says and, like the training bars, only on a terminal (a log file gets none)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
_SHOWN: ContextVar[bool] = ContextVar("data_progress_shown", default=True)


@contextmanager
def data_progress(shown: bool) -> Iterator[None]:
    """Within the block, data sources show their decoding progress only if ``shown``."""
    token = _SHOWN.set(shown)
    try:
        yield
    finally:
        _SHOWN.reset(token)


def decoding(items: Iterable[T], what: str) -> Iterable[T]:
    """``items`` with a "decoding WHAT (once; cached after)" progress line."""
    return tqdm(items, desc=f"decoding {what} (once; cached after)", unit=" images", mininterval=2.0,
                leave=False, disable=None if _SHOWN.get() else True)

"""Errors raised before training starts when data cannot be found, read or used."""

from __future__ import annotations

from pathlib import Path

from autobalance.errors import InputError


class DataError(InputError):
    """The data was found but cannot be used as it is: the message names the file (and line,
    image or class) and what was expected."""


class DataNotFoundError(FileNotFoundError):
    """Names every place that was searched and where the data can be had."""

    def __init__(self, dataset: str, searched: list[Path | str], provider: str) -> None:
        places = "; ".join(str(p) for p in searched) or "(no path configured)"
        super().__init__(f"{dataset} not found. Looked in: {places}. Get it from: {provider}")

"""CSV files as ordinary tools write them: compressed (gzip, bz2, xz, a one-member zip), in UTF-8
(with or without a byte-order mark) or a Windows or Latin-1 code page (or ``data.encoding``), with
commas, semicolons, tabs or bars between values, with pandas' index column, with missing cells and
with categorical columns; and the same tables as a spreadsheet (``.xlsx``, ``.xls``, ``.ods``: its
first sheet) or Parquet (``.parquet``), read by pandas (``pip install "autobalance[tables]"`` adds
the readers pandas needs) into the same rows of cells.

A feature column whose every value is a word is categorical: :class:`FeatureEncoder` one-hot
encodes it with scikit-learn's ``OneHotEncoder``, fitted on the training file and applied to the
test and validation files (a category the training file lacks is encoded as all zeros, or refused
with ``data.unknown_category=error``). A column of numbers with a stray word is refused naming the
cell. Missing cells (empty, NA, NaN, null, ?) are refused naming the row and column, or with
``data.missing=drop`` their rows are dropped, or with ``data.missing=mean`` they take the training
file's column mean (a categorical column: its most frequent category).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.preprocessing import OneHotEncoder

from autobalance.data.errors import DataError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
FLOAT32_MAX = float(np.finfo(np.float32).max)
FALLBACK_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def _raw_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed by its suffix."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".gz":
            return gzip.decompress(path.read_bytes())
        if suffix == ".bz2":
            return bz2.decompress(path.read_bytes())
        if suffix in (".xz", ".lzma"):
            return lzma.decompress(path.read_bytes())
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if not m.endswith("/") and not m.startswith("__MACOSX")]
                if len(members) != 1:
                    raise DataError(f"{path}: a zip of {len(members)} files; expected one CSV file inside")
                return archive.read(members[0])
        return path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot decompress it as {suffix} ({e})") from None


def read_text(path: Path, encoding: str | None) -> str:
    """The file as text: in ``encoding`` if given, else the first of UTF-8, Windows-1252 and
    Latin-1 that decodes it."""
    raw = _raw_bytes(path)
    for name in (encoding,) if encoding else FALLBACK_ENCODINGS:
        try:
            return raw.decode(name)
        except UnicodeDecodeError as e:
            if encoding:
                raise DataError(f"{path}: not {encoding} text (byte {e.start}: {raw[e.start:e.start + 1]!r}); set "
                                "data.encoding to the file's encoding") from None
        except LookupError:
            raise DataError(f"data.encoding={encoding!r}: not an encoding Python knows") from None
    raise AssertionError("latin-1 decodes every byte")


def csv_rows(path: Path, encoding: str | None = None) -> tuple[list[str], list[list[str]]]:
    """The header's column names and the data rows (the delimiter sniffed), refusing an empty
    file, a header without rows and rows of the wrong length (by line); pandas' index column
    (an unnamed first column) is dropped."""
    text = read_text(path, encoding)
    sample = text[:65536]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    if not rows:
        raise DataError(f"{path} is empty; expected a header row naming the columns, then one row per example")
    names = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        raise DataError(f"{path}: a header ({', '.join(names)}) and no rows; expected one row per example")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise DataError(f"{path}, line {line}: {len(row)} values but the header names {len(names)} columns")
    body = [[cell.strip() for cell in row] for row in rows[1:]]
    if names[0] in ("", "Unnamed: 0"):  # pandas' DataFrame.to_csv index
        names, body = names[1:], [row[1:] for row in body]
    return names, body


SPREADSHEETS = (".xlsx", ".xls", ".ods")
PARQUET = (".parquet", ".pq")


def table_rows(path: Path, encoding: str | None = None) -> tuple[list[str], list[list[str]]]:
    """A table's column names and rows of cells (strings, ``""`` where a cell is missing): a
    spreadsheet's first sheet or a Parquet file through pandas, any other file as CSV."""
    suffix = path.suffix.lower()
    if suffix not in SPREADSHEETS + PARQUET:
        return csv_rows(path, encoding)
    try:
        import pandas as pd

        frame = pd.read_parquet(path) if suffix in PARQUET else pd.read_excel(path, sheet_name=0)
    except ImportError as e:
        raise DataError(f"{path}: reading {suffix} files needs pandas and its reader ({e}); "
                        'pip install "autobalance[tables]"') from None
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: cannot read it as {suffix} ({type(e).__name__}: {e})") from None
    names = [str(c).strip() for c in frame.columns]
    if not len(frame):
        raise DataError(f"{path}: a header ({', '.join(names)}) and no rows; expected one row per example")
    rows = [["" if pd.isna(v) else str(v).strip() for v in row] for row in frame.itertuples(index=False)]
    if names[0] in ("", "Unnamed: 0"):  # pandas' DataFrame.to_excel index
        names, rows = names[1:], [row[1:] for row in rows]
    return names, rows


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


@dataclass
class FeatureEncoder:
    """Feature columns to a float matrix, fitted on the training file (:meth:`fit`) and applied
    to every file (:meth:`transform`)."""

    missing: str = "error"
    unknown: str = "ignore"
    columns: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)
    onehot: OneHotEncoder | None = None

    def fit(self, path: Path, names: list[str], rows: list[list[str]], columns: list[str]) -> FeatureEncoder:
        self.columns = list(columns)
        cells = {c: [row[names.index(c)] for row in rows] for c in columns}
        present = {c: [v for v in values if v.lower() not in MISSING] for c, values in cells.items()}
        self.categorical = [c for c in columns if present[c] and not any(_is_number(v) for v in present[c])]
        for c in columns:
            if c in self.categorical:
                continue
            words = [(i, v) for i, v in enumerate(cells[c]) if v.lower() not in MISSING and not _is_number(v)]
            if words:
                i, v = words[0]
                raise DataError(f"{path}, line {i + 2}, column {c!r}: {v!r} is not a number (the column's other "
                                "values are; a column of words only is encoded as categories)")
            numbers = [float(v) for v in present[c]]
            self.means[c] = float(np.mean(numbers)) if numbers else 0.0
        if self.categorical:
            frequent = {c: max(set(present[c]), key=present[c].count) for c in self.categorical if present[c]}
            self.means.update({c: frequent.get(c, "") for c in self.categorical})
            table = np.array([[row[names.index(c)] for c in self.categorical] for row in rows
                              if all(row[names.index(c)].lower() not in MISSING for c in self.categorical)],
                             dtype=object)
            self.onehot = OneHotEncoder(handle_unknown="ignore" if self.unknown == "ignore" else "error",
                                        sparse_output=False, dtype=np.float64).fit(table)
        return self

    def transform(self, path: Path, names: list[str], rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The features of ``rows`` (float64) and which rows are kept (all, unless ``missing=drop``)."""
        index = [names.index(c) for c in self.columns]
        missing = np.array([[row[i].lower() in MISSING for i in index] for row in rows]).reshape(len(rows), -1)
        if missing.any() and self.missing == "error":
            r, c = map(int, np.argwhere(missing)[0])
            raise DataError(f"{path}, line {r + 2}, column {self.columns[c]!r}: a missing value ({int(missing.sum())} "
                            "cells in all); drop those rows (data.missing=drop) or fill them with the training "
                            "file's column means (data.missing=mean)")
        keep = ~missing.any(axis=1) if self.missing == "drop" else np.ones(len(rows), dtype=bool)
        kept = [row for row, k in zip(rows, keep, strict=True) if k]
        numeric = [c for c in self.columns if c not in self.categorical]

        def cell(row: list[str], c: str):
            value = row[names.index(c)]
            return self.means[c] if value.lower() in MISSING else value

        parts = []
        for c in numeric:
            values = np.array([float(cell(row, c)) for row in kept], dtype=np.float64)
            for i, v in enumerate(values):
                if not np.isfinite(v) or abs(v) > FLOAT32_MAX:
                    raise DataError(f"{path}, line {int(np.flatnonzero(keep)[i]) + 2}, column {c!r}: {v:g} lies "
                                    "beyond float32's range (about 3.4e38) or is not finite; rescale the column")
            parts.append(values[:, None])
        if self.onehot is not None:
            table = np.array([[cell(row, c) for c in self.categorical] for row in kept], dtype=object)
            try:
                parts.append(self.onehot.transform(table.reshape(len(kept), -1)))
            except ValueError as e:
                raise DataError(f"{path}: {e} (data.unknown_category=ignore encodes a category the training file "
                                "lacks as all zeros)") from None
        x = np.concatenate(parts, axis=1) if parts else np.zeros((len(kept), 0))
        return x, keep

    def record(self) -> dict | None:
        """What ``data_summary.json`` keeps of the encoding: each categorical column's categories."""
        if self.onehot is None:
            return None
        return {"categorical_columns": {c: [str(v) for v in cats]
                                        for c, cats in zip(self.categorical, self.onehot.categories_, strict=True)},
                "missing": self.missing, "unknown_category": self.unknown}

"""A user's own data: ``.npz`` (keys ``x``, ``y``, optional ``group``) or CSV.

The test split comes from a second file or, failing that, a seeded class-stratified fraction.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.errors import DataNotFoundError


def _require(path: str | None, kind: str) -> Path:
    if not path:
        raise DataNotFoundError(kind, [], f"your own file: set data.path=FILE.{kind}")
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataNotFoundError(kind, [p], f"your own file: set data.path=FILE.{kind}")
    return p


def _integer_labels(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Labels as int64, refusing fractions and negatives by file, key and first offending row."""
    values = np.asarray(values)
    if values.dtype.kind not in "iub":
        if values.dtype.kind != "f":
            raise ValueError(f"{path}: {what} has dtype {values.dtype}; expected integer labels")
        fractional = np.flatnonzero(values != np.round(values))
        if len(fractional):
            i = fractional[0]
            raise ValueError(f"{path}: {what} holds non-integer labels ({len(fractional)} of them, the first "
                             f"{float(values[i]):g} at row {i}); expected integers 0..K-1")
    labels = values.astype(np.int64)
    if len(labels) and labels.min() < 0:
        i = int(np.argmin(labels))
        raise ValueError(f"{path}: {what} holds negative labels (the first {labels[i]} at row {i}); "
                         "expected integers 0..K-1")
    return labels


def _checked(x: np.ndarray, y: np.ndarray, group: np.ndarray | None, path: Path, label: str,
             group_name: str) -> ArraySplit:
    """An :class:`ArraySplit` after checks that name the file: lengths, labels, finite features."""
    if len(x) != len(y):
        raise ValueError(f"{path}: the features have {len(x)} rows but {label} has {len(y)}")
    if group is not None and len(group) != len(y):
        raise ValueError(f"{path}: {group_name} has {len(group)} rows but {label} has {len(y)}")
    if x.dtype != np.uint8:
        bad = ~np.isfinite(x.reshape(len(x), -1))
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise ValueError(f"{path}: the features hold {int(bad.sum())} NaN or infinite values (the first in "
                             f"row {row}); remove or impute them")
    y = _integer_labels(y, path, label)
    group = None if group is None else _integer_labels(group, path, group_name)
    return ArraySplit(x, y, group)


def read_npz(path: Path) -> ArraySplit:
    with np.load(path, allow_pickle=False) as z:
        missing = {"x", "y"} - set(z.files)
        if missing:
            raise ValueError(f"{path} lacks keys {sorted(missing)}; expected x, y and optional group")
        x = z["x"]
        x = x if x.dtype == np.uint8 else x.astype(np.float32)
        group = z["group"] if "group" in z.files else None
        return _checked(x, z["y"], group, path, "key y", "key group")


def read_csv(path: Path, label_column: str, group_column: str | None) -> ArraySplit:
    header = path.read_text().splitlines()[0].split(",")
    names = [h.strip() for h in header]
    if label_column not in names:
        raise ValueError(f"{path}: label column {label_column!r} not in columns {names}")
    if group_column is not None and group_column not in names:
        raise ValueError(f"{path}: group column {group_column!r} not in columns {names}")
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except ValueError:
        raise ValueError(_first_bad_csv_cell(path, names)) from None
    label_i = names.index(label_column)
    group_i = names.index(group_column) if group_column else None
    features = [i for i in range(len(names)) if i not in (label_i, group_i)]
    group = table[:, group_i] if group_i is not None else None
    return _checked(table[:, features].astype(np.float32), table[:, label_i], group, path,
                    f"column {label_column!r}", f"column {group_column!r}")


def _first_bad_csv_cell(path: Path, names: list[str]) -> str:
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            if line == 1:
                continue
            if len(row) != len(names):
                return f"{path}, line {line}: {len(row)} values but the header names {len(names)} columns"
            for name, cell in zip(names, row, strict=True):
                try:
                    float(cell)
                except ValueError:
                    return f"{path}, line {line}, column {name!r}: {cell!r} is not a number"
    return f"{path}: not a numeric CSV table"


def stratified_holdout(split: ArraySplit, fraction: float, seed: int) -> tuple[ArraySplit, ArraySplit]:
    """Hold out ``fraction`` of each class, keeping at least one training example per class."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.test_fraction={fraction} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(split.y):
        idx = rng.permutation(np.flatnonzero(split.y == c))
        test.append(idx[: min(round(fraction * len(idx)), len(idx) - 1)])
    is_test = np.zeros(len(split), dtype=bool)
    is_test[np.concatenate(test)] = True
    return split.take(np.flatnonzero(~is_test)), split.take(np.flatnonzero(is_test))


def load_user_file(
    kind: str,
    path: str | None,
    test_path: str | None,
    test_fraction: float,
    class_names: list[str] | None,
    num_classes: int | None,
    label_column: str = "label",
    group_column: str | None = None,
    seed: int = 0,
) -> RawDataset:
    def read(p: Path) -> ArraySplit:
        return read_npz(p) if kind == "npz" else read_csv(p, label_column, group_column)

    train = read(_require(path, kind))
    if test_path:
        test = read(_require(test_path, kind))
    else:
        train, test = stratified_holdout(train, test_fraction, seed)
    k = num_classes or (len(class_names) if class_names else int(train.y.max()) + 1)
    names = list(class_names) if class_names else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"data.class_names has {len(names)} names but data.num_classes={k}")
    kind_of_x = "image" if train.x.dtype == np.uint8 and train.x.ndim == 4 else "vector"
    raw = RawDataset(Path(path).stem, train, test, names, kind_of_x)
    raw.check_labels(k)
    return raw

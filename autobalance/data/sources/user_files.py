"""A user's own data: ``.npz`` (keys ``x``, ``y``, optional ``attribute``; ``group``, its earlier
name, is read too) or CSV (``data.attribute_column``).

The test split comes from a second file or, failing that, a seeded class-stratified fraction.
Labels may be integers or names (strings): names become classes in sorted order, and integer
labels that are not 0..K-1 (say {0, 2, 5}) are renumbered in sorted order, unless
``data.num_classes`` keeps their values (and so the empty classes) on purpose. The mapping is
recorded (:attr:`RawDataset.label_map`) and applied to the test file too, where a label the
training file lacks is refused by name. Every problem is one error naming the file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.errors import DataError, DataNotFoundError


@dataclass
class UserTable:
    """One file as read: features, labels as written (numbers or names), attribute values, and
    what its features are (CSV column names, or the shape of one ``.npz`` row)."""

    path: Path
    x: np.ndarray
    labels: np.ndarray
    attribute: np.ndarray | None
    features: tuple


def _require(path: str | None, kind: str) -> Path:
    if not path:
        raise DataNotFoundError(kind, [], f"your own file: set data.path=FILE.{kind}")
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataNotFoundError(kind, [p], f"your own file: set data.path=FILE.{kind}")
    return p


def _integer_values(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Numeric labels or attributes as int64, refusing fractions and negatives by file, key and row."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        fractional = np.flatnonzero(values != np.round(values))
        if len(fractional):
            i = fractional[0]
            raise DataError(f"{path}: {what} holds non-integer labels ({len(fractional)} of them, the first "
                            f"{float(values[i]):g} at row {i}); expected integers 0..K-1 or class names")
    elif values.dtype.kind not in "iub":
        raise DataError(f"{path}: {what} has dtype {values.dtype}; expected integer labels or class names")
    labels = values.astype(np.int64)
    if len(labels) and labels.min() < 0:
        i = int(np.argmin(labels))
        raise DataError(f"{path}: {what} holds negative labels (the first {labels[i]} at row {i}); "
                        "expected integers 0..K-1 or class names")
    return labels


def _labels(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Labels as written: int64 class numbers, or strings (class names)."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype.kind in "US" else _integer_values(values, path, what)


def _checked(table: UserTable, label: str, attribute_name: str) -> UserTable:
    """The table after checks that name the file: lengths, labels, finite features."""
    x, path = table.x, table.path
    if len(x) != len(table.labels):
        raise DataError(f"{path}: the features have {len(x)} rows but {label} has {len(table.labels)}")
    if len(x) == 0:
        raise DataError(f"{path}: no rows; expected at least one example per class")
    if table.attribute is not None and len(table.attribute) != len(table.labels):
        raise DataError(f"{path}: {attribute_name} has {len(table.attribute)} rows but {label} has {len(table.labels)}")
    if x.dtype != np.uint8:
        bad = ~np.isfinite(x.reshape(len(x), -1))
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise DataError(f"{path}: the features hold {int(bad.sum())} NaN or infinite values (the first in "
                            f"row {row}); remove or impute them")
    attribute = None if table.attribute is None else _integer_values(table.attribute, path, attribute_name)
    return UserTable(path, x, _labels(table.labels, path, label), attribute, table.features)


def read_npz(path: Path) -> UserTable:
    with np.load(path, allow_pickle=False) as z:
        missing = {"x", "y"} - set(z.files)
        if missing:
            raise DataError(f"{path} lacks keys {sorted(missing)}; expected x, y and optional attribute")
        if {"attribute", "group"} <= set(z.files):
            raise DataError(f"{path} has both an attribute and a group key (the same thing under its old name); "
                            "keep one")
        x = z["x"]
        x = x if x.dtype == np.uint8 else x.astype(np.float32)
        key = next((k for k in ("attribute", "group") if k in z.files), None)
        attribute = None if key is None else z[key]
        return _checked(UserTable(path, x, z["y"], attribute, tuple(x.shape[1:])), "key y", f"key {key}")


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header's column names and the data rows, refusing an empty file, a header without
    rows and rows of the wrong length (by line)."""
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    if not rows:
        raise DataError(f"{path} is empty; expected a header row naming the columns, then one row per example")
    names = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        raise DataError(f"{path}: a header ({', '.join(names)}) and no rows; expected one row per example")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise DataError(f"{path}, line {line}: {len(row)} values but the header names {len(names)} columns")
    return names, rows[1:]


def _numbers(rows: list[list[str]], columns: list[int], names: list[str], path: Path) -> np.ndarray:
    try:
        return np.array([[float(row[i]) for i in columns] for row in rows], dtype=np.float64).reshape(
            len(rows), len(columns))
    except ValueError:
        for line, row in enumerate(rows, start=2):
            for i in columns:
                try:
                    float(row[i])
                except ValueError:
                    raise DataError(f"{path}, line {line}, column {names[i]!r}: {row[i]!r} is not a number") from None
        raise


def read_csv(path: Path, label_column: str, attribute_column: str | None) -> UserTable:
    names, rows = _csv_rows(path)
    if label_column not in names:
        raise DataError(f"{path}: label column {label_column!r} not in columns {names}")
    if attribute_column is not None and attribute_column not in names:
        raise DataError(f"{path}: attribute column {attribute_column!r} not in columns {names}")
    label_i = names.index(label_column)
    attribute_i = names.index(attribute_column) if attribute_column else None
    features = [i for i in range(len(names)) if i not in (label_i, attribute_i)]
    cells = np.array([row[label_i].strip() for row in rows])
    empty = np.flatnonzero(cells == "")
    if len(empty):
        raise DataError(f"{path}, line {int(empty[0]) + 2}, column {label_column!r}: no label ({len(empty)} rows "
                        "have none); give every row its class")
    try:
        labels = cells.astype(np.float64)
    except ValueError:
        labels = cells  # class names
    attribute = _numbers(rows, [attribute_i], names, path)[:, 0] if attribute_i is not None else None
    x = _numbers(rows, features, names, path).astype(np.float32)
    return _checked(UserTable(path, x, labels, attribute, tuple(names[i] for i in features)),
                    f"column {label_column!r}", f"column {attribute_column!r}")


def stratified_holdout(split: ArraySplit, fraction: float, seed: int) -> tuple[ArraySplit, ArraySplit]:
    """Hold out ``fraction`` of each class, keeping at least one training example per class."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"data.test_fraction={fraction} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(split.y):
        idx = rng.permutation(np.flatnonzero(split.y == c))
        test.append(idx[: min(round(fraction * len(idx)), len(idx) - 1)])
    is_test = np.zeros(len(split), dtype=bool)
    is_test[np.concatenate(test)] = True
    return split.take(np.flatnonzero(~is_test)), split.take(np.flatnonzero(is_test))


def _sorted_values(labels: np.ndarray) -> list:
    values = np.unique(labels)
    return [str(v) for v in values] if labels.dtype.kind == "U" else [int(v) for v in values]


def label_mapping(table: UserTable, num_classes: int | None,
                  class_names: list[str] | None) -> tuple[dict, list[str]]:
    """{label as written: class index} and the class names, from the training file's labels.

    Names map in sorted order (or in ``class_names``' order, when given); integers keep their
    values when they are 0..K-1 or ``num_classes`` is set, else are renumbered in sorted order."""
    values = _sorted_values(table.labels)
    if len(values) < 2 and num_classes is None:
        raise DataError(f"{table.path}: every label is {values[0]!r}; expected at least two classes")
    if table.labels.dtype.kind == "U":
        names = list(class_names) if class_names else values
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise DataError(f"{table.path}: labels {unknown} are not among data.class_names {names}")
        return {name: i for i, name in enumerate(names)}, names
    if num_classes is not None or values == list(range(len(values))):
        k = num_classes or (len(class_names) if class_names else len(values))
        return {v: v for v in values}, list(class_names) if class_names else [str(c) for c in range(k)]
    return {v: i for i, v in enumerate(values)}, list(class_names) if class_names else [str(v) for v in values]


def encoded(table: UserTable, mapping: dict, train_path: Path) -> ArraySplit:
    """The table's labels as class indices; a label the training file lacks is refused by name."""
    unseen = sorted(set(_sorted_values(table.labels)) - set(mapping))
    if unseen:
        raise DataError(f"{table.path}: labels {unseen} do not occur in the training file {train_path} "
                        f"(its labels: {sorted(mapping)})")
    y = np.array([mapping[v] for v in (table.labels.tolist())], dtype=np.int64)
    return ArraySplit(table.x, y, table.attribute)


def load_user_file(
    kind: str,
    path: str | None,
    test_path: str | None,
    test_fraction: float,
    class_names: list[str] | None,
    num_classes: int | None,
    label_column: str = "label",
    attribute_column: str | None = None,
    seed: int = 0,
    val_path: str | None = None,
) -> RawDataset:
    """The training file, its test file (or a stratified holdout) and, with ``val_path``, a
    validation file of the user's own; every file after the first must match the first's
    features and attribute, and its labels must occur in it."""
    def read(p: Path) -> UserTable:
        return read_npz(p) if kind == "npz" else read_csv(p, label_column, attribute_column)

    train_table = read(_require(path, kind))
    others = [read(_require(p, kind)) if p else None for p in (test_path, val_path)]
    for other in others:
        if other is None:
            continue
        if other.features != train_table.features:
            what = "columns" if kind == "csv" else "rows of shape"
            raise DataError(f"{other.path}: {what} {list(other.features)} differ from the training "
                            f"file's {list(train_table.features)} ({train_table.path})")
        if (other.attribute is None) != (train_table.attribute is None):
            has = "has" if other.attribute is not None else "lacks"
            raise DataError(f"{other.path}: {has} the attribute "
                            f"{'column' if kind == 'csv' else 'key'} that the training file "
                            f"{'lacks' if other.attribute is not None else 'has'}")
    mapping, names = label_mapping(train_table, num_classes, class_names)
    k = num_classes or len(names)
    if len(names) != k:
        raise DataError(f"data.class_names has {len(names)} names but data.num_classes={k}")
    train = encoded(train_table, mapping, train_table.path)
    test_table, val_table = others
    if test_table is not None:
        test = encoded(test_table, mapping, train_table.path)
    else:
        train, test = stratified_holdout(train, test_fraction, seed)
    val = None if val_table is None else encoded(val_table, mapping, train_table.path)
    kind_of_x = "image" if train.x.dtype == np.uint8 and train.x.ndim == 4 else "vector"
    renamed = any(str(v) != str(i) for v, i in mapping.items())
    raw = RawDataset(Path(path).stem, train, test, names, kind_of_x, val=val,
                     label_map={str(v): i for v, i in mapping.items()} if renamed else None)
    raw.check_labels(k)
    return raw

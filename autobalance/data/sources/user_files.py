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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.errors import DataError, DataNotFoundError
from autobalance.data.sources.csv_table import FeatureEncoder, table_rows


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
    attribute = None if table.attribute is None else _labels(table.attribute, path, attribute_name)
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
        y = z["y"]
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise DataError(f"{path}: key y has shape {y.shape}; expected one label per row, shape (N,) or (N, 1)")
        key = next((k for k in ("attribute", "group") if k in z.files), None)
        attribute = None if key is None else z[key]
        if attribute is not None and attribute.ndim == 2 and attribute.shape[1] == 1:
            attribute = attribute[:, 0]
        return _checked(UserTable(path, x, y, attribute, tuple(x.shape[1:])), "key y", f"key {key}")


def read_csv(path: Path, label_column: str, attribute_column: str | None, encoder: FeatureEncoder,
             encoding: str | None = None) -> UserTable:
    """One CSV file through ``encoder`` (fitted on it first when it is the training file)."""
    names, rows = table_rows(path, encoding)
    if label_column not in names:
        raise DataError(f"{path}: label column {label_column!r} not in columns {names}")
    if attribute_column is not None and attribute_column not in names:
        raise DataError(f"{path}: attribute column {attribute_column!r} not in columns {names}")
    features = [n for n in names if n not in (label_column, attribute_column)]
    if not encoder.columns:
        encoder.fit(path, names, rows, features)
    elif set(features) != set(encoder.columns):
        raise DataError(f"{path}: columns {features} differ from the training file's {encoder.columns}")
    cells = np.array([row[names.index(label_column)] for row in rows])
    empty = np.flatnonzero(cells == "")
    if len(empty):
        raise DataError(f"{path}, line {int(empty[0]) + 2}, column {label_column!r}: no label ({len(empty)} rows "
                        "have none); give every row its class")
    x, keep = encoder.transform(path, names, rows)
    cells = cells[keep]
    try:
        labels = cells.astype(np.float64)
    except ValueError:
        labels = cells  # class names
    attribute = None
    if attribute_column is not None:
        values = np.array([row[names.index(attribute_column)] for row in rows])[keep]
        try:
            attribute = values.astype(np.float64)
        except ValueError:
            attribute = values  # attribute values by name
    return _checked(UserTable(path, x.astype(np.float32), labels, attribute, tuple(encoder.columns)),
                    f"column {label_column!r}", f"column {attribute_column!r}")


def _same_dtype(other: UserTable, train: UserTable) -> np.ndarray:
    """``other``'s features in the training file's dtype: float features of whole numbers in
    [0, 255] become uint8 images; any other mismatch is refused naming both files."""
    x = other.x
    if x.dtype == train.x.dtype:
        return x
    if train.x.dtype == np.uint8 and x.size and np.all((x >= 0) & (x <= 255) & (x == np.round(x))):
        return x.astype(np.uint8)
    if train.x.dtype != np.uint8 and x.dtype == np.uint8:
        return x.astype(train.x.dtype)
    raise DataError(f"{other.path}: features of dtype {x.dtype} where the training file {train.path} has "
                    f"{train.x.dtype} images (0..255); save both with one dtype")


def _attribute_mapping(train: UserTable) -> dict[str, int] | None:
    """{attribute value as written: index} for attribute values given as names (sorted), else None."""
    if train.attribute is None or train.attribute.dtype.kind != "U":
        return None
    return {value: i for i, value in enumerate(sorted(set(train.attribute.tolist())))}


def _attribute_indices(table: UserTable, mapping: dict[str, int] | None, train_path: Path) -> np.ndarray | None:
    """The table's attribute as int64 indices; a named value the training file lacks is refused."""
    if table.attribute is None:
        return None
    if mapping is None:
        if table.attribute.dtype.kind == "U":
            raise DataError(f"{table.path}: attribute values are names where the training file {train_path} has "
                            "numbers")
        return table.attribute
    unseen = sorted(set(table.attribute.astype(str).tolist()) - set(mapping))
    if unseen:
        raise DataError(f"{table.path}: attribute values {unseen} do not occur in the training file {train_path} "
                        f"(its values: {sorted(mapping)})")
    return np.array([mapping[v] for v in table.attribute.astype(str).tolist()], dtype=np.int64)


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


COMPRESSED = (".gz", ".bz2", ".xz", ".lzma", ".zip")
SPLIT_NAMES = frozenset({"train", "training", "trn", "train_data", "data"})


def dataset_name(path: Path) -> str:
    """What tables call the data set of ``path``: the file's name without its suffixes
    (``letter.csv.gz`` -> ``letter``), or its folder's name where the file is named after its split
    (``data/letter/train.csv`` -> ``letter``)."""
    name = path.name
    if path.suffix.lower() in COMPRESSED:
        name = Path(name).stem
    stem, folder = Path(name).stem, path.resolve().parent.name
    return folder if stem.lower() in SPLIT_NAMES and folder else stem


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
    encoding: str | None = None,
    missing: str = "error",
    unknown_category: str = "ignore",
) -> RawDataset:
    """The training file, its test file (or a stratified holdout) and, with ``val_path``, a
    validation file of the user's own; every file after the first must match the first's
    features, dtype and attribute, and its labels and attribute values must occur in it. CSV
    features go through one :class:`FeatureEncoder`, fitted on the training file."""
    encoder = FeatureEncoder(missing, unknown_category)

    def read(p: Path) -> UserTable:
        return read_npz(p) if kind == "npz" else read_csv(p, label_column, attribute_column, encoder, encoding)

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
        other.x = _same_dtype(other, train_table)
    attribute_map = _attribute_mapping(train_table)
    for table in (train_table, *[o for o in others if o is not None]):
        table.attribute = _attribute_indices(table, attribute_map, train_table.path)
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
    raw = RawDataset(dataset_name(Path(path)), train, test, names, kind_of_x, val=val,
                     label_map={str(v): i for v, i in mapping.items()} if renamed else None,
                     feature_encoding=encoder.record(), attribute_map=attribute_map)
    raw.check_labels(k)
    return raw

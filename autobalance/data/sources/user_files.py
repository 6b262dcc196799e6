"""A user's own data: ``.npz`` (keys ``x``, ``y``, optional ``group``) or CSV.

The test split comes from a second file or, failing that, a seeded class-stratified fraction.
"""

from __future__ import annotations

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


def read_npz(path: Path) -> ArraySplit:
    with np.load(path, allow_pickle=False) as z:
        missing = {"x", "y"} - set(z.files)
        if missing:
            raise ValueError(f"{path} lacks keys {sorted(missing)}; expected x, y and optional group")
        x = z["x"]
        group = z["group"] if "group" in z.files else None
        return ArraySplit(x if x.dtype == np.uint8 else x.astype(np.float32), z["y"], group)


def read_csv(path: Path, label_column: str, group_column: str | None) -> ArraySplit:
    header = path.read_text().splitlines()[0].split(",")
    names = [h.strip() for h in header]
    if label_column not in names:
        raise ValueError(f"{path}: label column {label_column!r} not in columns {names}")
    if group_column is not None and group_column not in names:
        raise ValueError(f"{path}: group column {group_column!r} not in columns {names}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    label_i = names.index(label_column)
    group_i = names.index(group_column) if group_column else None
    features = [i for i in range(len(names)) if i not in (label_i, group_i)]
    group = table[:, group_i].astype(np.int64) if group_i is not None else None
    return ArraySplit(table[:, features].astype(np.float32), table[:, label_i].astype(np.int64), group)


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

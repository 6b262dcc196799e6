"""In-memory dataset containers shared by every source."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autobalance.errors import InputError


@dataclass
class ArraySplit:
    """One split as arrays: ``x`` is uint8 NHWC images or float vectors/sequences."""

    x: np.ndarray
    y: np.ndarray
    attribute: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.int64)
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")
        if self.attribute is not None:
            self.attribute = np.asarray(self.attribute, dtype=np.int64)
            if len(self.attribute) != len(self.y):
                raise ValueError(f"attribute has {len(self.attribute)} rows but y has {len(self.y)}")

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> ArraySplit:
        attribute = None if self.attribute is None else self.attribute[idx]
        return ArraySplit(self.x[idx], self.y[idx], attribute)


@dataclass
class RawDataset:
    """What a source returns: full train and test splits before any long-tail subsampling, and
    the validation split when the source fixes one (drawn from another distribution than the
    training split, as in the spurious-correlation benchmarks)."""

    name: str
    train: ArraySplit
    test: ArraySplit
    class_names: list[str]
    kind: str  # "image" (uint8 NHWC) or "vector" (float, N x D or N x L)
    val: ArraySplit | None = None
    label_map: dict[str, int] | None = None
    """{label as the user's file writes it: class index}, when the two differ."""
    feature_encoding: dict | None = None
    """How a table's categorical columns were encoded (their categories), when it has any."""
    attribute_map: dict[str, int] | None = None
    """{attribute value as the user's file writes it: index}, when the values are names."""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def check_labels(self, num_classes: int | None) -> None:
        """Fail when labels fall outside the class range the config expects."""
        expected = self.num_classes if num_classes is None else num_classes
        for split_name, split in (("train", self.train), ("test", self.test)):
            if len(split) and (split.y.min() < 0 or split.y.max() >= expected):
                raise InputError(
                    f"data.num_classes={expected} but {self.name} {split_name} labels span "
                    f"{split.y.min()}..{split.y.max()}; labels must be integers in [0, {expected})"
                )

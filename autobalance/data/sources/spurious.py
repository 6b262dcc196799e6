"""Spurious-correlation benchmarks built by a seeded recipe from data this machine has.

Each has a binary label carried by a *core* image and an attribute carried by a *spurious*
feature. In training the attribute agrees with the label for a fraction ``correlation`` of
each label's examples (Waterbirds: 0.95); the validation and test splits are balanced over the
four groups (label, attribute), as Waterbirds' are. ``label_balance`` is the fraction of
training examples with label 0 (Waterbirds: 0.77 landbirds).

- ``spurious_fashion`` (Waterbirds-style): a Fashion-MNIST garment (label 0: tops, the
  t-shirt, pullover, coat and shirt classes; label 1: the other six) on a background of one of
  two colors with a faint noise texture (attribute 0: orange, 1: blue), 28 x 28 RGB.
- ``dominoes`` (Shah et al. 2020; Kirichenko et al. 2023): a CIFAR-10 image on top (label 0:
  automobile, 1: truck) stacked on a Fashion-MNIST image below (attribute 0: trouser,
  1: sneaker), 64 x 32 RGB.

Validation and training images come from disjoint parts of the source's training pool; test
images from its test pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.errors import InputError

TOPS = (0, 2, 4, 6)
BACKGROUNDS = np.array([[230, 140, 40], [40, 110, 230]], dtype=np.float64)  # orange, blue
CORE_CIFAR = (1, 9)  # automobile, truck
SPURIOUS_FASHION = (1, 7)  # trouser, sneaker


@dataclass(frozen=True)
class SpuriousSizes:
    train: int
    val: int
    test: int
    correlation: float
    label_balance: float


def group_layout(size: int, correlation: float | None, label_balance: float) -> np.ndarray:
    """(label, attribute) of each example: with ``correlation`` the training layout (attribute
    equal to the label for that fraction of each label), else balanced over the four groups."""
    if correlation is None:
        cells = [(y, a) for y in (0, 1) for a in (0, 1)]
        counts = [size // 4 + (i < size % 4) for i in range(4)]
    else:
        per_label = [round(size * label_balance), size - round(size * label_balance)]
        cells, counts = [], []
        for y, n in enumerate(per_label):
            agree = round(n * correlation)
            cells += [(y, y), (y, 1 - y)]
            counts += [agree, n - agree]
    return np.concatenate([np.tile(c, (n, 1)) for c, n in zip(cells, counts, strict=True)]).reshape(-1, 2)


def _draw(labels: np.ndarray, wanted: np.ndarray, rng: np.random.Generator, taken: np.ndarray) -> np.ndarray:
    """Indices into the pool with the ``wanted`` labels, never one in ``taken`` (marked as taken)."""
    out = np.empty(len(wanted), dtype=np.int64)
    for y in (0, 1):
        need = int((wanted == y).sum())
        free = np.flatnonzero((labels == y) & ~taken)
        if need > len(free):
            raise InputError(f"the recipe needs {need} more images of label {y} but the pool has {len(free)} left; "
                             "lower data.spurious sizes")
        pick = rng.choice(free, need, replace=False)
        taken[pick] = True
        out[wanted == y] = pick
    return out


def build_spurious(name: str, core_train: ArraySplit, core_test: ArraySplit, sizes: SpuriousSizes,
                   compose: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray],
                   class_names: list[str], seed: int) -> RawDataset:
    """Train, validation and test splits of (core image, attribute) composed by ``compose``;
    ``core_*`` labels are already binary."""
    rng = np.random.default_rng(seed)
    taken = np.zeros(len(core_train), dtype=bool)
    splits = {}
    for split, size, pool, correlation in (("train", sizes.train, core_train, sizes.correlation),
                                           ("val", sizes.val, core_train, None),
                                           ("test", sizes.test, core_test, None)):
        layout = group_layout(size, correlation, sizes.label_balance)
        idx = _draw(pool.y, layout[:, 0], rng, taken if pool is core_train else np.zeros(len(pool), dtype=bool))
        order = rng.permutation(len(idx))
        idx, attributes = idx[order], layout[order, 1]
        splits[split] = ArraySplit(compose(pool.x[idx], attributes, rng), pool.y[idx], attributes)
    return RawDataset(name, splits["train"], splits["test"], class_names, "image", val=splits["val"])


def on_background(garments: np.ndarray, attributes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grayscale garments (N, 28, 28, 1) over their attribute's background color, each pixel's
    color scaled by a faint texture: ink * white + (1 - ink) * color."""
    ink = garments.astype(np.float64) / 255.0
    texture = 0.85 + 0.15 * rng.random((len(garments), 28, 28, 1))
    background = BACKGROUNDS[attributes][:, None, None, :] * texture
    return np.clip(ink * 255.0 + (1 - ink) * background, 0, 255).astype(np.uint8)


def stacked_on(fashion: ArraySplit) -> Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]:
    """CIFAR images (N, 32, 32, 3) over a random Fashion-MNIST image of the attribute's class
    (padded to 32 x 32, gray to RGB): (N, 64, 32, 3)."""
    def compose(core: np.ndarray, attributes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lower = np.empty((len(core), 32, 32, 3), dtype=np.uint8)
        for a, fashion_class in enumerate(SPURIOUS_FASHION):
            rows = np.flatnonzero(attributes == a)
            pick = rng.choice(np.flatnonzero(fashion.y == fashion_class), len(rows))
            lower[rows] = np.pad(fashion.x[pick], ((0, 0), (2, 2), (2, 2), (0, 0))).repeat(3, axis=3)
        return np.concatenate([core, lower], axis=1)
    return compose


def binary(split: ArraySplit, label_zero: tuple[int, ...], label_one: tuple[int, ...] | None = None) -> ArraySplit:
    """The split's images of ``label_zero`` (label 0) and ``label_one`` (label 1; default: all other classes)."""
    zero = np.isin(split.y, label_zero)
    one = np.isin(split.y, label_one) if label_one is not None else ~zero
    keep = zero | one
    return ArraySplit(split.x[keep], one[keep].astype(np.int64))

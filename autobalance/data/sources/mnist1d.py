"""MNIST-1D (Greydanus 2020), generated locally from the ``mnist1d`` package's templates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autobalance.data.atomic import save_npz
from autobalance.data.dataset import ArraySplit, RawDataset


def load_mnist1d(num_samples: int = 15000, test_per_class: int = 300, seed: int = 0,
                 cache_dir: Path | None = None) -> RawDataset:
    """Generate ``num_samples`` sequences of length 40 and hold out a balanced test set.

    The generator's own seed is fixed by ``seed``; the test set takes ``test_per_class``
    examples of each class, the rest form the (balanced) training pool. With ``cache_dir``
    the arrays are kept there, since generation takes seconds.
    """
    cache = None if cache_dir is None else (
        Path(cache_dir) / f"mnist1d-{num_samples}-{test_per_class}-{seed}.npz")
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return _as_dataset(z["x_train"], z["y_train"], z["x_test"], z["y_test"])
    raw = _generate(num_samples, test_per_class, seed)
    if cache is not None:
        save_npz(cache, x_train=raw.train.x, y_train=raw.train.y, x_test=raw.test.x, y_test=raw.test.y)
    return raw


def _as_dataset(x_train, y_train, x_test, y_test) -> RawDataset:
    return RawDataset("mnist1d", ArraySplit(x_train, y_train), ArraySplit(x_test, y_test),
                      [str(c) for c in range(10)], "vector")


def _generate(num_samples: int, test_per_class: int, seed: int) -> RawDataset:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = num_samples, seed, 1.0
    data = make_dataset(args)
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    rng = np.random.default_rng(seed)
    test_idx = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:test_per_class] for c in range(10)]
    )
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    return _as_dataset(x[~is_test], y[~is_test], x[is_test], y[is_test])

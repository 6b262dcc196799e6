"""MNIST-1D (Greydanus 2020), generated locally from the ``mnist1d`` package's templates."""

from __future__ import annotations

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset


def load_mnist1d(num_samples: int = 15000, test_per_class: int = 300, seed: int = 0) -> RawDataset:
    """Generate ``num_samples`` sequences of length 40 and hold out a balanced test set.

    The generator's own seed is fixed by ``seed``; the test set takes ``test_per_class``
    examples of each class, the rest form the (balanced) training pool.
    """
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
    return RawDataset(
        "mnist1d",
        ArraySplit(x[~is_test], y[~is_test]),
        ArraySplit(x[is_test], y[is_test]),
        [str(c) for c in range(10)],
        "vector",
    )

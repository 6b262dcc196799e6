"""Shared fixtures: a tiny MNIST-1D-LT run that trains in seconds, and small stand-ins for the
data sets a user installs (Fashion-MNIST's IDX files, CIFAR's archive layout)."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from autobalance.config import (
    DataConfig,
    HypergradConfig,
    LoggerConfig,
    OptimConfig,
    RunConfig,
    SearchConfig,
)
from autobalance.models import model_config


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


def make_tiny_config(cache_dir: str) -> RunConfig:
    """MNIST-1D with 250 sequences per class before long-tailing (rho = 10), 2 epochs."""
    return RunConfig(
        seed=0,
        device="cpu",
        data=DataConfig(name="mnist1d", num_samples=3000, test_per_class=50, n_max=250, rho=10,
                        split="stratified", augment="shift_noise", batch_size=64,
                        cache_dir=cache_dir),
        model=model_config("cnn1d", width=8),
        optim=OptimConfig(lr=0.05, epochs=2, lr_schedule="cosine"),
        logger=LoggerConfig(progress=False),
    )


@pytest.fixture
def tiny_config(cache_dir) -> RunConfig:
    return make_tiny_config(cache_dir)


@pytest.fixture
def search_config_factory(cache_dir):
    """Tiny search + retrain runs: 4 training epochs, a 2-epoch identity-method search."""

    def factory() -> RunConfig:
        cfg = make_tiny_config(cache_dir)
        cfg.optim.epochs = 4
        cfg.search = SearchConfig(enabled=True, epochs=2, warmup_epochs=0, every=7,
                                  hypergrad=HypergradConfig(method="identity"), compare_with=[])
        return cfg

    return factory


@pytest.fixture
def search_config(search_config_factory) -> RunConfig:
    return search_config_factory()


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (gzipped), the format of the Fashion-MNIST distribution: uint8 payload."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture(scope="session")
def fashion_mnist_dir(tmp_path_factory) -> str:
    """A small Fashion-MNIST in its four IDX files (150 training and 60 test images per class,
    each class a bright band at its own rows over noise), so no test needs the system copy."""
    folder = tmp_path_factory.mktemp("fashion-mnist")
    rng = np.random.default_rng(0)
    for prefix, per_class in (("train", 150), ("t10k", 60)):
        labels = np.repeat(np.arange(10), per_class)
        images = rng.integers(0, 60, (len(labels), 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 * c + 3 : 2 * c + 7] += 180
        order = rng.permutation(len(labels))
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[order])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[order])
    return str(folder)


@pytest.fixture
def pickle_archive():
    """Write ``{name: object}`` as pickles under ``folder/`` in a .tar.gz (the official CIFAR layout)."""

    def write(path: Path, folder: str, members: dict) -> Path:
        with tarfile.open(path, "w:gz") as tar:
            for name, obj in members.items():
                data = pickle.dumps(obj)
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    return write


class Interrupted(Exception):
    """Raised by a :func:`stop_after` callback."""


@pytest.fixture
def stop_after():
    """An epoch callback that interrupts a run once ``phase`` has finished ``epochs`` epochs."""

    def make(phase: str, epochs: int):
        def stop(trainer):
            if trainer.phase == phase and trainer.epoch == epochs:
                raise Interrupted

        return stop

    return make

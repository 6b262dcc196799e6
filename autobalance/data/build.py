"""From a :class:`DataConfig` to a :class:`DataBundle`: load, long-tail, split, move to device."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autobalance.config import DataConfig
from autobalance.data.bundle import BatchTransform, DataBundle, TensorSplit
from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.errors import DataError
from autobalance.data.label_noise import confusable, flip_labels, noise_rates, noise_record
from autobalance.data.profiles import long_tail_counts, subsample_per_class
from autobalance.data.splits import train_val_split
from autobalance.registry import Registry
from autobalance.settings import build_settings

DATA_SOURCES: Registry[Callable[[DataConfig, int, Path], RawDataset]] = Registry("data.name")
"""Data sources by name: ``loader(cfg, seed, cache_dir)``; each fails before training, naming
every place it looked, when its data is missing. An entry's ``settings`` metadata, when given,
is its :class:`DataConfig` subclass (settings of its own)."""


def register_data_source(name: str, settings: type[DataConfig] = DataConfig,
                         **metadata: Any) -> Callable[[Callable[..., RawDataset]], Callable[..., RawDataset]]:
    """Register ``loader(cfg, seed, cache_dir)`` under ``name``; ``settings`` (a
    :class:`DataConfig` subclass) adds settings of its own, set as ``data.<key>``."""
    if not (dataclasses.is_dataclass(settings) and issubclass(settings, DataConfig)):
        raise TypeError(f"register_data_source({name!r}): settings must be a DataConfig dataclass, got {settings!r}")
    return DATA_SOURCES.register(name, settings=settings, **metadata)


def data_config(name: str = "mnist1d", **values: Any) -> DataConfig:
    """The settings of the data source ``name``: ``values`` over its standard ones, checked."""
    return build_settings(DATA_SOURCES, "data", name, values, default=DataConfig)


def load_raw(cfg: DataConfig, seed: int) -> RawDataset:
    return DATA_SOURCES[cfg.name](cfg, seed, Path(cfg.cache_dir).expanduser())


@DATA_SOURCES.register("mnist1d")
def _mnist1d(cfg, seed, cache_dir):
    from autobalance.data.sources.mnist1d import load_mnist1d

    return load_mnist1d(cfg.num_samples, cfg.test_per_class, seed=0, cache_dir=cache_dir)


@DATA_SOURCES.register("fashion_mnist")
def _fashion_mnist(cfg, seed, cache_dir):
    from autobalance.data.sources.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(cfg.path, cache_dir, cfg.download)


@DATA_SOURCES.register("cifar10")
@DATA_SOURCES.register("cifar100")
def _cifar(cfg, seed, cache_dir):
    from autobalance.data.sources.cifar import load_cifar

    return load_cifar(cfg.name, cfg.path, cache_dir, cfg.download)


@DATA_SOURCES.register("spurious_fashion")
def _spurious_fashion(cfg, seed, cache_dir):
    from autobalance.data.sources.fashion_mnist import load_fashion_mnist
    from autobalance.data.sources.spurious import TOPS, binary, build_spurious, on_background

    fashion = load_fashion_mnist(cfg.path, cache_dir, cfg.download)
    return build_spurious("spurious_fashion", binary(fashion.train, TOPS), binary(fashion.test, TOPS),
                          _spurious_sizes(cfg), on_background, ["top", "other"], seed)


@DATA_SOURCES.register("dominoes")
def _dominoes(cfg, seed, cache_dir):
    from autobalance.data.sources.cifar import load_cifar
    from autobalance.data.sources.fashion_mnist import load_fashion_mnist
    from autobalance.data.sources.spurious import CORE_CIFAR, binary, build_spurious, stacked_on

    cifar = load_cifar("cifar10", cfg.path, cache_dir, cfg.download)
    fashion = load_fashion_mnist(cfg.spurious.fashion_path, cache_dir, cfg.download)
    core = [binary(s, CORE_CIFAR[:1], CORE_CIFAR[1:]) for s in (cifar.train, cifar.test)]
    return build_spurious("dominoes", *core, _spurious_sizes(cfg), stacked_on(fashion.train),
                          ["automobile", "truck"], seed)


@DATA_SOURCES.register("waterbirds")
def _waterbirds(cfg, seed, cache_dir):
    from autobalance.data.sources.group_benchmarks import load_waterbirds

    return load_waterbirds(cfg.path, cfg.image_size, cache_dir)


@DATA_SOURCES.register("celeba")
def _celeba(cfg, seed, cache_dir):
    from autobalance.data.sources.group_benchmarks import load_celeba

    return load_celeba(cfg.path, cfg.label_column, cfg.attribute_column, cfg.image_size, cache_dir)


def _spurious_sizes(cfg: DataConfig):
    from autobalance.data.sources.spurious import SpuriousSizes

    s = cfg.spurious
    return SpuriousSizes(s.train_size, s.val_size, s.test_size, s.correlation, s.label_balance)


@DATA_SOURCES.register("image_folder")
def _image_folder(cfg, seed, cache_dir):
    from autobalance.data.errors import DataNotFoundError
    from autobalance.data.sources.image_folder import load_image_folder

    if not cfg.path or not Path(cfg.path).expanduser().exists():
        raise DataNotFoundError("image_folder", [cfg.path or ""],
                                "your own images: data.path=DIR_OR_TAR_GZ with train/ and test/")
    return load_image_folder(Path(cfg.path).expanduser(), cache_dir, test_fraction=cfg.test_fraction, seed=seed)


@DATA_SOURCES.register("npz")
@DATA_SOURCES.register("csv")
def _user_file(cfg, seed, cache_dir):
    from autobalance.data.sources.user_files import load_user_file

    return load_user_file(cfg.name, cfg.path, cfg.test_path, cfg.test_fraction, cfg.class_names,
                          cfg.num_classes, cfg.label_column, cfg.attribute_column, seed, cfg.val_path,
                          cfg.encoding, cfg.missing, cfg.unknown_category)


def _normalization(x: np.ndarray, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "image":
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64) / 255.0
        mean, std = flat.mean(0), flat.std(0)
        shape = (1, -1, 1, 1)
    else:
        mean, std = x.mean(0), x.std(0)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):  # squares near 1e30 overflow float32
            mean, std = x.astype(np.float64).mean(0), x.astype(np.float64).std(0)
        shape = (1, *x.shape[1:])
    std = np.where(std > 1e-8, std, 1.0)
    return (torch.tensor(mean, dtype=torch.float32).reshape(shape),
            torch.tensor(std, dtype=torch.float32).reshape(shape))


def cell_counts(labels: np.ndarray, attributes: np.ndarray, num_classes: int, num_attributes: int) -> np.ndarray:
    """Examples per cell: an (attribute x class) table."""
    return np.bincount(attributes * num_classes + labels, minlength=num_attributes * num_classes).reshape(
        num_attributes, num_classes)


def _balanced_subset(split: ArraySplit, per_class: int, num_classes: int, seed: int) -> ArraySplit:
    counts = [min(per_class, int((split.y == c).sum())) for c in range(num_classes)]
    return split.take(subsample_per_class(split.y, counts, seed))


def class_names(raw: RawDataset, k: int) -> list[str]:
    return raw.class_names[:k] if len(raw.class_names) >= k else [str(c) for c in range(k)]


def emptied_classes(pool: np.ndarray, kept: np.ndarray) -> list[int]:
    """Classes with examples in ``pool`` but none in ``kept`` (a class empty in the source,
    kept on purpose with data.num_classes, is not one)."""
    return [c for c in range(len(pool)) if pool[c] > 0 and kept[c] == 0]


def _which(names: list[str], classes: list[int]) -> str:
    more = f" (and {len(classes) - 1} more)" if len(classes) > 1 else ""
    return f"class {names[classes[0]]!r}{more}"


def noisy_training_split(train: ArraySplit, cfg: DataConfig, names: list[str],
                         seed: int) -> tuple[ArraySplit, dict | None]:
    """The training split with ``data.label_noise`` applied, and its record (None without noise)."""
    rates = noise_rates(cfg.label_noise, np.bincount(train.y, minlength=len(names)).tolist(), names)
    targets = confusable(cfg.label_noise.flip_to, names)
    if not any(rates):
        return train, None
    noisy = flip_labels(train.y, rates, targets, seed)
    return ArraySplit(train.x, noisy, train.attribute), noise_record(train.y, noisy, rates, cfg.label_noise.flip_to,
                                                                      seed)


def build_data(cfg: DataConfig, seed: int, device: torch.device | str = "cpu") -> DataBundle:
    """Seeded long-tailed training set, validation split and balanced test set on ``device``."""
    device = torch.device(device)
    raw = load_raw(cfg, seed)
    if cfg.val_path and raw.val is None:
        raise DataError(f"data.val_path={cfg.val_path!r}: data.name={cfg.name} does not read a validation file "
                        "(csv and npz do)")
    raw.check_labels(cfg.num_classes)
    k = cfg.num_classes or raw.num_classes
    if k < 2:
        raise DataError(f"{raw.name} has {k} class ({', '.join(raw.class_names) or 'none'}); "
                        "expected at least two")
    pool_counts = np.bincount(raw.train.y, minlength=k)
    n_max = cfg.n_max or int(pool_counts[pool_counts > 0].min())
    if cfg.profile == "none" and cfg.n_max is None:
        counts = [int(c) for c in pool_counts]
    else:
        counts = long_tail_counts(n_max, k, cfg.rho, cfg.profile)
    names = class_names(raw, k)
    emptied = emptied_classes(pool_counts, np.array(counts))
    if emptied:
        raise DataError(f"{_which(names, emptied)}: the long-tail profile (data.profile={cfg.profile}, "
                        f"data.rho={cfg.rho:g}, n_max {n_max}) leaves it 0 of its {pool_counts[emptied[0]]} "
                        "training examples; lower data.rho or raise data.n_max")
    long_tail = raw.train.take(subsample_per_class(raw.train.y, counts, seed))
    if raw.val is not None:  # the source's own validation split
        train, val = long_tail, raw.val
    else:
        train_idx, val_idx = train_val_split(long_tail.y, k, cfg.split, cfg.val_fraction,
                                             cfg.val_per_class, seed)
        train, val = long_tail.take(train_idx), long_tail.take(val_idx)
        emptied = emptied_classes(pool_counts, np.bincount(val.y, minlength=k)) if cfg.split != "none" else []
        if emptied:
            kept = int((long_tail.y == emptied[0]).sum())
            raise DataError(f"{_which(names, emptied)}: {kept} example(s) after the long-tail profile, too few "
                            "for one to train on and one to validate; lower data.rho, raise data.n_max, or set "
                            "data.split=none")
    train, noise = noisy_training_split(train, cfg, names, seed)
    test = raw.test if cfg.test_subset is None else _balanced_subset(raw.test, cfg.test_subset, k, seed)
    mean, std = _normalization(train.x, raw.kind)
    groups = [s.attribute for s in (train, val, test) if s.attribute is not None and len(s.attribute)]
    num_attribute_values = int(max(g.max() for g in groups)) + 1 if groups else 1
    train_counts = [int(c) for c in np.bincount(train.y, minlength=k)]
    summary = {
        "dataset": raw.name,
        "class_names": names,
        "imbalance_ratio": max(train_counts) / max(min(train_counts), 1),
        "profile": cfg.profile,
        "rho": cfg.rho,
        "seed": seed,
        "counts": {
            split_name: [int(c) for c in np.bincount(s.y, minlength=k)]
            for split_name, s in (("train", train), ("val", val), ("test", test))
        },
        "num_attribute_values": num_attribute_values,
    }
    if raw.label_map is not None:
        summary["label_map"] = raw.label_map
    if raw.attribute_map is not None:
        summary["attribute_map"] = raw.attribute_map
    if raw.feature_encoding is not None:
        summary["feature_encoding"] = raw.feature_encoding
    if noise is not None:
        summary["label_noise"] = noise
    if num_attribute_values > 1:
        summary["attribute_counts"] = {
            split_name: np.bincount(s.attribute, minlength=num_attribute_values).tolist()
            for split_name, s in (("train", train), ("val", val), ("test", test))
            if s.attribute is not None
        }
        summary["cell_counts"] = {
            split_name: cell_counts(s.y, s.attribute, k, num_attribute_values).tolist()
            for split_name, s in (("train", train), ("val", val), ("test", test))
            if s.attribute is not None
        }
    return DataBundle(
        train=TensorSplit.from_arrays(train, device),
        val=TensorSplit.from_arrays(val, device),
        test=TensorSplit.from_arrays(test, device),
        class_names=summary["class_names"],
        train_counts=train_counts,
        transform=BatchTransform(mean.to(device), std.to(device), cfg.augment),
        sampler=cfg.sampler,
        batch_size=cfg.batch_size,
        eval_batch_size=cfg.eval_batch_size,
        augment_val=cfg.augment_val,
        num_attribute_values=num_attribute_values,
        summary=summary,
    )

"""CIFAR-10/100 from the official python-pickle archives, or from an image-folder copy."""

from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.download import download, extract_tar, file_digest, reading_archive, verify_checksum
from autobalance.data.errors import DataNotFoundError
from autobalance.data.sources.image_folder import load_image_folder


@dataclass(frozen=True)
class CifarSpec:
    name: str
    url: str
    md5: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    label_key: bytes
    meta_file: str
    names_key: bytes


CIFAR10 = CifarSpec(
    "cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", b"labels",
    "batches.meta", b"label_names",
)
CIFAR100 = CifarSpec(
    "cifar100", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python", ("train",), "test",
    b"fine_labels", "meta", b"fine_label_names",
)
SPECS = {"cifar10": CIFAR10, "cifar100": CIFAR100}


def _unpickle(path: Path) -> dict:
    # The official archive is a pickle; it is only read after its checksum or from a user's path.
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _read_batches(folder: Path, spec: CifarSpec, files: tuple[str, ...]) -> ArraySplit:
    xs, ys = [], []
    for name in files:
        d = _unpickle(folder / name)
        xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d[spec.label_key]))
    return ArraySplit(np.concatenate(xs).transpose(0, 2, 3, 1).copy(), np.concatenate(ys))


def _read_pickles(folder: Path, spec: CifarSpec) -> RawDataset:
    names = [n.decode() for n in _unpickle(folder / spec.meta_file)[spec.names_key]]
    train = _read_batches(folder, spec, spec.train_files)
    test = _read_batches(folder, spec, (spec.test_file,))
    return RawDataset(spec.name, train, test, names, "image")


def _is_pickle_archive(path: Path, spec: CifarSpec) -> bool:
    with tarfile.open(path) as archive:
        return any(Path(n).name == spec.test_file for n in archive.getnames()[:20])


def load_cifar(
    name: str, path: str | None, cache_dir: Path, allow_download: bool = False
) -> RawDataset:
    """``path`` may be the pickle folder, its parent, the official .tar.gz, or an image folder
    (directory or .tar.gz with ``train/<class>/`` and ``test/<class>/``)."""
    spec = SPECS[name]
    searched: list[Path | str] = []
    candidates = [Path(path).expanduser()] if path else []
    candidates += [cache_dir / spec.folder, cache_dir / f"{spec.name}-{spec.md5[:16]}"]  # earlier and downloaded copies
    for cand in candidates:
        searched.append(cand)
        if (cand / spec.test_file).exists():
            return _read_pickles(cand, spec)
        if (cand / spec.folder / spec.test_file).exists():
            return _read_pickles(cand / spec.folder, spec)
        if cand.is_file():
            with reading_archive(cand):
                if _is_pickle_archive(cand, spec):  # extracted once per archive (its digest names the folder)
                    dest = cache_dir / f"{spec.name}-{file_digest(cand)[:16]}"
                    return _read_pickles(extract_tar(cand, dest) / spec.folder, spec)
                return load_image_folder(cand, cache_dir, spec.name)
        if (cand / "train").is_dir() and (cand / "test").is_dir():
            return load_image_folder(cand, cache_dir, spec.name)
    if allow_download:
        archive = download(spec.url, cache_dir / Path(spec.url).name, spec.md5, "md5")
        verify_checksum(archive, spec.md5, "md5")
        return _read_pickles(extract_tar(archive, cache_dir / f"{spec.name}-{spec.md5[:16]}") / spec.folder, spec)
    raise DataNotFoundError(
        name, searched, f"{spec.url} (md5 {spec.md5}); set data.path=FILE_OR_DIR or data.download=true"
    )

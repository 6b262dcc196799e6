"""Fashion-MNIST from its four IDX gz files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.download import download
from autobalance.data.errors import DataNotFoundError

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CLASS_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (gzipped): magic, dims, then big-endian uint8 payload."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


def _complete(folder: Path) -> bool:
    return all((folder / f).exists() for f in FILES)


def load_fashion_mnist(path: str | None, cache_dir: Path, allow_download: bool = False) -> RawDataset:
    candidates = ([Path(path).expanduser()] if path else []) + [SYSTEM_DIR, cache_dir / "fashion-mnist"]
    folder = next((c for c in candidates if _complete(c)), None)
    if folder is None and allow_download:
        folder = cache_dir / "fashion-mnist"
        for name, md5 in FILES.items():
            if not (folder / name).exists():
                download(BASE_URL + name, folder / name, md5, "md5")
    if folder is None:
        raise DataNotFoundError(
            "fashion_mnist", candidates,
            f"Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), "
            f"or {BASE_URL} with data.download=true",
        )
    train = ArraySplit(read_idx(folder / "train-images-idx3-ubyte.gz")[..., None],
                       read_idx(folder / "train-labels-idx1-ubyte.gz"))
    test = ArraySplit(read_idx(folder / "t10k-images-idx3-ubyte.gz")[..., None],
                      read_idx(folder / "t10k-labels-idx1-ubyte.gz"))
    return RawDataset("fashion_mnist", train, test, CLASS_NAMES, "image")

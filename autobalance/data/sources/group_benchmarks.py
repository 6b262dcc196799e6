"""Waterbirds and CelebA from a user's local copy, read through their official metadata files
with the standard splits (Sagawa et al. 2020).

- Waterbirds (``waterbirds_v1.0``): ``metadata.csv`` with ``img_filename``, ``y`` (0 landbird,
  1 waterbird), ``split`` (0 train, 1 validation, 2 test) and ``place`` (the background:
  0 land, 1 water, the attribute).
- CelebA: ``list_attr_celeba.txt`` (40 attributes of +-1 per image), ``list_eval_partition.txt``
  (0 train, 1 validation, 2 test) and the images under ``img_align_celeba/``; the label and
  the attribute are two of the 40 columns (the field's task: ``Blond_Hair`` by ``Male``).

Images are resized to ``image_size`` squares (no pretrained network here: small images for
small networks) and cached as ``.npz`` keyed by the metadata's checksum and the size.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.download import file_digest
from autobalance.data.errors import DataNotFoundError
from autobalance.data.progress import decoding
from autobalance.errors import InputError

WATERBIRDS_URL = "https://worksheets.codalab.org/bundles/0xb922b6c2d39c48bab4516780e06d5649 (waterbirds_v1.0)"
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped images and the Anno/Eval files)"


def _find(path: str | None, required: Sequence[str], dataset: str, provider: str) -> Path:
    """The folder holding every file of ``required`` (``path`` itself or a folder directly in it)."""
    if not path:
        raise DataNotFoundError(dataset, [], f"{provider}; then set data.path=FOLDER")
    root = Path(path).expanduser()
    candidates = [root, *(sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else [])]
    for folder in candidates:
        if all((folder / name).exists() for name in required):
            return folder
    raise DataNotFoundError(dataset, [f"{c} (for {', '.join(required)})" for c in candidates], provider)


def _load_images(folder: Path, files: Sequence[str], size: int, dataset: str) -> np.ndarray:
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, name in enumerate(decoding(files, dataset)):
        with Image.open(folder / name) as img:
            out[i] = np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR))
    return out


def _cached(cache: Path, build) -> dict[str, np.ndarray]:
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return dict(z)
    arrays = build()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(cache)
    return arrays


def _raw(name: str, arrays: dict[str, np.ndarray], class_names: list[str]) -> RawDataset:
    split = {s: ArraySplit(arrays[f"x_{s}"], arrays[f"y_{s}"], arrays[f"g_{s}"]) for s in ("train", "val", "test")}
    return RawDataset(name, split["train"], split["test"], class_names, "image", val=split["val"])


def _by_split(x: np.ndarray, y: np.ndarray, g: np.ndarray, split: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {}
    for code, s in enumerate(("train", "val", "test")):
        keep = split == code
        arrays.update({f"x_{s}": x[keep], f"y_{s}": y[keep], f"g_{s}": g[keep]})
    return arrays


def load_waterbirds(path: str | None, image_size: int, cache_dir: Path) -> RawDataset:
    folder = _find(path, ["metadata.csv"], "waterbirds", WATERBIRDS_URL)
    with open(folder / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))

    def build():
        column = {key: np.array([int(r[key]) for r in rows]) for key in ("y", "split", "place")}
        x = _load_images(folder, [r["img_filename"] for r in rows], image_size, "waterbirds")
        return _by_split(x, column["y"], column["place"], column["split"])

    cache = cache_dir / f"waterbirds-{file_digest(folder / 'metadata.csv')[:16]}-{image_size}.npz"
    return _raw("waterbirds", _cached(cache, build), ["landbird", "waterbird"])


def load_celeba(path: str | None, label: str, attribute: str, image_size: int, cache_dir: Path) -> RawDataset:
    required = ["list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba"]
    folder = _find(path, required, "celeba", CELEBA_URL)
    lines = (folder / "list_attr_celeba.txt").read_text().split("\n")
    names = lines[1].split()
    for key, value in (("data.label_column", label), ("data.attribute_column", attribute)):
        if value not in names:
            raise InputError(f"{key}={value!r} is not a CelebA attribute; expected one of {', '.join(names)}")
    table = [line.split() for line in lines[2:] if line.strip()]
    files = [row[0] for row in table]
    values = np.array([[int(v) for v in row[1:]] for row in table]) > 0
    partition = dict(line.split() for line in (folder / "list_eval_partition.txt").read_text().split("\n")
                     if line.strip())

    def build():
        x = _load_images(folder / "img_align_celeba", files, image_size, "celeba")
        split = np.array([int(partition[f]) for f in files])
        return _by_split(x, values[:, names.index(label)].astype(np.int64),
                         values[:, names.index(attribute)].astype(np.int64), split)

    digest = file_digest(folder / "list_attr_celeba.txt")[:16]
    cache = cache_dir / f"celeba-{digest}-{label}-{attribute}-{image_size}.npz"
    return _raw("celeba", _cached(cache, build), [f"not {label}", label])

"""``train/<class>/*`` and ``test/<class>/*`` image trees, as a directory or a .tar.gz.

Images are decoded once (PIL) into a uint8 NHWC array and cached as ``.npz`` keyed by the
archive's checksum (or the directory's file list), so later runs load in a second.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from autobalance.data.atomic import save_npz
from autobalance.data.dataset import ArraySplit, RawDataset
from autobalance.data.download import file_digest, reading_archive, safe_members
from autobalance.data.errors import DataError
from autobalance.data.progress import decoding
from autobalance.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}


def _decode(data: bytes, where: str) -> np.ndarray:
    """One image as uint8 HWC; an unreadable one is refused naming it (PIL's reason appended)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            arr = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"{where}: not a readable image ({type(err).__name__}: {err}); "
                        "replace or remove the file") from None
    return arr[..., None] if arr.ndim == 2 else arr


def _iter_tar(path: Path) -> Iterator[tuple[tuple[str, ...], bytes]]:
    with tarfile.open(path) as archive:
        for m in safe_members(archive):
            if m.isfile() and Path(m.name).suffix.lower() in IMAGE_SUFFIXES:
                yield Path(m.name).parts, archive.extractfile(m).read()


def _iter_dir(path: Path) -> Iterator[tuple[tuple[str, ...], bytes]]:
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
            yield f.relative_to(path).parts, f.read_bytes()


def _collect(entries: Iterator[tuple[tuple[str, ...], bytes]], source: Path) -> dict[str, dict[str, list]]:
    """Group (split, class) -> list of (filename, image) from paths ``.../split/class/file``,
    with a progress line while decoding (tens of thousands of images take a minute)."""
    found: dict[str, dict[str, list]] = {"train": {}, "test": {}}
    for parts, data in decoding(entries, source.name):
        if len(parts) < 3 or parts[-3] not in found:
            continue
        split, cls, name = parts[-3], parts[-2], parts[-1]
        found[split].setdefault(cls, []).append((name, _decode(data, f"{source}/{'/'.join(parts)}")))
    return found


def _stack(per_class: dict[str, list], class_names: list[str]) -> ArraySplit:
    xs, ys = [], []
    for c, cls in enumerate(class_names):
        for _, img in sorted(per_class.get(cls, []), key=lambda t: t[0]):
            xs.append(img)
            ys.append(c)
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise InputError(f"images differ in shape {sorted(shapes)}; resize them to one shape first")
    return ArraySplit(np.stack(xs) if xs else np.zeros((0, 1, 1, 3), np.uint8), np.array(ys))


def _cache_key(path: Path) -> str:
    if path.is_file():
        return file_digest(path)[:16]
    listing = "\n".join(f"{f}:{f.stat().st_size}" for f in sorted(path.rglob("*")) if f.is_file())
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def load_image_folder(path: Path, cache_dir: Path, name: str = "image_folder") -> RawDataset:
    """Decode (or load from cache) an image tree; class names are the sorted train folders."""
    cache = cache_dir / f"{name}-{_cache_key(path)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            return RawDataset(
                name,
                ArraySplit(z["x_train"], z["y_train"]),
                ArraySplit(z["x_test"], z["y_test"]),
                [str(c) for c in z["class_names"]],
                "image",
            )
    if path.is_file():
        with reading_archive(path):
            found = _collect(_iter_tar(path), path)
    else:
        found = _collect(_iter_dir(path), path)
    class_names = sorted(found["train"])
    if not class_names:
        raise InputError(f"{path} holds no images under train/<class>/; expected train/ and test/")
    unknown = sorted(set(found["test"]) - set(class_names))
    if unknown:
        raise InputError(f"{path}: test classes {unknown} have no train folder")
    train, test = _stack(found["train"], class_names), _stack(found["test"], class_names)
    save_npz(cache, x_train=train.x, y_train=train.y, x_test=test.x, y_test=test.y,
             class_names=np.array(class_names))
    return RawDataset(name, train, test, class_names, "image")

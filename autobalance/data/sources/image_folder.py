"""``train/<class>/...`` and ``test/<class>/...`` image trees, as a directory or a .tar.gz.

Images are decoded once (PIL) into a uint8 NHWC array and cached as ``.npz`` keyed by the
archive's checksum (or the directory's file list), so later runs load in a second. Every PIL mode
is read: grayscale and 1-bit as one channel, 16-bit as its high byte, palette, RGBA, CMYK and the
rest as RGB; a tree that mixes grayscale and colour images is colour throughout (grey repeated in
three channels). Files below a class folder's subfolders belong to the class; hidden files and
macOS' ``__MACOSX`` copies are skipped. Without a ``test/`` folder, a seeded class-stratified
``data.test_fraction`` of the training images is held out as the test split.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections import Counter
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
    """One image as uint8 HWC with one or three channels; an unreadable one is refused naming it
    (PIL's reason appended)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.mode.startswith("I"):  # 16- or 32-bit integer grey: its high byte
                wide = np.asarray(img).astype(np.uint32)
                arr = (wide >> (8 if wide.max() < 65536 else 24)).astype(np.uint8)
            elif img.mode in ("1", "L", "LA", "F"):
                arr = np.asarray(img.convert("L"))
            else:
                arr = np.asarray(img.convert("RGB"))
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


def _place(parts: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(split, class, file under the class) of a path ``.../split/class/[subfolders/]file``, or
    None for hidden files, macOS' copies and files outside a split's class folder."""
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    splits = [i for i, p in enumerate(parts[:-2]) if p in ("train", "test")]
    if not splits:
        return None
    i = splits[-1]
    return parts[i], parts[i + 1], "/".join(parts[i + 2:])


def _collect(entries: Iterator[tuple[tuple[str, ...], bytes]], source: Path) -> dict[str, dict[str, list]]:
    """Group (split, class) -> list of (file, image) from paths ``.../split/class/.../file``,
    with a progress line while decoding (tens of thousands of images take a minute)."""
    found: dict[str, dict[str, list]] = {"train": {}, "test": {}}
    for parts, data in decoding(entries, source.name):
        place = _place(parts)
        if place is None:
            continue
        split, cls, name = place
        found[split].setdefault(cls, []).append((f"{cls}/{name}", _decode(data, f"{source}/{'/'.join(parts)}")))
    return found


def _stack(per_class: dict[str, list], class_names: list[str], channels: int, split: str) -> ArraySplit:
    """The split's images in class order, each with ``channels`` channels; images of another size
    are refused naming one of them."""
    named, ys = [], []
    for c, cls in enumerate(class_names):
        for name, img in sorted(per_class.get(cls, []), key=lambda t: t[0]):
            named.append((name, np.repeat(img, channels, axis=2) if img.shape[2] < channels else img))
            ys.append(c)
    sizes = Counter(img.shape[:2] for _, img in named)
    if len(sizes) > 1:
        usual = sizes.most_common(1)[0][0]
        odd = next(name for name, img in named if img.shape[:2] != usual)
        raise InputError(f"{split}/{odd} is {odd_size(named, odd)} pixels where most images are {usual[1]}x{usual[0]} "
                         f"({len(sizes)} sizes in all); resize the images to one size first")
    xs = [img for _, img in named]
    return ArraySplit(np.stack(xs) if xs else np.zeros((0, 1, 1, channels), np.uint8), np.array(ys))


def odd_size(named: list, name: str) -> str:
    h, w = next(img.shape[:2] for n, img in named if n == name)
    return f"{w}x{h}"


def _cache_key(path: Path) -> str:
    if path.is_file():
        return file_digest(path)[:16]
    listing = "\n".join(f"{f}:{f.stat().st_size}" for f in sorted(path.rglob("*")) if f.is_file())
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def load_image_folder(path: Path, cache_dir: Path, name: str = "image_folder", test_fraction: float = 0.2,
                      seed: int = 0) -> RawDataset:
    """Decode (or load from cache) an image tree; class names are the sorted train folders. A
    tree without test images gives up a stratified ``test_fraction`` of its training images."""
    raw = _decoded_tree(path, cache_dir, name)
    if len(raw.test) == 0:
        from autobalance.data.sources.user_files import stratified_holdout

        print(f"{path}: no test/ images; {test_fraction:g} of each class's training images are the test split "
              f"(seed {seed})", flush=True)
        raw.train, raw.test = stratified_holdout(raw.train, test_fraction, seed)
    return raw


def _decoded_tree(path: Path, cache_dir: Path, name: str) -> RawDataset:
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
    channels = max((img.shape[2] for split in found.values() for images in split.values() for _, img in images),
                   default=3)
    train = _stack(found["train"], class_names, channels, "train")
    test = _stack(found["test"], class_names, channels, "test")
    save_npz(cache, x_train=train.x, y_train=train.y, x_test=test.x, y_test=test.y,
             class_names=np.array(class_names))
    return RawDataset(name, train, test, class_names, "image")

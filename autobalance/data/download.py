"""Checksummed downloads and archive extraction that refuses path traversal."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autobalance.data.atomic import atomic_path
from autobalance.errors import InputError


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(path: Path, expected: str, algorithm: str) -> None:
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise InputError(f"{path}: {algorithm} is {actual}, expected {expected}; file is corrupt")


def download(url: str, dest: Path, checksum: str, algorithm: str = "md5") -> Path:
    """Download ``url`` to ``dest`` through a temporary file, verifying it before it is kept."""
    with atomic_path(dest) as tmp:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
        verify_checksum(tmp, checksum, algorithm)
    return dest


def safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Regular files and directories only, with relative paths that stay inside the archive."""
    members = []
    for m in archive.getmembers():
        parts = Path(m.name).parts
        if Path(m.name).is_absolute() or ".." in parts:
            raise InputError(f"archive member {m.name!r} escapes the extraction directory")
        if m.isfile() or m.isdir():
            members.append(m)
    return members


def extract_tar(path: Path, dest: Path) -> Path:
    """Extract ``path`` into ``dest`` once: into a fresh temporary folder renamed to ``dest`` when
    complete, so that processes reading ``dest`` side by side never see a half-written file (a
    second extraction of the same archive finds ``dest`` and returns it)."""
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    with tarfile.open(path) as archive:
        for member in safe_members(archive):
            archive.extract(member, scratch, filter="data")
    try:
        scratch.rename(dest)
    except OSError:  # another process finished first: its copy is the same archive's
        shutil.rmtree(scratch, ignore_errors=True)
    return dest


@contextmanager
def reading_archive(path: Path) -> Iterator[None]:
    """Turn the ways a damaged archive fails (no tar header, a truncated gzip stream) into one
    error that names the file."""
    if not tarfile.is_tarfile(path):
        raise InputError(f"{path} exists but is not a tar archive (expected .tar.gz); it is corrupt or of "
                         "another format")
    try:
        yield
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputError(f"{path} is truncated or corrupt ({type(err).__name__}: {err}); fetch it again") from None

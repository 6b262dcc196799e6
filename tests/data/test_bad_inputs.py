"""Bad data, tried as a new user would: one clear error naming the file and what was expected."""

import gzip
import re

import numpy as np
import pytest

from autobalance.config import DataConfig
from autobalance.data.build import build_data
from autobalance.data.sources.cifar import load_cifar


def _npz(path, x, y, **extra):
    np.savez(path, x=x, y=y, **extra)
    return DataConfig(name="npz", path=str(path), profile="none", rho=1, cache_dir=str(path.parent))


def _good_x(n=60):
    return np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.tile([0.7, 1.7, 2.7], 20), "key y holds non-integer labels (60 of them, the first 0.7 at row 0)"),
        (np.tile([0, 1, -1], 20), "key y holds negative labels (the first -1 at row 2)"),
        (np.tile(["a", "b", "c"], 20), "key y has dtype <U1; expected integer labels"),
    ],
)
def test_npz_labels_that_are_not_class_indices_are_refused(tmp_path, y, message):
    cfg = _npz(tmp_path / "d.npz", _good_x(), y)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        build_data(cfg, 0)
    assert str(tmp_path / "d.npz") in str(err.value) and "num_classes" not in str(err.value)


def test_integral_float_labels_are_accepted(tmp_path):
    data = build_data(_npz(tmp_path / "d.npz", _good_x(), np.tile([0.0, 1.0, 2.0], 20)), 0)
    assert data.num_classes == 3


def test_nan_features_are_named_before_training(tmp_path):
    x = _good_x()
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match="the features hold 1 NaN or infinite values \\(the first in row 7\\)"):
        build_data(_npz(tmp_path / "d.npz", x, np.tile([0, 1, 2], 20)), 0)


def test_length_mismatch_names_the_file(tmp_path):
    with pytest.raises(ValueError, match="d.npz: the features have 60 rows but key y has 59"):
        build_data(_npz(tmp_path / "d.npz", _good_x(), np.tile([0, 1, 2], 20)[:59]), 0)


def test_a_non_numeric_csv_cell_is_named_by_line_and_column(tmp_path):
    rows = ["a,b,label"] + [f"{i},{i * 2},{i % 3}" for i in range(30)]
    rows[5] = "4,oops,1"
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    cfg = DataConfig(name="csv", path=str(tmp_path / "d.csv"), profile="none", rho=1, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="d.csv, line 6, column 'b': 'oops' is not a number"):
        build_data(cfg, 0)


def test_random_bytes_named_tar_gz_are_called_corrupt_not_missing(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="exists but is not a tar archive"):
        load_cifar("cifar10", str(path), tmp_path / "cache")


def test_a_truncated_archive_names_the_file(tmp_path):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i in range(20):
            data = np.random.default_rng(i).bytes(20000)
            info = tarfile.TarInfo(f"train/c{i % 2}/{i}.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    whole = gzip.compress(buffer.getvalue())
    path = tmp_path / "images.tar.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="images.tar.gz is truncated or corrupt"):
        load_cifar("cifar10", str(path), tmp_path / "cache")

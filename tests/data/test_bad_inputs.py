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
        (np.tile([1j, 2j, 3j], 20), "key y has dtype complex128; expected integer labels or class names"),
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


def _csv(path, rows):
    path.write_text("\n".join(rows) + ("\n" if rows else ""))
    return DataConfig(name="csv", path=str(path), profile="none", rho=1, cache_dir=str(path.parent))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "d.csv is empty; expected a header row"),
        (["a,b,label"], "d.csv: a header (a, b, label) and no rows; expected one row per example"),
        (["a,b,label", "1,2,0", "1,2"], "d.csv, line 3: 2 values but the header names 3 columns"),
    ],
)
def test_a_csv_without_usable_rows_is_one_error_naming_the_file(tmp_path, rows, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_data(_csv(tmp_path / "d.csv", rows), 0)


def test_a_test_csv_whose_columns_differ_from_the_training_files_is_refused(tmp_path):
    cfg = _csv(tmp_path / "train.csv", ["a,b,label"] + [f"{i},{i},{i % 2}" for i in range(20)])
    _csv(tmp_path / "test.csv", ["a,c,label"] + [f"{i},{i},{i % 2}" for i in range(6)])
    cfg.test_path = str(tmp_path / "test.csv")
    with pytest.raises(ValueError, match=re.escape("test.csv: columns ['a', 'c'] differ from the training "
                                                   "file's ['a', 'b']")):
        build_data(cfg, 0)


def test_a_test_npz_of_another_feature_shape_is_refused(tmp_path):
    cfg = _npz(tmp_path / "train.npz", _good_x(), np.tile([0, 1, 2], 20))
    np.savez(tmp_path / "test.npz", x=np.zeros((6, 4), np.float32), y=np.tile([0, 1, 2], 2))
    cfg.test_path = str(tmp_path / "test.npz")
    with pytest.raises(ValueError, match=re.escape("test.npz: rows of shape [4] differ from the training file's [3]")):
        build_data(cfg, 0)


def test_a_corrupt_image_is_named_in_one_line(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            folder = tmp_path / "imgs" / split / cls
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(folder / f"{i}.png")
    (tmp_path / "imgs" / "train" / "dog" / "1.png").write_bytes(b"not an image at all")
    cfg = DataConfig(name="image_folder", path=str(tmp_path / "imgs"), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=re.escape("imgs/train/dog/1.png: not a readable image (")) as err:
        build_data(cfg, 0)
    assert len(str(err.value).splitlines()) == 1 and str(tmp_path) in str(err.value)


def test_a_csv_row_without_a_label_is_named(tmp_path):
    cfg = _csv(tmp_path / "d.csv", ["a,label"] + [f"{i},{'cat' if i % 2 else 'dog'}" for i in range(10)] + ["3,"])
    with pytest.raises(ValueError, match=re.escape("d.csv, line 12, column 'label': no label (1 rows have none)")):
        build_data(cfg, 0)

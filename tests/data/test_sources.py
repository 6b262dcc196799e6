import dataclasses
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autobalance.data.download import extract_tar, verify_checksum
from autobalance.data.errors import DataError, DataNotFoundError
from autobalance.data.sources import fashion_mnist
from autobalance.data.sources.cifar import load_cifar
from autobalance.data.sources.image_folder import load_image_folder
from autobalance.data.sources.user_files import dataset_name, load_user_file


def _write_image_tree(root: Path, classes=("cat", "dog"), per_split=(3, 2)) -> None:
    rng = np.random.default_rng(0)
    for split, n in zip(("train", "test"), per_split, strict=True):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(img).save(root / split / cls / f"{i:04d}.png")


def test_image_folder_from_directory_and_tarball_agree_and_are_cached(tmp_path):
    _write_image_tree(tmp_path / "imgs")
    archive = tmp_path / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "imgs", arcname="imgs")
    from_dir = load_image_folder(tmp_path / "imgs", tmp_path / "cache")
    from_tar = load_image_folder(archive, tmp_path / "cache")
    assert from_dir.class_names == ["cat", "dog"]
    assert from_dir.train.x.shape == (6, 8, 8, 3) and from_dir.train.x.dtype == np.uint8
    assert from_dir.test.y.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(from_dir.train.x, from_tar.train.x)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    cached = load_image_folder(archive, tmp_path / "cache")
    np.testing.assert_array_equal(cached.train.x, from_tar.train.x)


def test_tar_with_path_traversal_is_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ValueError, match="escapes the extraction directory"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_checksum_mismatch_names_both_digests(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"hello")
    with pytest.raises(ValueError, match="expected 0000"):
        verify_checksum(f, "0000", "md5")


def _fake_cifar10_members() -> dict:
    rng = np.random.default_rng(0)
    members = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        members[name] = {b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
                         b"labels": [0, 1, 2, 3]}
    members["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    return members


def test_cifar_pickle_archive_is_read_into_nhwc_uint8(tmp_path, pickle_archive):
    pickle_archive(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", _fake_cifar10_members())
    raw = load_cifar("cifar10", str(tmp_path / "cifar-10-python.tar.gz"), tmp_path / "cache")
    assert raw.train.x.shape == (20, 32, 32, 3)
    assert raw.test.y.tolist() == [0, 1, 2, 3]
    assert raw.class_names[:2] == ["c0", "c1"]


def test_missing_cifar_names_every_place_and_the_url(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_cifar("cifar10", str(tmp_path / "nowhere"), tmp_path / "cache")
    msg = str(err.value)
    assert str(tmp_path / "nowhere") in msg and str(tmp_path / "cache") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg


def test_missing_fashion_mnist_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system")
    with pytest.raises(DataNotFoundError, match="dataset-fashion-mnist") as err:
        fashion_mnist.load_fashion_mnist(str(tmp_path / "mine"), tmp_path / "cache")
    assert str(tmp_path / "system") in str(err.value)


@pytest.mark.parametrize("key", ["attribute", "group"])  # "group": the key's earlier name, still read
def test_npz_with_an_attribute_and_a_test_fraction(tmp_path, key):
    x = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    np.savez(tmp_path / "d.npz", x=x, y=y, **{key: np.tile([0, 1], 30)})
    raw = load_user_file("npz", str(tmp_path / "d.npz"), None, 0.25, None, None)
    assert raw.num_classes == 3
    assert np.bincount(raw.test.y).tolist() == [5, 5, 5]
    assert raw.train.attribute is not None and len(raw.train.attribute) == 45


def test_npz_with_both_names_of_the_attribute_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), y=[0, 1, 0, 1], attribute=[0, 1, 1, 0], group=[0, 1, 1, 0])
    with pytest.raises(DataError, match="both an attribute and a group key"):
        load_user_file("npz", str(tmp_path / "d.npz"), None, 0.25, None, None)


def test_npz_labels_outside_the_configured_classes_fail(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((6, 2)), y=np.array([0, 1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match=r"data.num_classes=3 .* labels span 0..5"):
        load_user_file("npz", str(tmp_path / "d.npz"), None, 0.5, None, 3)


def test_npz_with_objects_is_not_unpickled(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.array([{"a": 1}] * 4, dtype=object), y=np.zeros(4))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_user_file("npz", str(tmp_path / "d.npz"), None, 0.5, None, None)


def test_csv_with_label_and_group_columns(tmp_path):
    rows = ["f1,label,f2,sex"] + [f"{i},{i % 2},{-i},{i % 3 == 0:d}" for i in range(20)]
    (tmp_path / "train.csv").write_text("\n".join(rows))
    (tmp_path / "test.csv").write_text("\n".join(rows[:9]))
    raw = load_user_file("csv", str(tmp_path / "train.csv"), str(tmp_path / "test.csv"), 0.2,
                         ["even", "odd"], None, label_column="label", attribute_column="sex")
    assert raw.train.x.shape == (20, 2)
    np.testing.assert_array_equal(raw.train.x[3], [3.0, -3.0])
    assert raw.class_names == ["even", "odd"] and len(raw.test) == 8
    with pytest.raises(ValueError, match="label column 'y' not in columns"):
        load_user_file("csv", str(tmp_path / "train.csv"), None, 0.2, None, None, label_column="y")


def test_the_fashion_mnist_stand_in_reads_as_the_real_files_do(fashion_mnist_dir, tmp_path):
    raw = fashion_mnist.load_fashion_mnist(fashion_mnist_dir, tmp_path / "cache")
    assert raw.train.x.shape == (1500, 28, 28, 1) and np.bincount(raw.train.y).tolist() == [150] * 10
    assert len(raw.test) == 600 and raw.class_names == fashion_mnist.CLASS_NAMES


@pytest.mark.real_data
@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="needs the system's Fashion-MNIST: apt-get install dataset-fashion-mnist")
def test_the_system_fashion_mnist_has_its_published_sizes(tmp_path):
    raw = fashion_mnist.load_fashion_mnist(None, tmp_path / "cache")
    assert raw.train.x.shape == (60000, 28, 28, 1) and len(raw.test) == 10000
    assert np.bincount(raw.train.y).tolist() == [6000] * 10


@pytest.mark.slow  # a subprocess run of the command line: seconds each
def test_a_validation_file_of_the_users_own_is_the_validation_split(tmp_path):
    from autobalance.config import DataConfig
    from autobalance.data.build import build_data

    rows = ["x1,x2,label"] + [f"{i},{-i},{'cat' if i % 3 else 'dog'}" for i in range(60)]
    (tmp_path / "train.csv").write_text("\n".join(rows))
    (tmp_path / "val.csv").write_text("\n".join(["x1,x2,label", "1,2,dog", "3,4,cat", "5,6,cat"]))
    (tmp_path / "bad_val.csv").write_text("\n".join(["x1,x2,label", "1,2,bird"]))
    cfg = DataConfig(name="csv", path=str(tmp_path / "train.csv"), val_path=str(tmp_path / "val.csv"),
                     profile="none", cache_dir=str(tmp_path / "cache"))
    data = build_data(cfg, seed=0)
    assert data.val.y.tolist() == [1, 0, 0]  # cat 0, dog 1: the file's rows, in its order
    assert sum(data.summary["counts"]["train"]) + sum(data.summary["counts"]["test"]) == 60  # no split of it
    with pytest.raises(ValueError, match=r"bad_val.csv: labels \['bird'\] do not occur in the training file"):
        build_data(dataclasses.replace(cfg, val_path=str(tmp_path / "bad_val.csv")), seed=0)
    with pytest.raises(ValueError, match="data.val_path='v.csv': data.name=mnist1d does not read a validation file"):
        build_data(DataConfig(val_path="v.csv", cache_dir=str(tmp_path / "cache")), seed=0)


@pytest.mark.parametrize(("path", "name"), [
    ("data/letter/train.csv", "letter"), ("letter.csv.gz", "letter"), ("tables/adult_train.parquet", "adult_train"),
    ("Letter/TRAIN.xlsx", "Letter"), ("d.npz", "d")])
def test_a_user_file_is_named_after_its_data_set_not_its_split(path, name):
    assert dataset_name(Path(path)) == name

"""Waterbirds and CelebA read from small fake copies laid out as the official files."""

import numpy as np
import pytest
from PIL import Image

from autobalance.config import DataConfig
from autobalance.data.build import build_data
from autobalance.data.errors import DataNotFoundError
from autobalance.data.sources.group_benchmarks import load_celeba, load_waterbirds


def _image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 30, 3), value, dtype=np.uint8)).save(path)


def _fake_waterbirds(root):
    rows = ["img_id,img_filename,y,split,place,place_filename"]
    for i in range(12):
        y, split, place = i % 2, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2][i], (i // 2) % 2
        name = f"{10 + y:03d}.Bird/img_{i}.jpg"
        _image(root / "waterbirds_v1.0" / name, 20 * i)
        rows.append(f"{i + 1},{name},{y},{split},{place},/x/y.jpg")
    (root / "waterbirds_v1.0" / "metadata.csv").write_text("\n".join(rows) + "\n")


def test_waterbirds_keeps_the_official_splits_and_places(tmp_path):
    _fake_waterbirds(tmp_path / "copy")
    raw = load_waterbirds(str(tmp_path / "copy"), 16, tmp_path / "cache")  # the parent folder is found too
    assert (len(raw.train), len(raw.val), len(raw.test)) == (6, 4, 2)
    assert raw.train.x.shape == (6, 16, 16, 3) and raw.train.y.tolist() == [0, 1, 0, 1, 0, 1]
    assert raw.train.attribute.tolist() == [0, 0, 1, 1, 0, 0]
    assert len(list((tmp_path / "cache").glob("waterbirds-*-16.npz"))) == 1
    again = load_waterbirds(str(tmp_path / "copy"), 16, tmp_path / "cache")
    np.testing.assert_array_equal(again.test.x, raw.test.x)


def test_waterbirds_bundle_uses_the_official_validation_split(tmp_path):
    _fake_waterbirds(tmp_path / "copy")
    cfg = DataConfig(name="waterbirds", path=str(tmp_path / "copy"), profile="none", image_size=8,
                     cache_dir=str(tmp_path / "cache"), batch_size=4)
    data = build_data(cfg, seed=0)
    assert data.summary["cell_counts"]["val"] == [[1, 1], [1, 1]]


def test_celeba_reads_the_label_and_attribute_columns(tmp_path):
    root = tmp_path / "celeba"
    names = ["5_o_Clock_Shadow", "Blond_Hair", "Male"]
    attrs = ["6", " ".join(names)]  # the image count, then the attribute names
    partition = []
    for i in range(6):
        _image(root / "img_align_celeba" / f"{i:06d}.jpg", 30 * i)
        blond, male = (1 if i % 2 else -1), (1 if i < 3 else -1)
        attrs.append(f"{i:06d}.jpg  -1 {blond:2d} {male:2d}")
        partition.append(f"{i:06d}.jpg {[0, 0, 1, 1, 2, 2][i]}")
    (root / "list_attr_celeba.txt").write_text("\n".join(attrs) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    raw = load_celeba(str(root), "Blond_Hair", "Male", 8, tmp_path / "cache")
    assert raw.train.y.tolist() == [0, 1] and raw.train.attribute.tolist() == [1, 1]
    assert raw.test.y.tolist() == [0, 1] and raw.test.attribute.tolist() == [0, 0]
    assert raw.class_names == ["not Blond_Hair", "Blond_Hair"]
    with pytest.raises(ValueError, match="data.attribute_column='Smiling'"):
        load_celeba(str(root), "Blond_Hair", "Smiling", 8, tmp_path / "cache")


def test_missing_copies_say_where_they_looked_and_where_to_get_them(tmp_path):
    with pytest.raises(DataNotFoundError, match="metadata.csv") as err:
        load_waterbirds(str(tmp_path / "nowhere"), 16, tmp_path / "cache")
    assert str(tmp_path / "nowhere") in str(err.value) and "codalab" in str(err.value)
    with pytest.raises(DataNotFoundError, match="data.path=FOLDER"):
        load_celeba(None, "Blond_Hair", "Male", 8, tmp_path / "cache")

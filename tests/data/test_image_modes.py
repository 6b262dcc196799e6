"""Image trees as phones, scanners and image tools write them: every PIL mode, mixed grayscale and
colour, nested folders, hidden files, no test/ folder; one size per tree or a named refusal."""

import numpy as np
import pytest
from PIL import Image

from autobalance.data.sources.image_folder import load_image_folder
from autobalance.errors import InputError


def _save(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_every_pil_mode_is_read_and_a_mixed_tree_is_colour_throughout(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    grey = rng.integers(0, 255, (8, 8), dtype=np.uint8)
    _save(tmp_path / "t/train/a/rgb.png", Image.fromarray(rgb))
    _save(tmp_path / "t/train/a/grey.png", Image.fromarray(grey))
    _save(tmp_path / "t/train/a/rgba.png", Image.fromarray(rgb).convert("RGBA"))
    _save(tmp_path / "t/train/b/palette.png", Image.fromarray(rgb).convert("P"))
    _save(tmp_path / "t/train/b/wide.png", Image.fromarray(grey.astype(np.uint16) << 8))
    _save(tmp_path / "t/train/b/nested/deeper/bw.png", Image.fromarray(grey > 128))
    _save(tmp_path / "t/train/b/.hidden.png", Image.fromarray(rgb))
    _save(tmp_path / "t/__MACOSX/train/b/._rgb.png", Image.fromarray(rgb))
    _save(tmp_path / "t/test/a/x.png", Image.fromarray(grey))
    _save(tmp_path / "t/test/b/y.png", Image.fromarray(rgb))
    raw = load_image_folder(tmp_path / "t", tmp_path / "cache")
    assert raw.train.x.shape == (6, 8, 8, 3) and raw.train.y.tolist() == [0, 0, 0, 1, 1, 1]
    by_name = dict(zip(["a/grey.png", "a/rgb.png", "a/rgba.png"], raw.train.x[:3], strict=True))
    np.testing.assert_array_equal(by_name["a/grey.png"], np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(by_name["a/rgba.png"], rgb)
    bw, _, wide = raw.train.x[3:]  # b/nested/deeper/bw.png, b/palette.png, b/wide.png: sorted
    np.testing.assert_array_equal(wide[..., 0], grey)  # 16-bit: its high byte
    assert set(np.unique(bw).tolist()) <= {0, 255}  # 1-bit, below a nested folder


def test_a_grayscale_tree_stays_one_channel(tmp_path):
    for split in ("train", "test"):
        for cls in ("a", "b"):
            _save(tmp_path / f"g/{split}/{cls}/0.png", Image.fromarray(np.full((6, 6), 7, np.uint8)))
    assert load_image_folder(tmp_path / "g", tmp_path / "cache").train.x.shape == (2, 6, 6, 1)


def test_a_tree_without_test_images_holds_out_a_stratified_fraction(tmp_path, capsys):
    for cls in ("a", "b"):
        for i in range(10):
            _save(tmp_path / f"n/train/{cls}/{i}.png", Image.fromarray(np.full((4, 4, 3), i, np.uint8)))
    raw = load_image_folder(tmp_path / "n", tmp_path / "cache", test_fraction=0.2, seed=1)
    assert np.bincount(raw.test.y).tolist() == [2, 2] and np.bincount(raw.train.y).tolist() == [8, 8]
    assert "no test/ images" in capsys.readouterr().out


def test_an_image_of_another_size_is_named(tmp_path):
    for i in range(3):
        _save(tmp_path / f"s/train/a/{i}.png", Image.fromarray(np.zeros((8, 8, 3), np.uint8)))
    _save(tmp_path / "s/train/b/odd.png", Image.fromarray(np.zeros((5, 7, 3), np.uint8)))
    with pytest.raises(InputError, match=r"train/b/odd.png is 7x5 pixels where most images are 8x8"):
        load_image_folder(tmp_path / "s", tmp_path / "cache")

import dataclasses
import re

import numpy as np
import pytest
import torch

from autobalance.config import DataConfig
from autobalance.data.build import build_data
from autobalance.data.bundle import TensorSplit
from autobalance.data.profiles import long_tail_counts


def test_bundle_is_long_tailed_split_and_balanced_on_test(tiny_config):
    data = build_data(tiny_config.data, seed=0)
    counts = data.summary["counts"]
    total = [t + v for t, v in zip(counts["train"], counts["val"], strict=True)]
    assert total == long_tail_counts(250, 10, 10)
    assert counts["test"] == [50] * 10
    assert data.train_counts == counts["train"]
    assert data.input_shape == (40,)
    assert data.summary["imbalance_ratio"] == pytest.approx(counts["train"][0] / counts["train"][-1])


def test_same_seed_same_batches_different_seed_different_data(tiny_config):
    a, b = build_data(tiny_config.data, seed=0), build_data(tiny_config.data, seed=0)
    xa, ya, _ = next(a.train_batches(seed=0, epoch=0))
    xb, yb, _ = next(b.train_batches(seed=0, epoch=0))
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    c = build_data(tiny_config.data, seed=1)
    assert not torch.equal(a.val.x, c.val.x)


def test_validation_batches_are_unaugmented_and_class_balanced_by_default(tiny_config):
    data = build_data(tiny_config.data, seed=0)
    x, y, _ = data.sample_val_batch(seed=0, draw=0, batch_size=len(data.val), sampler="shuffle")
    plain = data.transform(data.val.x)
    # a shuffled full-size draw is a permutation of the unaugmented validation set
    assert torch.allclose(x.sum(), plain.sum(), rtol=1e-4)
    assert sorted(y.tolist()) == sorted(data.val.y.tolist())
    _, yb, _ = data.sample_val_batch(seed=0, draw=1, batch_size=2000)
    shares = torch.bincount(yb, minlength=10).float() / 2000
    assert shares.min() > 0.07 and shares.max() < 0.13


def test_merging_validation_into_training_keeps_every_example(tiny_config):
    data = build_data(tiny_config.data, seed=0)
    merged = data.merged_train_val()
    assert len(merged.train) == len(data.train) + len(data.val) and len(merged.val) == 0
    assert merged.train_counts == [t + v for t, v in zip(data.summary["counts"]["train"],
                                                          data.summary["counts"]["val"], strict=True)]


def test_cross_fitting_folds_take_turns_validating_on_all_the_data(tiny_config):
    data = build_data(tiny_config.data, seed=0)
    pool = data.merged_train_val().train
    folds = [data.cross_fold(2, f, seed=0) for f in range(2)]
    held = torch.cat([f.val.x.flatten(1) for f in folds])
    assert len(held) == len(pool) and len(torch.unique(held, dim=0)) == len(torch.unique(pool.x.flatten(1), dim=0))
    for f in folds:
        assert len(f.train) + len(f.val) == len(pool)
        assert f.train_counts == f.train.class_counts(data.num_classes)
        assert all(abs(2 * v - t - v) <= 1 for t, v in zip(f.train_counts, f.val.class_counts(data.num_classes),
                                                            strict=True))  # half of each class
    with pytest.raises(ValueError, match="fold 2: expected one of 0..1"):
        data.cross_fold(2, 2, seed=0)


def test_cross_fitting_folds_stratify_by_attribute_and_class(tiny_config):
    data = build_data(tiny_config.data, seed=0)
    attribute = torch.arange(len(data.train)) % 2
    grouped = dataclasses.replace(data, train=TensorSplit(data.train.x, data.train.y, attribute),
                                  val=TensorSplit(data.val.x, data.val.y, torch.arange(len(data.val)) % 2),
                                  num_attribute_values=2)
    pool = grouped.merged_train_val().train
    fold = grouped.cross_fold(2, 0, seed=0).val
    for cell in range(2 * data.num_classes):
        in_pool = int(((pool.attribute * data.num_classes + pool.y) == cell).sum())
        in_fold = int(((fold.attribute * data.num_classes + fold.y) == cell).sum())
        assert in_fold in (in_pool // 2, in_pool - in_pool // 2)


def test_image_data_is_kept_as_uint8_and_normalized_per_batch(tmp_path):
    from autobalance.config import DataConfig

    x = np.random.default_rng(0).integers(0, 255, (200, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "imgs.npz", x=x, y=np.repeat(np.arange(4), 50))
    cfg = DataConfig(name="npz", path=str(tmp_path / "imgs.npz"), profile="exp", rho=5,
                     n_max=40, augment="crop_flip", cache_dir=str(tmp_path))
    data = build_data(cfg, seed=0)
    assert data.train.x.dtype == torch.uint8 and data.train.x.shape[1:] == (3, 8, 8)
    plain = data.transform(data.train.x)
    assert plain.dtype == torch.float32
    torch.testing.assert_close(plain.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(plain.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2, rtol=0)
    xb, _, _ = next(data.train_batches(seed=0, epoch=0))
    assert xb.shape[1:] == (3, 8, 8) and not torch.equal(xb, plain[: len(xb)])


def _balanced_image_folder(root, per_class=30, classes=("a", "b", "c")):
    from PIL import Image

    for split, n in (("train", per_class), ("test", 4)):
        for c, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("L", (8, 8), c * 60 + i).save(folder / f"{i}.png")
    return root


def test_an_image_folder_keeps_its_own_class_counts(tmp_path):
    from hydra import compose, initialize_config_module

    from autobalance.configure import load_config

    root = _balanced_image_folder(tmp_path / "imgs")
    with initialize_config_module("autobalance.configs", version_base="1.3"):
        cfg = load_config(compose("config", overrides=["data=image_folder", f"data.path={root}",
                                                       f"data.cache_dir={tmp_path / 'cache'}"]))
    data = build_data(cfg.data, 0)
    counts = data.summary["counts"]
    assert [t + v for t, v in zip(counts["train"], counts["val"], strict=True)] == [30, 30, 30]
    assert data.summary["imbalance_ratio"] == 1.0


def test_a_profile_that_empties_a_class_is_refused_naming_the_class_and_the_setting(tmp_path):
    root = _balanced_image_folder(tmp_path / "imgs")
    cfg = DataConfig(name="image_folder", path=str(root), cache_dir=str(tmp_path / "cache"), profile="exp", rho=1e9)
    with pytest.raises(ValueError, match=re.escape("class 'b' (and 1 more): the long-tail profile (data.profile=exp, "
                                                   "data.rho=1e+09, n_max 30) leaves it 0 of its 30 training "
                                                   "examples; lower data.rho or raise data.n_max")):
        build_data(cfg, 0)


def test_a_class_too_small_for_a_validation_example_is_refused(tmp_path):
    root = _balanced_image_folder(tmp_path / "imgs")
    cfg = DataConfig(name="image_folder", path=str(root), cache_dir=str(tmp_path / "cache"), profile="exp", rho=30)
    with pytest.raises(ValueError, match=re.escape("class 'c': 1 example(s) after the long-tail profile, too few "
                                                   "for one to train on and one to validate")):
        build_data(cfg, 0)
    cfg.split = "none"
    assert build_data(cfg, 0).train_counts == [30, 5, 1]


def test_noncontiguous_labels_are_renumbered_and_the_mapping_recorded(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.tile([0, 2, 5], 20))
    cfg = DataConfig(name="npz", path=str(tmp_path / "d.npz"), profile="none", rho=1, cache_dir=str(tmp_path))
    data = build_data(cfg, 0)
    assert data.num_classes == 3 and data.class_names == ["0", "2", "5"]
    assert data.summary["label_map"] == {"0": 0, "2": 1, "5": 2}
    assert sorted(set(data.train.y.tolist())) == [0, 1, 2]
    cfg.num_classes = 6  # the labels' own values, empty classes kept on purpose
    kept = build_data(cfg, 0)
    assert kept.num_classes == 6 and kept.train_counts[1] == 0 and "label_map" not in kept.summary


def test_a_single_class_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 3), np.float32), y=np.full(20, 4))
    cfg = DataConfig(name="npz", path=str(tmp_path / "d.npz"), profile="none", rho=1, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=re.escape("d.npz: every label is 4; expected at least two classes")):
        build_data(cfg, 0)


def test_csv_string_labels_become_named_classes_in_both_files(tmp_path):
    names = ["dog", "cat", "bird"]
    (tmp_path / "train.csv").write_text("\n".join(["w,animal"] + [f"{i},{names[i % 3]}" for i in range(30)]))
    (tmp_path / "test.csv").write_text("\n".join(["w,animal"] + [f"{i},{names[i % 3]}" for i in range(9)]))
    cfg = DataConfig(name="csv", path=str(tmp_path / "train.csv"), test_path=str(tmp_path / "test.csv"),
                     label_column="animal", profile="none", rho=1, cache_dir=str(tmp_path))
    data = build_data(cfg, 0)
    assert data.class_names == ["bird", "cat", "dog"]
    assert data.summary["label_map"] == {"bird": 0, "cat": 1, "dog": 2}
    assert data.test.y[:3].tolist() == [2, 1, 0]  # dog, cat, bird
    (tmp_path / "test.csv").write_text("w,animal\n1,dog\n2,fish\n")
    with pytest.raises(ValueError, match=re.escape("test.csv: labels ['fish'] do not occur in the training file")):
        build_data(cfg, 0)


def test_the_data_line_shows_how_labels_became_classes(tmp_path):
    from autobalance.reporting import data_line

    np.savez(tmp_path / "d.npz", x=np.zeros((40, 2), np.float32), y=np.tile([3, 7], 20))
    data = build_data(DataConfig(name="npz", path=str(tmp_path / "d.npz"), profile="none", cache_dir=str(tmp_path)), 0)
    assert data_line(data.summary).splitlines()[1] == "labels as classes: 3 -> 0, 7 -> 1"

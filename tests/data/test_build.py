import dataclasses

import numpy as np
import pytest
import torch

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
                                  num_groups=2)
    pool = grouped.merged_train_val().train
    fold = grouped.cross_fold(2, 0, seed=0).val
    for cell in range(2 * data.num_classes):
        in_pool = int(((pool.group * data.num_classes + pool.y) == cell).sum())
        in_fold = int(((fold.group * data.num_classes + fold.y) == cell).sum())
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

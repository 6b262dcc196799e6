import numpy as np
import pytest
import torch

from autobalance.data.build import build_data
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

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


def test_validation_batches_are_not_augmented_by_default(tiny_config):
    data = build_data(tiny_config.data, seed=0)
    x, y, _ = next(data.val_batches(seed=0, step=0, batch_size=len(data.val)))
    plain = data.transform(data.val.x)
    # the validation stream is a permutation of the unaugmented validation set
    assert torch.allclose(x.sum(), plain.sum(), rtol=1e-4)
    assert sorted(y.tolist()) == sorted(data.val.y.tolist())


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

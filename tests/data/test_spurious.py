"""The spurious-correlation benchmarks' recipe: group layout, disjoint splits, composed images."""

import numpy as np
import pytest

from autobalance.config import DataConfig, SpuriousConfig
from autobalance.data.build import build_data
from autobalance.data.dataset import ArraySplit
from autobalance.data.sources.spurious import (
    BACKGROUNDS,
    SpuriousSizes,
    binary,
    build_spurious,
    group_layout,
    on_background,
    stacked_on,
)


def test_training_layout_has_the_correlation_and_label_balance_and_evaluation_is_group_balanced():
    train = group_layout(1000, 0.9, 0.7)
    assert (train[:, 0] == 0).sum() == 700
    assert (train[train[:, 0] == 0, 1] == 0).mean() == 0.9 and (train[train[:, 0] == 1, 1] == 1).mean() == 0.9
    evaluation = group_layout(402, None, 0.7)
    cells = np.bincount(evaluation[:, 0] * 2 + evaluation[:, 1])
    assert cells.tolist() == [101, 101, 100, 100]


def _pool(n, seed):
    rng = np.random.default_rng(seed)
    return ArraySplit(rng.integers(0, 255, (n, 28, 28, 1), dtype=np.uint8), np.arange(n) % 2)


def test_splits_are_disjoint_seeded_and_background_follows_the_attribute():
    train_pool, test_pool = _pool(400, 0), _pool(100, 1)
    sizes = SpuriousSizes(train=200, val=80, test=60, correlation=0.95, label_balance=0.5)
    raw = build_spurious("toy", train_pool, test_pool, sizes, on_background, ["a", "b"], seed=3)
    again = build_spurious("toy", train_pool, test_pool, sizes, on_background, ["a", "b"], seed=3)
    np.testing.assert_array_equal(raw.train.x, again.train.x)
    assert len(raw.train) == 200 and len(raw.val) == 80 and len(raw.test) == 60
    assert raw.train.x.shape[1:] == (28, 28, 3)
    # a pixel with no ink shows the attribute's color (times a texture in [0.85, 1])
    blank = ArraySplit(np.zeros((2, 28, 28, 1), dtype=np.uint8), np.zeros(2))
    images = on_background(blank.x, np.array([0, 1]), np.random.default_rng(0))
    for a in (0, 1):
        ratio = images[a].reshape(-1, 3).mean(0) / BACKGROUNDS[a]
        assert np.all((0.85 <= ratio) & (ratio <= 1.0))
    # with an identity composition the splits are seen to hold distinct pool images
    keep = build_spurious("toy", train_pool, test_pool, sizes, lambda x, a, rng: x, ["a", "b"], seed=3)
    train_images, val_images = ({x.tobytes() for x in split.x} for split in (keep.train, keep.val))
    assert len(train_images) == 200 and len(val_images) == 80 and not train_images & val_images


def test_a_pool_too_small_for_the_recipe_names_the_sizes():
    sizes = SpuriousSizes(train=300, val=200, test=10, correlation=0.95, label_balance=0.5)
    with pytest.raises(ValueError, match="data.spurious"):
        build_spurious("toy", _pool(400, 0), _pool(100, 1), sizes, on_background, ["a", "b"], seed=0)


def test_dominoes_stack_the_core_image_over_the_attributes_garment():
    fashion = ArraySplit(np.stack([np.full((28, 28, 1), c * 20, dtype=np.uint8) for c in range(10)]), np.arange(10))
    core = np.full((3, 32, 32, 3), 7, dtype=np.uint8)
    out = stacked_on(fashion)(core, np.array([0, 1, 0]), np.random.default_rng(0))
    assert out.shape == (3, 64, 32, 3)
    assert (out[:, :32] == 7).all()
    assert out[0, 40, 16, 0] == 1 * 20 and out[1, 40, 16, 0] == 7 * 20  # trouser (1) and sneaker (7)


def test_binary_relabels_the_chosen_classes():
    split = ArraySplit(np.zeros((6, 1)), np.array([0, 1, 2, 9, 4, 1]))
    assert binary(split, (0, 4)).y.tolist() == [0, 1, 1, 1, 0, 1]
    assert binary(split, (1,), (9,)).y.tolist() == [0, 1, 0]


def test_spurious_fashion_bundle_keeps_the_sources_validation_split(fashion_mnist_dir):
    cfg = DataConfig(name="spurious_fashion", path=fashion_mnist_dir, profile="none",
                     spurious=SpuriousConfig(train_size=400, val_size=80, test_size=80, correlation=0.9))
    data = build_data(cfg, seed=0)
    counts = data.summary["cell_counts"]
    assert counts["train"] == [[180, 20], [20, 180]]  # rows: background, columns: label
    assert counts["val"] == [[20, 20], [20, 20]] and counts["test"] == [[20, 20], [20, 20]]
    assert data.num_attribute_values == 2 and data.input_shape == (3, 28, 28)
    assert data.cell_counts() == [[180, 20], [20, 180]]


def test_dominoes_bundle_from_a_cifar_archive_and_a_fashion_mnist_copy(tmp_path, pickle_archive, fashion_mnist_dir):
    rng = np.random.default_rng(0)
    labels = [1, 9] * 20  # automobile, truck
    members = {f"data_batch_{i}": {b"data": rng.integers(0, 255, (40, 3072), dtype=np.uint8), b"labels": labels}
               for i in range(1, 6)}
    members["test_batch"] = {b"data": rng.integers(0, 255, (40, 3072), dtype=np.uint8), b"labels": labels}
    members["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    archive = pickle_archive(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", members)
    cfg = DataConfig(name="dominoes", path=str(archive), profile="none", cache_dir=str(tmp_path / "cache"),
                     spurious=SpuriousConfig(train_size=100, val_size=40, test_size=40, fashion_path=fashion_mnist_dir))
    data = build_data(cfg, seed=0)
    assert data.input_shape == (3, 64, 32) and data.class_names == ["automobile", "truck"]
    assert data.summary["cell_counts"]["train"] == [[48, 2], [2, 48]]

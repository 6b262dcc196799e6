import numpy as np
import pytest

from autobalance.data.splits import train_val_split

LABELS = np.repeat(np.arange(4), [100, 30, 5, 2])


def test_stratified_split_is_disjoint_seeded_and_keeps_every_class():
    train, val = train_val_split(LABELS, 4, "stratified", fraction=0.2, seed=3)
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(LABELS)
    assert np.bincount(LABELS[val], minlength=4).tolist() == [20, 6, 1, 1]
    assert (np.bincount(LABELS[train], minlength=4) >= 1).all()
    train2, val2 = train_val_split(LABELS, 4, "stratified", fraction=0.2, seed=3)
    np.testing.assert_array_equal(val, val2)
    _, val3 = train_val_split(LABELS, 4, "stratified", fraction=0.2, seed=4)
    assert not np.array_equal(val, val3)


def test_balanced_split_takes_m_per_class_but_leaves_one_for_training():
    train, val = train_val_split(LABELS, 4, "balanced", per_class=10, seed=0)
    assert np.bincount(LABELS[val], minlength=4).tolist() == [10, 10, 4, 1]
    assert np.bincount(LABELS[train], minlength=4).tolist() == [90, 20, 1, 1]


def test_no_split():
    train, val = train_val_split(LABELS, 4, "none")
    assert len(train) == len(LABELS) and len(val) == 0


def test_bad_strategy():
    with pytest.raises(ValueError, match="unknown split strategy 'random'"):
        train_val_split(LABELS, 4, "random")

import numpy as np
import pytest

from autobalance.data.splits import stratified_folds, train_val_split

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


def test_stratified_folds_partition_every_class_evenly_and_follow_the_seed():
    folds = stratified_folds(LABELS, 2, seed=3)
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(len(LABELS)))
    for c, n in enumerate([100, 30, 5, 2]):
        assert sorted(int((LABELS[f] == c).sum()) for f in folds) == [n // 2, n - n // 2]
    assert all(np.array_equal(a, b) for a, b in zip(folds, stratified_folds(LABELS, 2, seed=3), strict=True))
    assert not np.array_equal(folds[0], stratified_folds(LABELS, 2, seed=4)[0])
    with pytest.raises(ValueError, match=r"at least 3 examples of every class.*\{3: 2\}"):
        stratified_folds(LABELS, 3)

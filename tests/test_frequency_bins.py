import numpy as np

from autobalance.frequency_bins import frequency_groups


def test_few_classes_stay_one_per_group_in_descending_count_order():
    groups = frequency_groups(["a", "b", "c"], [5, 50, 5])
    assert [label for label, _ in groups] == ["b", "a", "c"]


def test_many_classes_fall_into_ten_rank_bins_covering_every_class_once():
    counts = np.random.default_rng(0).integers(1, 1000, 8142).tolist()
    groups = frequency_groups([f"c{i}" for i in range(8142)], counts)
    assert len(groups) == 10
    assert sorted(np.concatenate([idx for _, idx in groups]).tolist()) == list(range(8142))
    first_bin, last_bin = groups[0][1], groups[-1][1]
    assert min(counts[i] for i in first_bin) >= max(counts[i] for i in last_bin)
    assert groups[0][0].startswith("ranks 1-815 (n ") and groups[-1][0].startswith("ranks 7329-8142")

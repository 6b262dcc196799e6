import numpy as np

from autobalance.frequency_bins import frequency_bins


def test_few_classes_stay_one_per_bin_in_descending_count_order():
    bins = frequency_bins(["a", "b", "c"], [5, 50, 5])
    assert [label for label, _ in bins] == ["b", "a", "c"]


def test_many_classes_fall_into_ten_rank_bins_covering_every_class_once():
    counts = np.random.default_rng(0).integers(1, 1000, 8142).tolist()
    bins = frequency_bins([f"c{i}" for i in range(8142)], counts)
    assert len(bins) == 10
    assert sorted(np.concatenate([idx for _, idx in bins]).tolist()) == list(range(8142))
    first_bin, last_bin = bins[0][1], bins[-1][1]
    assert min(counts[i] for i in first_bin) >= max(counts[i] for i in last_bin)
    assert bins[0][0].startswith("ranks 1-815 (n ") and bins[-1][0].startswith("ranks 7329-8142")

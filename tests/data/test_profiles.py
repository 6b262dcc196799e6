import numpy as np
import pytest

from autobalance.data.profiles import long_tail_counts, subsample_per_class


@pytest.mark.parametrize(
    ("n_max", "k", "rho", "total"),
    [(5000, 10, 100, 12406), (5000, 10, 10, 20431), (500, 100, 100, 10847), (500, 100, 10, 19573)],
)
def test_exponential_profile_gives_the_standard_cifar_lt_sizes(n_max, k, rho, total):
    counts = long_tail_counts(n_max, k, rho, "exp")
    assert sum(counts) == total
    assert counts[0] == n_max and counts[-1] == int(n_max / rho)
    assert counts == sorted(counts, reverse=True)


def test_step_profile_halves_the_classes():
    assert long_tail_counts(100, 4, 10, "step") == [100, 100, 10, 10]
    assert long_tail_counts(100, 5, 10, "step") == [100, 100, 100, 10, 10]


def test_bad_rho_and_profile_are_rejected():
    with pytest.raises(ValueError, match="rho=0.5"):
        long_tail_counts(100, 10, 0.5)
    with pytest.raises(ValueError, match="unknown long-tail profile 'zipf'"):
        long_tail_counts(100, 10, 10, "zipf")


def test_subsampling_is_seeded_and_exact():
    labels = np.repeat(np.arange(3), 50)
    a = subsample_per_class(labels, [50, 20, 5], seed=1)
    b = subsample_per_class(labels, [50, 20, 5], seed=1)
    c = subsample_per_class(labels, [50, 20, 5], seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.bincount(labels[a]).tolist() == [50, 20, 5]


def test_subsampling_more_than_available_fails():
    with pytest.raises(ValueError, match="class 1 has 2 examples"):
        subsample_per_class(np.array([0, 0, 0, 1, 1]), [1, 3], seed=0)

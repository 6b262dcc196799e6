import torch

from autobalance.group_metrics import per_index_means
from autobalance.losses.functional import cross_entropy
from autobalance.temperature_fit import BETA_MAX, balanced_slope, fitted_inverse_temperature


def _batch(seed=0, n=60, classes=4):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    z = torch.randn(n, classes, generator=g, dtype=torch.float64)
    z[torch.arange(n), y] += 1.5  # better than chance, not separable
    return z, y


def _balanced_ce(beta, z, y, classes=4):
    return per_index_means(cross_entropy(beta * z, y), y, classes).mean()


def test_the_fitted_inverse_temperature_minimizes_balanced_ce_over_a_dense_grid():
    z, y = _batch()
    beta = fitted_inverse_temperature(z, y, 4)
    grid = torch.linspace(0.01, 5.0, 2000, dtype=torch.float64)
    best = grid[torch.stack([_balanced_ce(b, z, y) for b in grid]).argmin()]
    assert abs(float(beta - best)) < 5e-3
    assert abs(float(balanced_slope(beta, z, y, 4))) < 1e-10  # the slope's root, not a grid point


def test_an_overconfident_copy_of_the_logits_gets_the_inverse_of_its_scale():
    z, y = _batch(seed=1)
    beta = fitted_inverse_temperature(z, y, 4)
    torch.testing.assert_close(fitted_inverse_temperature(8 * z, y, 4), beta / 8)


def test_a_separable_batch_takes_the_largest_and_a_worse_than_chance_batch_the_smallest_value():
    y = torch.arange(8) % 4
    separable = 5 * torch.nn.functional.one_hot(y, 4).double()
    assert float(fitted_inverse_temperature(separable, y, 4)) == BETA_MAX
    assert float(fitted_inverse_temperature(-separable, y, 4)) < 1e-12


def test_the_fit_leaves_the_logits_out_of_the_graph():
    z, y = _batch()
    z.requires_grad_(True)
    assert not fitted_inverse_temperature(z, y, 4).requires_grad

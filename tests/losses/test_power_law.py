"""The power-law parametrization: one exponent per part, the baselines' shape."""

import pytest
import torch
import torch.nn.functional as F

from autobalance.config import FamilyConfig
from autobalance.losses import ParametricLoss
from autobalance.losses.factory import build_search_loss, family_loss
from autobalance.losses.family import mean_loss
from autobalance.losses.io import load_loss, save_loss
from autobalance.losses.power_law import fit_exponents, log_relative_frequency
from autobalance.losses.priors import cdt_scales, logit_adjustment_offsets

COUNTS = [500, 200, 80, 30, 10]


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, len(COUNTS), generator=g, dtype=torch.float64), torch.randint(0, 5, (n,), generator=g)


def test_a_vs_start_holds_gamma_and_tau_as_its_two_exponents_and_equals_the_per_class_vs():
    tied = build_search_loss(["scales", "offsets"], "vs", COUNTS, gamma=0.1, tau=1.5, parametrization="power_law")
    free = build_search_loss(["scales", "offsets"], "vs", COUNTS, gamma=0.1, tau=1.5)
    assert [tuple(p.shape) for p in tied.parameters()] == [(1, 1), (1, 1)]
    torch.testing.assert_close(tied.exponents()["scales"], torch.tensor([0.1]))
    torch.testing.assert_close(tied.exponents()["offsets"], torch.tensor([1.5]))
    for name in ("scales", "offsets", "weights"):
        torch.testing.assert_close(tied.values()[name], free.values()[name])


def test_the_loss_is_cross_entropy_of_power_law_scales_offsets_and_weights():
    z, y = _batch()
    loss = ParametricLoss(5, learn=("scales", "offsets", "weights"), counts=COUNTS, parametrization="power_law",
                          scales=cdt_scales(COUNTS, 0.3), offsets=logit_adjustment_offsets(COUNTS, 0.7)).double()
    with torch.no_grad():
        loss.raw_weights.fill_(-0.5)  # weights proportional to n_k^-0.5
    n = torch.tensor(COUNTS, dtype=torch.float64)
    scales, offsets, weights = (n / n.max()) ** 0.3, 0.7 * (n / n.sum()).log(), n**-0.5
    weights = weights / weights.mean()
    expected = (weights[y] * F.cross_entropy(scales * z + offsets, y, reduction="none")).mean()
    torch.testing.assert_close(loss(z, y), expected)


def test_the_exponents_have_finite_difference_gradients():
    z, y = _batch()
    loss = ParametricLoss(5, learn=("scales", "offsets", "weights"), counts=COUNTS, parametrization="power_law",
                          scales=cdt_scales(COUNTS, 0.2), offsets=logit_adjustment_offsets(COUNTS)).double()
    names = [name for name, _ in loss.named_parameters()]

    def f(*raw):
        return torch.func.functional_call(loss, dict(zip(names, raw, strict=True)), (z, y))

    assert torch.autograd.gradcheck(f, tuple(p.detach().clone().requires_grad_(True) for p in loss.parameters()))


def test_a_start_outside_the_family_is_its_least_squares_projection():
    shape = log_relative_frequency(COUNTS)
    offsets = 0.8 * shape + 3.0 + torch.tensor([0.1, -0.1, 0.0, 0.1, -0.1])
    e = fit_exponents(offsets.unsqueeze(0), shape, shift_invariant=True)
    centered = shape - shape.mean()
    residual = (offsets - offsets.mean()) - e[0, 0] * centered
    assert abs(float(residual @ centered)) < 1e-10  # the residual is orthogonal to the shape
    torch.testing.assert_close(fit_exponents((0.8 * shape + 3.0).unsqueeze(0), shape, True), torch.tensor([[0.8]],
                               dtype=torch.float64))


def test_group_tables_get_one_exponent_per_group():
    offsets = torch.stack([logit_adjustment_offsets(COUNTS, 1.0), logit_adjustment_offsets(COUNTS, 2.0)])
    loss = ParametricLoss(5, 2, learn=("offsets",), counts=COUNTS, parametrization="power_law", offsets=offsets)
    torch.testing.assert_close(loss.exponents()["offsets"], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(loss.values()["offsets"], (offsets - offsets.mean(1, keepdim=True)).float())


def test_the_saved_file_names_the_exponents_and_loads_to_the_same_per_class_loss(tmp_path):
    loss = build_search_loss(["scales", "offsets"], "vs", COUNTS, gamma=0.05, parametrization="power_law")
    path = save_loss(tmp_path / "loss.yaml", loss, [f"c{k}" for k in range(5)], COUNTS)
    assert "exponents:\n  scales:\n  - 0.05\n" in path.read_text()
    z, y = _batch()
    torch.testing.assert_close(load_loss(path).double()(z, y), loss.double()(z, y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"counts": [10, 10, 10, 10, 10]}, "different frequencies; every class has 10"),
    ({"counts": None}, "needs the training counts"),
    ({"counts": COUNTS, "cluster_size": 2}, "cluster_size=2"),
    ({"counts": COUNTS, "scale_map": "sigmoid"}, "scale_map='sigmoid'"),
])
def test_what_the_power_law_cannot_take_is_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParametricLoss(5, learn=("scales",), parametrization="power_law", **kwargs)


def test_an_unknown_parametrization_is_named():
    with pytest.raises(ValueError, match="'per_group'.*per_class"):
        ParametricLoss(5, parametrization="per_group")


def test_cross_fitted_power_law_losses_average_their_exponents():
    losses = [build_search_loss(["scales", "offsets"], "vs", COUNTS, gamma=g, tau=t, parametrization="power_law")
              for g, t in ((0.1, 1.0), (0.3, 2.0))]
    mean = mean_loss(losses).exponents()
    torch.testing.assert_close(mean["scales"], torch.tensor([0.2]))
    torch.testing.assert_close(mean["offsets"], torch.tensor([1.5]))


def test_the_configured_family_starts_where_its_settings_say():
    family = FamilyConfig(learn=["scales", "offsets"], init="vs", init_gamma=0.3, init_tau=1.5,
                          parametrization="power_law")
    loss = family_loss(family, COUNTS)
    exponents = loss.exponents()
    assert exponents["scales"].item() == pytest.approx(0.3, abs=1e-6)
    assert exponents["offsets"].item() == pytest.approx(1.5, abs=1e-6)
    assert loss.learn == ("scales", "offsets") and loss.parametrization == "power_law"

import pytest
import torch
import torch.nn.functional as F

from autobalance.losses import ParametricLoss
from autobalance.losses.family import mean_loss, scale_forward, scale_inverse

COUNTS = [500, 200, 80, 30, 10]


def _batch(k=5, n=16, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=dtype), torch.randint(0, k, (n,), generator=g)


def test_default_family_is_plain_cross_entropy():
    z, y = _batch(dtype=torch.float32)
    loss = ParametricLoss(5, learn=())
    torch.testing.assert_close(loss(z, y), F.cross_entropy(z, y))


def test_family_matches_its_formula():
    z, y = _batch()
    scales, offsets = torch.tensor([1.0, 0.9, 0.7, 0.5, 0.3]), torch.tensor([0.3, 0.1, -0.2, 0.0, 0.5])
    weights = torch.tensor([0.5, 1.0, 1.0, 1.5, 2.0])
    loss = ParametricLoss(5, learn=("scales", "offsets", "weights"), scales=scales,
                          offsets=offsets, weights=weights).double()
    l_centered = offsets - offsets.mean()
    w_normed = weights / weights.mean()
    expected = -(w_normed[y] * F.log_softmax(scales * z + l_centered, 1)[torch.arange(16), y]).mean()
    torch.testing.assert_close(loss(z, y), expected.double())


@pytest.mark.parametrize("scale_map", ["exp", "softplus", "sigmoid"])
def test_scale_maps_invert(scale_map):
    s = torch.tensor([0.9, 0.5, 0.2], dtype=torch.float64)
    back = scale_forward(scale_inverse(s, scale_map), scale_map)
    if scale_map == "sigmoid":  # relative scales are placed under sigmoid(1)
        torch.testing.assert_close(back / back.max(), s / s.max())
    else:
        torch.testing.assert_close(back, s)


@pytest.mark.parametrize("scale_map", ["exp", "softplus", "sigmoid"])
@pytest.mark.parametrize("cluster_size", [1, 2])
def test_every_learnable_part_has_finite_difference_gradients(scale_map, cluster_size):
    z, y = _batch()
    loss = ParametricLoss(5, learn=("scales", "offsets", "weights"), scale_map=scale_map,
                          counts=COUNTS, cluster_size=cluster_size,
                          scales=torch.linspace(1.0, 0.4, 5), offsets=torch.randn(5),
                          weights=torch.rand(5) + 0.5).double()
    names = [name for name, _ in loss.named_parameters()]
    assert names == ["raw_scales", "raw_offsets", "raw_weights"]

    def f(*raw):
        return torch.func.functional_call(loss, dict(zip(names, raw, strict=True)), (z, y))

    params = tuple(p.detach().clone().requires_grad_(True) for p in loss.parameters())
    assert torch.autograd.gradcheck(f, params)
    assert torch.autograd.gradcheck(lambda zz: ParametricLoss(5).double()(zz, y),
                                    (z.clone().requires_grad_(True),))


def test_group_tables_select_rows_by_group():
    z, y = _batch(n=8)
    groups = torch.tensor([0, 1] * 4)
    offsets = torch.tensor([[0.0] * 5, [1.0, -1.0, 0.5, 0.0, 2.0]])
    loss = ParametricLoss(5, num_attribute_values=2, learn=("offsets",), offsets=offsets).double()
    per = loss.per_example(z, y, groups)
    off = (offsets - offsets.mean(1, keepdim=True)).double()
    expected = F.cross_entropy(z + off[groups], y, reduction="none")
    torch.testing.assert_close(per, expected)
    # the group offset differs across logits, so it does not cancel in the softmax
    assert not torch.allclose(per[1::2], F.cross_entropy(z, y, reduction="none")[1::2])


def test_offsets_are_centered_and_weights_have_mean_one():
    loss = ParametricLoss(4, learn=("offsets", "weights"), offsets=[1.0, 2.0, 3.0, 6.0],
                          weights=[1.0, 1.0, 2.0, 4.0])
    values = loss.values()
    assert abs(float(values["offsets"].mean())) < 1e-6
    assert abs(float(values["weights"].mean()) - 1) < 1e-6
    assert torch.allclose(values["weights"][0], torch.tensor([0.5, 0.5, 1.0, 2.0]))


def test_fixed_parts_are_buffers_not_parameters():
    loss = ParametricLoss(3, learn=("offsets",))
    assert [n for n, _ in loss.named_parameters()] == ["raw_offsets"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="learn=\\['margins'\\]: expected a subset of scales"):
        ParametricLoss(3, learn=("margins",))
    with pytest.raises(ValueError, match="scale_map='tanh': expected one of sigmoid, softplus, exp"):
        ParametricLoss(3, scale_map="tanh")
    with pytest.raises(ValueError, match="expected \\(1, 3\\)"):
        ParametricLoss(3, offsets=[0.0, 1.0])


def test_the_mean_of_cross_fitted_losses_averages_offsets_and_takes_geometric_means_of_scales():
    a = ParametricLoss(3, learn=("scales", "offsets"), scales=[1.0, 2.0, 4.0], offsets=[1.0, 0.0, -1.0])
    b = ParametricLoss(3, learn=("scales", "offsets"), scales=[4.0, 2.0, 1.0], offsets=[0.0, 0.0, 0.0])
    mean = mean_loss([a, b])
    torch.testing.assert_close(mean.offsets(), torch.tensor([[0.5, 0.0, -0.5]]))
    torch.testing.assert_close(mean.scales(), torch.tensor([[2.0, 2.0, 2.0]]))
    assert mean.learn == a.learn and mean is not a
    torch.testing.assert_close(a.offsets(), torch.tensor([[1.0, 0.0, -1.0]]))  # the inputs are untouched

"""Per-class augmentation strengths: the operations, their bounds and the learned-loss file
(their hypergradients: tests/hypergrad/test_augmentation_magnitudes.py)."""

import pytest
import torch

from autobalance.losses import ParametricLoss
from autobalance.losses.augmentation import BOUNDS, affine_warp, applicable_ops
from autobalance.losses.io import FORMAT, load_loss, save_loss

K = 3


def test_zero_magnitudes_return_the_input_exactly():
    torch.manual_seed(0)
    for x in (torch.randn(5, 3, 28, 28), torch.randn(5, 40), torch.randn(5, 3, 32, 32, dtype=torch.float64)):
        assert torch.equal(affine_warp(x, torch.zeros(5, 2, dtype=x.dtype), torch.ones(5, dtype=x.dtype)), x)


def test_translating_by_one_pixel_moves_the_image_one_pixel():
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    shift = torch.tensor([[2 / 8, 0.0], [0.0, -2 / 8]], dtype=torch.float64)  # one pixel in half-widths
    moved = affine_warp(x, shift, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(moved[0, 0, :, :-1], x[0, 0, :, 1:])  # content moves left: sample x + 1
    torch.testing.assert_close(moved[1, 0, 1:, :], x[1, 0, :-1, :])
    assert moved[0, 0, :, -1].abs().max() == 0  # zero padding enters at the edge


def test_each_class_gets_its_own_magnitude_and_each_example_a_strength_uniform_up_to_it():
    loss = ParametricLoss(K, learn=("augment",), augment_ops=("noise",), augment={"noise": [1e-9, 0.2, 0.4]},
                          augment_max_ratio=None)
    y = torch.arange(K).repeat_interleave(2000)
    torch.manual_seed(0)
    noise_std = loss.augment_inputs(torch.zeros(len(y), 4000, dtype=torch.float64), y).std(dim=1)
    assert noise_std[y == 0].max() < 1e-8
    for k, m in ((1, 0.2), (2, 0.4)):  # uniform on [0, m]: mean m / 2, the largest close to m
        assert abs(noise_std[y == k].mean() / m - 0.5) < 0.02
        assert 0.97 < noise_std[y == k].max() / m < 1.05 and noise_std[y == k].min() / m < 0.01


def test_max_ratio_bounds_the_spread_between_classes_whatever_the_raw_values():
    torch.manual_seed(0)
    loss = ParametricLoss(5, num_attribute_values=2, learn=("augment",), augment_ops=("translate", "noise"),
                          augment_max_ratio=3.0)
    for _ in range(20):
        for p in loss.augmentation.parameters():
            p.data = 10 * torch.randn_like(p)
        for op, table in loss.augmentation.magnitudes().items():
            assert bool((table.max(dim=1).values / table.min(dim=1).values <= 3.0 + 1e-5).all()), op
            assert bool((table <= BOUNDS[op]).all())


def test_max_ratio_keeps_the_starting_magnitudes_and_one_shares_a_single_magnitude():
    start = [0.04, 0.05, 0.06]
    loss = ParametricLoss(K, learn=("augment",), augment_ops=("noise",), augment={"noise": start})
    torch.testing.assert_close(loss.values()["augment_noise"][0], torch.tensor(start), rtol=1e-5, atol=0)
    shared = ParametricLoss(K, learn=("augment",), augment_ops=("noise",), augment_max_ratio=1.0)
    for p in shared.augmentation.parameters():
        p.data = torch.randn_like(p)
    magnitudes = shared.values()["augment_noise"]
    assert torch.equal(magnitudes, magnitudes[:, :1].expand_as(magnitudes))
    with pytest.raises(ValueError, match="do not fit max_ratio 2.0"):
        ParametricLoss(K, learn=("augment",), augment_ops=("noise",), augment={"noise": [0.01, 0.1, 0.1]})
    with pytest.raises(ValueError, match="do not fit max_ratio 1.0"):
        ParametricLoss(K, learn=("augment",), augment_ops=("noise",), augment={"noise": start}, augment_max_ratio=1.0)
    with pytest.raises(ValueError, match="max_ratio 0.5: expected a number >= 1"):
        ParametricLoss(K, learn=("augment",), augment_ops=("noise",), augment_max_ratio=0.5)


def test_magnitudes_stay_inside_their_bounds_whatever_the_raw_values():
    loss = ParametricLoss(K, learn=("augment",), augment_ops=("translate", "scale", "noise"))
    for raw in (-1e4, 0.0, 1e4):
        for p in loss.augmentation.parameters():
            p.data.fill_(raw)
        for op, table in loss.augmentation.magnitudes().items():
            assert bool(((table >= 0) & (table <= BOUNDS[op])).all()), (op, raw)
    with pytest.raises(ValueError, match=r"initial scale magnitudes must lie in \(0, 0.3\)"):
        ParametricLoss(K, augment_ops=("scale",), augment={"scale": 0.5})
    with pytest.raises(ValueError, match="augment_ops"):
        ParametricLoss(K, learn=("augment",))


def test_geometric_operations_suit_images_and_signals_and_noise_suits_everything():
    assert applicable_ops(3) == ("translate", "scale", "noise") == applicable_ops(1)
    assert applicable_ops(2) == ("noise",)


def test_the_learned_loss_file_keeps_the_magnitudes_and_old_files_still_load(tmp_path):
    loss = ParametricLoss(K, learn=("offsets", "augment"), offsets=[0.5, 0.0, -0.5],
                          augment_ops=("translate", "noise"), augment={"translate": [0.01, 0.1, 0.4], "noise": 0.05},
                          augment_bounds={"translate": 0.5}, augment_max_ratio=None)
    path = save_loss(tmp_path / "learned.yaml", loss, ["a", "b", "c"], [30, 20, 10])
    again = load_loss(path, num_classes=K)
    assert again.augmentation.ops == ("translate", "noise") and again.learn == ()
    assert again.augmentation.bounds == {"translate": 0.5, "noise": BOUNDS["noise"]}
    for op, table in loss.augmentation.magnitudes().items():
        torch.testing.assert_close(again.augmentation.magnitudes()[op], table, rtol=1e-6, atol=1e-7)
    old = path.read_text().replace(FORMAT, "autobalance.learned_loss/v1")
    old = old[: old.index("augmentation:")] + old[old.index("provenance:"):]
    (tmp_path / "v1.yaml").write_text(old)
    v1 = load_loss(tmp_path / "v1.yaml")
    assert v1.augmentation is None
    torch.testing.assert_close(v1.offsets(), loss.offsets().detach())

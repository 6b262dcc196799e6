import torch
import torch.nn.functional as F

from autobalance.data.augment import geometric, random_crop_flip, random_shift_1d


def _is_shifted_copy(out: torch.Tensor, img: torch.Tensor, pad: int, allow_flip: bool) -> bool:
    padded = F.pad(img, (pad, pad, pad, pad))
    h, w = img.shape[-2:]
    for candidate in [padded, padded.flip(-1)] if allow_flip else [padded]:
        for dy in range(2 * pad + 1):
            for dx in range(2 * pad + 1):
                if torch.equal(out, candidate[:, dy : dy + h, dx : dx + w]):
                    return True
    return False


def test_crop_flip_outputs_are_padded_crops_of_their_own_image():
    x = torch.randint(0, 256, (16, 3, 6, 6), dtype=torch.uint8)
    out = random_crop_flip(x, 2, True, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    assert all(_is_shifted_copy(out[i], x[i], 2, True) for i in range(16))
    shifted = random_crop_flip(x, 2, False, torch.Generator().manual_seed(0))
    assert all(_is_shifted_copy(shifted[i], x[i], 2, False) for i in range(16))


def test_crop_flip_is_seeded_and_flips_about_half():
    x = torch.randn(400, 1, 3, 5)
    a = random_crop_flip(x, 0, True, torch.Generator().manual_seed(0))
    b = random_crop_flip(x, 0, True, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    flipped = torch.tensor([torch.equal(a[i], x[i].flip(-1)) for i in range(400)])
    assert 150 < int(flipped.sum()) < 250


def test_1d_shift_moves_whole_sequences():
    x = torch.arange(1.0, 11.0).repeat(50, 1)
    y = random_shift_1d(x, 2, torch.Generator().manual_seed(1))
    shifts = set()
    for row in y:
        nonzero = row[row != 0]
        assert torch.equal(nonzero, nonzero.sort().values)
        shifts.add(int(row.argmax()) - 9)
    assert shifts == {-2, -1, 0}  # the maximum (10) moves left, or falls off the end (shift > 0)


def test_named_augmentations():
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(geometric(x, "none", torch.Generator()), x)
    assert geometric(x, "crop_flip", torch.Generator().manual_seed(0)).shape == x.shape
    try:
        geometric(x, "mixup", torch.Generator())
    except ValueError as e:
        assert "unknown augmentation 'mixup'" in str(e)
    else:
        raise AssertionError("an unknown augmentation must be rejected")

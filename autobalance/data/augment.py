"""Batch augmentations as tensor ops (no per-sample Python), driven by an explicit generator.

Geometric augmentations keep the dtype, so images are cropped and flipped as uint8 before the
float conversion; crops are read through an ``unfold`` view with one small index per image,
which avoids building a full-size index tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autobalance.errors import InputError

AUGMENTATIONS = ("none", "crop_flip", "shift", "shift_noise")
NOISE_STD = {"shift_noise": 0.05}


def _uniform_ints(n: int, high: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(0, high, (n,), generator=gen).to(device)


def random_crop_flip(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad NCHW images by ``pad``, crop back at a random offset per image and, with
    ``flip``, mirror each image horizontally with probability 1/2."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = _uniform_ints(b, 2 * pad + 1, gen, x.device)
    ox = _uniform_ints(b, 2 * pad + 1, gen, x.device)
    batch = torch.arange(b, device=x.device)
    if not flip:
        return padded.unfold(2, h, 1).unfold(3, w, 1)[batch, :, oy, ox]
    mirrored = _uniform_ints(b, 2, gen, x.device)
    both = torch.stack([padded, padded.flip(-1)])
    return both.unfold(3, h, 1).unfold(4, w, 1)[mirrored, batch, :, oy, ox]


def random_shift_1d(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift (N, L) sequences by up to ``max_shift`` steps either way, zero-filled."""
    b, length = x.shape
    windows = F.pad(x, (max_shift, max_shift)).unfold(1, length, 1)
    offset = _uniform_ints(b, 2 * max_shift + 1, gen, x.device)
    return windows[torch.arange(b, device=x.device), offset]


def gaussian_noise(x: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    return x + std * torch.randn(x.shape, generator=gen).to(x.device, x.dtype)


def geometric(x: torch.Tensor, name: str, gen: torch.Generator) -> torch.Tensor:
    """The dtype-preserving part of the named augmentation."""
    if name == "none":
        return x
    if name == "crop_flip":
        return random_crop_flip(x, 4, True, gen)
    if name == "shift":
        return random_crop_flip(x, 2, False, gen)
    if name == "shift_noise":
        return random_shift_1d(x, 3, gen)
    raise InputError(f"unknown augmentation {name!r}; expected one of {AUGMENTATIONS}")

"""Batch augmentations as tensor ops (no per-sample Python), driven by an explicit generator."""

from __future__ import annotations

import torch

AUGMENTATIONS = ("none", "crop_flip", "shift", "shift_noise")


def _uniform_ints(n: int, high: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(0, high, (n,), generator=gen).to(device)


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad NCHW images by ``pad`` and crop back at a random offset per image."""
    if pad == 0:
        return x
    b, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = _uniform_ints(b, 2 * pad + 1, gen, x.device)
    ox = _uniform_ints(b, 2 * pad + 1, gen, x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flip each image horizontally with probability 1/2."""
    flip = _uniform_ints(x.shape[0], 2, gen, x.device).bool()[:, None, None, None]
    return torch.where(flip, x.flip(-1), x)


def random_shift_1d(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift (N, L) sequences by up to ``max_shift`` steps either way, zero-filled."""
    b, length = x.shape
    padded = torch.nn.functional.pad(x, (max_shift, max_shift))
    offset = _uniform_ints(b, 2 * max_shift + 1, gen, x.device)
    cols = offset[:, None] + torch.arange(length, device=x.device)
    return padded.gather(1, cols)


def gaussian_noise(x: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    return x + std * torch.randn(x.shape, generator=gen).to(x.device, x.dtype)


def augment(x: torch.Tensor, name: str, gen: torch.Generator) -> torch.Tensor:
    """Apply the named augmentation to a float batch (images in [0, 1], or sequences)."""
    if name == "none":
        return x
    if name == "crop_flip":
        return random_flip(random_crop(x, 4, gen), gen)
    if name == "shift":
        return random_crop(x, 2, gen)
    if name == "shift_noise":
        return gaussian_noise(random_shift_1d(x, 3, gen), 0.05, gen)
    raise ValueError(f"unknown augmentation {name!r}; expected one of {AUGMENTATIONS}")

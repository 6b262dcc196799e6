"""Small bodies: a CNN for 28x28 grayscale, a 1-D CNN for MNIST-1D, an MLP for vectors."""

from __future__ import annotations

import torch
from torch import nn


class ConvNet28(nn.Module):
    """Two conv-BN-ReLU-pool stages and a hidden layer; about 65k parameters at width 32."""

    def __init__(self, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(2 * width, 4 * width), nn.ReLU(),
        )
        self.out_dim = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvNet1d(nn.Module):
    """Three 1-D conv layers over a length-L sequence (MNIST-1D: L = 40)."""

    def __init__(self, length: int = 40, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(width * ((length + 3) // 4), 4 * width), nn.ReLU(),
        )
        self.out_dim = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(1))


class MLP(nn.Module):
    def __init__(self, in_features: int, width: int = 128, depth: int = 2) -> None:
        super().__init__()
        layers, dim = [nn.Flatten()], in_features
        for _ in range(depth):
            layers += [nn.Linear(dim, width), nn.ReLU()]
            dim = width
        self.net = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

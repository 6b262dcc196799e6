"""Classifier heads: plain linear, or the cosine-normalized head used by LDAM."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NormedLinear(nn.Module):
    """Cosine similarity between normalized features and normalized class weights (LDAM)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        nn.init.uniform_(self.weight, -1, 1)
        with torch.no_grad():
            self.weight.renorm_(2, 1, 1e-5).mul_(1e5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)


def make_head(in_features: int, num_classes: int, normalized: bool) -> nn.Module:
    return NormedLinear(in_features, num_classes) if normalized else nn.Linear(in_features, num_classes)


class Classifier(nn.Module):
    """A feature extractor followed by ``head``; ``features`` is exposed for last-layer methods."""

    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int,
                 normalized_head: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.body = body
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = make_head(feature_dim, num_classes, normalized_head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

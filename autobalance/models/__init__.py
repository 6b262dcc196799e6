"""Models built by name: ``create_model("resnet32", input_shape, num_classes)``."""

from __future__ import annotations

import math

from autobalance.models.heads import Classifier, NormedLinear
from autobalance.models.resnet_cifar import ResNetCifarBody
from autobalance.models.small_nets import MLP, ConvNet1d, ConvNet28

MODEL_NAMES = ("resnet32", "cnn28", "cnn1d", "mlp")


def create_model(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    width: int | None = None,
    normalized_head: bool = False,
    dropout: float = 0.0,
) -> Classifier:
    """Build a classifier; ``input_shape`` excludes the batch dimension (C, H, W) or (L,)."""
    if name == "resnet32":
        body = ResNetCifarBody(input_shape[0], 5, width or 16)
    elif name == "cnn28":
        body = ConvNet28(input_shape[0], width or 32)
    elif name == "cnn1d":
        body = ConvNet1d(input_shape[-1], width or 32)
    elif name == "mlp":
        body = MLP(math.prod(input_shape), width or 128)
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    return Classifier(body, body.out_dim, num_classes, normalized_head, dropout)


__all__ = ["Classifier", "NormedLinear", "MODEL_NAMES", "create_model"]

"""Models built by name: ``create_model("resnet32", input_shape, num_classes)``.

``MODELS`` maps a name to ``body(input_shape, width)``, a feature extractor with ``out_dim``;
register another with ``@MODELS.register("name")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

from autobalance.models.heads import Classifier, NormedLinear
from autobalance.models.resnet_cifar import ResNetCifarBody
from autobalance.models.small_nets import MLP, ConvNet1d, ConvNet28
from autobalance.registry import Registry

MODELS: Registry[Callable[[tuple[int, ...], int | None], nn.Module]] = Registry("model.name")


@MODELS.register("resnet32")
def _resnet32(input_shape, width):
    return ResNetCifarBody(input_shape[0], 5, width or 16)


@MODELS.register("resnet8")
def _resnet8(input_shape, width):
    """ResNet-32's stages with one block each: a CIFAR ResNet a CPU trains in minutes per epoch."""
    return ResNetCifarBody(input_shape[0], 1, width or 16)


@MODELS.register("cnn28")
def _cnn28(input_shape, width):
    return ConvNet28(input_shape[0], width or 32)


@MODELS.register("cnn1d")
def _cnn1d(input_shape, width):
    return ConvNet1d(input_shape[-1], width or 32)


@MODELS.register("mlp")
def _mlp(input_shape, width):
    return MLP(math.prod(input_shape), width or 128)


def create_model(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    width: int | None = None,
    normalized_head: bool = False,
    dropout: float = 0.0,
) -> Classifier:
    """Build a classifier; ``input_shape`` excludes the batch dimension (C, H, W) or (L,)."""
    body = MODELS[name](input_shape, width)
    return Classifier(body, body.out_dim, num_classes, normalized_head, dropout)


__all__ = ["Classifier", "MODELS", "NormedLinear", "create_model"]

"""Models built by name: ``create_model("resnet32", input_shape, num_classes)``.

``MODELS`` maps a name to ``body(input_shape, settings)``, a feature extractor with ``out_dim``,
registered with its settings class (a :class:`~autobalance.config.ModelConfig` subclass with the
body's own settings): ``@register_model("name", MySettings)``; ``model.<key>=value`` sets them from
the command line. The classifier head (``normalized_head``, ``dropout``) is every model's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

from autobalance.config import ConfigError, ModelConfig, require
from autobalance.models.heads import Classifier, NormedLinear
from autobalance.models.resnet_cifar import ResNetCifarBody
from autobalance.models.small_nets import MLP, ConvNet1d, ConvNet28
from autobalance.registry import Registry
from autobalance.settings import as_registered, build_settings

MODELS: Registry[Callable[[tuple[int, ...], Any], nn.Module]] = Registry("model.name")
"""Model bodies by name, built as ``body(input_shape, settings)``; each entry's ``settings``
metadata is its :class:`~autobalance.config.ModelConfig` subclass."""
B = TypeVar("B", bound=Callable[..., nn.Module])


def register_model(name: str, settings: type[ModelConfig] = ModelConfig, **metadata: Any) -> Callable[[B], B]:
    """Register ``body(input_shape, settings)`` under ``name`` with its settings dataclass."""
    if not (dataclasses.is_dataclass(settings) and issubclass(settings, ModelConfig)):
        raise TypeError(f"register_model({name!r}): settings must be a ModelConfig dataclass, got {settings!r}")
    return MODELS.register(name, settings=settings, **metadata)


def model_config(name: str = "cnn1d", **values: Any) -> ModelConfig:
    """The settings of the model ``name``: ``values`` over its standard ones, checked.

    >>> model_config("resnet8", width=32)
    ResNetConfig(name='resnet8', normalized_head=False, dropout=0.0, sync_batchnorm=False, width=32)
    """
    return build_settings(MODELS, "model", name, values)


@dataclass
class WidthConfig(ModelConfig):
    width: int = 32
    """Channels of the first stage (convolutional nets) or hidden units (the MLP)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.width >= 1, "model.width", self.width, "an integer >= 1")


@dataclass
class ResNetConfig(WidthConfig):
    width: int = 16


@dataclass
class MLPConfig(WidthConfig):
    width: int = 128


@register_model("resnet32", ResNetConfig, takes="images (C, H, W)", ranks=(3,))
def _resnet32(input_shape, settings):
    return ResNetCifarBody(input_shape[0], 5, settings.width)


@register_model("resnet8", ResNetConfig, takes="images (C, H, W)", ranks=(3,))
def _resnet8(input_shape, settings):
    """ResNet-32's stages with one block each: a CIFAR ResNet a CPU trains in minutes per epoch."""
    return ResNetCifarBody(input_shape[0], 1, settings.width)


@register_model("cnn28", WidthConfig, takes="images (C, H, W)", ranks=(3,))
def _cnn28(input_shape, settings):
    return ConvNet28(input_shape[0], settings.width)


@register_model("cnn1d", WidthConfig, takes="sequences (L,)", ranks=(1,))
def _cnn1d(input_shape, settings):
    return ConvNet1d(input_shape[-1], settings.width)


@register_model("mlp", MLPConfig)
def _mlp(input_shape, settings):
    return MLP(math.prod(input_shape), settings.width)


def create_model(model: str | ModelConfig, input_shape: tuple[int, ...], num_classes: int,
                 **settings: Any) -> Classifier:
    """Build a classifier: ``model`` is a name (its standard settings, ``settings`` over them:
    ``create_model("mlp", (7,), 4, width=16)``) or a settings object; ``input_shape`` excludes the
    batch dimension (C, H, W) or (L,).

    >>> import torch
    >>> model = create_model("mlp", (7,), 4, width=16)
    >>> model(torch.zeros(2, 7)).shape, model.head.in_features
    (torch.Size([2, 4]), 16)
    """
    cfg = model_config(model, **settings) if isinstance(model, str) else as_registered(MODELS, "model", model)
    meta = MODELS.metadata(cfg.name)
    if "ranks" in meta and len(input_shape) not in meta["ranks"]:
        rank = len(input_shape)
        fits = sorted(n for n in MODELS.names() if rank in MODELS.metadata(n).get("ranks", (rank,)))
        raise ConfigError(f"model.name={cfg.name!r} takes {meta['takes']}, but the data's examples have shape "
                          f"{tuple(input_shape)}: expected a model for them ({', '.join(fits)})")
    body = MODELS[cfg.name](input_shape, cfg)
    return Classifier(body, body.out_dim, num_classes, cfg.normalized_head, cfg.dropout)


__all__ = ["Classifier", "MLPConfig", "MODELS", "ModelConfig", "NormedLinear", "ResNetConfig", "WidthConfig",
           "create_model", "model_config", "register_model"]

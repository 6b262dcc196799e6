"""The compiled training step (``compile=true``): ``torch.compile`` of the module the training
step runs (its forward and, through AOTAutograd, its backward), with static shapes.

Only the training step is compiled. Evaluation, the hyper-steps (which call the model through
``torch.func.functional_call``) and the loss stay eager: they run rarely, and compiling them would
add graphs for every mode and shape they meet. With static shapes a run compiles one graph per
training batch shape: the full batch, and the epoch's last partial batch when the training set is
not a multiple of the batch size (cached after the first epoch, never recompiled). On CUDA the
graphs are replayed as CUDA graphs (``mode="reduce-overhead"``, where a small network is
launch-bound) and the optimizer is PyTorch's fused SGD.
"""

from __future__ import annotations

import torch
from torch import nn


def compiled_module(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` compiled for the training step on ``device``; shares its parameters and buffers."""
    return torch.compile(module, dynamic=False, mode="reduce-overhead" if device.type == "cuda" else None)


def compiled_graphs() -> int:
    """How many graphs torch.compile has made in this process (its recompilations included)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])

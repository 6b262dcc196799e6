"""Data parallelism across processes (torchrun): this process's place in the job, and the few
collectives the search needs.

Every rank holds the same model and loss parameters and its own shard of every batch. Inner
steps average gradients through DistributedDataParallel; hyper-steps average explicitly
(:meth:`Ranks.mean`), because the engine differentiates functional copies of the parameters
that DDP never sees. Reductions go through one flat buffer per call, so a Hessian-vector
product costs one all-reduce whatever the number of parameter tensors.
"""

from __future__ import annotations

import copy
import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from autobalance.errors import InputError


@dataclass(frozen=True)
class Ranks:
    """This process's rank among ``world_size`` processes (one when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints, logs and writes the run directory."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def shard(self, n: int) -> slice:
        """This rank's contiguous part of ``n`` items: equal parts when ``world_size`` divides
        ``n``, else the first ``n % world_size`` ranks hold one more."""
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def mean(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The average of each tensor over the ranks (one all-reduce of one flat buffer)."""
        tensors = list(tensors)
        if not self.active or not tensors:
            return tensors
        flat = torch.cat([t.detach().reshape(-1).to(tensors[0].dtype) for t in tensors])
        dist.all_reduce(flat)
        flat /= self.world_size
        out, i = [], 0
        for t in tensors:
            out.append(flat[i : i + t.numel()].view_as(t).to(t.dtype))
            i += t.numel()
        return out

    def sum(self, values: Sequence[float]) -> list[float]:
        """Plain numbers summed over the ranks (epoch totals for the record)."""
        if not self.active:
            return list(values)
        flat = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(flat)
        return flat.tolist()

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's ``tensor`` (equal shapes), in rank order; not differentiable."""
        if not self.active:
            return [tensor]
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.detach().contiguous())
        return parts

    def differing(self, tensors: Sequence[torch.Tensor]) -> float:
        """Largest absolute difference between any rank's tensors and rank 0's (0 when alone)."""
        if not self.active or not tensors:
            return 0.0
        flat = torch.cat([t.detach().reshape(-1).double().cpu() for t in tensors])
        reference = flat.clone()
        dist.broadcast(reference, src=0)
        gap = (flat - reference).abs().max().reshape(1)
        dist.all_reduce(gap, op=dist.ReduceOp.MAX)
        return float(gap)

    def broadcast_object(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


SINGLE = Ranks()


def whole_batch_objective(objective, ranks: Ranks):
    """A validation objective over the whole batch that the ranks' shards make up, as a
    closure's ``batch_loss(logits, targets, groups, hparams)``.

    Objectives such as balanced cross-entropy average per class within the batch, so the mean
    of the shards' objectives is not the batch's. Here every rank evaluates the objective on
    the gathered logits with its own shard's part differentiable, and scales that part's
    gradient by the number of ranks: the ranks' averaged gradients are then exactly those of
    the whole batch (its value too), for any objective.
    """
    if not ranks.active:
        return lambda z, y, g, hp: objective(z, y, g)
    world = ranks.world_size

    def batch_loss(z, y, g, hp):
        logits = ranks.gather(z)
        logits[ranks.rank] = z
        groups = None if g is None else torch.cat(ranks.gather(g))
        whole = objective(torch.cat(logits), torch.cat(ranks.gather(y)), groups)
        return world * whole - (world - 1) * whole.detach()

    return batch_loss


def ranks_from_env(env: dict[str, str] | None = None) -> Ranks:
    """The place torchrun (or any launcher setting RANK / WORLD_SIZE / LOCAL_RANK) gave this process.

    In a submitit job with several tasks (``hydra/launcher=slurm`` with ``tasks_per_node`` > 1),
    submitit's own helper first exports those variables (and the rendezvous address) for it."""
    if env is None:
        env = os.environ
        if "RANK" not in env and "SUBMITIT_EXECUTOR" in env:
            _export_submitit_environment()
    world = int(env.get("WORLD_SIZE", "1"))
    rank = int(env.get("RANK", "0"))
    if world < 1 or not 0 <= rank < world:
        raise InputError(f"RANK={rank}, WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE")
    return Ranks(rank, world, int(env.get("LOCAL_RANK", str(rank))))


def _export_submitit_environment() -> None:
    from submitit import JobEnvironment
    from submitit.helpers import TorchDistributedEnvironment

    if JobEnvironment().num_tasks > 1:
        TorchDistributedEnvironment().export()


def current_ranks() -> Ranks:
    """This process's place in the initialized process group, or :data:`SINGLE`."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def start_process_group(ranks: Ranks, timeout_minutes: float = 30.0) -> None:
    """Join the job's process group (rendezvous from torchrun's MASTER_ADDR / MASTER_PORT), once.
    With CUDA, each process takes the device of its local rank."""
    if not ranks.active or dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(ranks.local_rank % torch.cuda.device_count())
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, rank=ranks.rank, world_size=ranks.world_size,
                            timeout=datetime.timedelta(minutes=timeout_minutes))


def stop_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def data_parallel(model: torch.nn.Module, ranks: Ranks, sync_batchnorm: bool = False) -> torch.nn.Module:
    """The module a training step calls: ``model`` itself in one process; under torchrun,
    DistributedDataParallel around it, or around a twin whose BatchNorm layers synchronize
    their statistics across ranks (CUDA only) and that shares every parameter and buffer with
    ``model``. The hyper-steps keep calling ``model``: per-rank statistics, differentiable twice."""
    if not ranks.active:
        return model
    device = next(model.parameters()).device
    if sync_batchnorm and device.type != "cuda":
        raise InputError(f"model.sync_batchnorm=true needs CUDA devices (torch's SyncBatchNorm has no "
                         f"{device.type} kernel); set model.sync_batchnorm=false for per-rank statistics")
    module = sync_batchnorm_twin(model) if sync_batchnorm else model
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def sync_batchnorm_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with SyncBatchNorm layers, holding ``model``'s own parameter and
    buffer tensors (an optimizer over ``model`` trains it; its statistics are ``model``'s)."""
    twin = copy.deepcopy(model)
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        owner, _, leaf = name.rpartition(".")
        setattr(twin.get_submodule(owner), leaf, tensor)
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(twin)

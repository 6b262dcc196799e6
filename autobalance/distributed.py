"""Data parallelism across processes (torchrun): this process's place in the job, and the few
collectives the search needs.

Every rank holds the same model and loss parameters and its own shard of every batch. Inner
steps average gradients through DistributedDataParallel; hyper-steps average explicitly
(:meth:`Ranks.mean`), because the engine differentiates functional copies of the parameters
that DDP never sees. Reductions go through one flat buffer per call, so a Hessian-vector
product costs one all-reduce whatever the number of parameter tensors.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

BACKENDS = "cpu:gloo,cuda:nccl"
"""gloo for CPU tensors, NCCL for CUDA ones: one process group serves either device."""


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


def ranks_from_env(env: dict[str, str] | None = None) -> Ranks:
    """The place torchrun (or any launcher setting RANK / WORLD_SIZE / LOCAL_RANK) gave this process."""
    env = os.environ if env is None else env
    world = int(env.get("WORLD_SIZE", "1"))
    rank = int(env.get("RANK", "0"))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank}, WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE")
    return Ranks(rank, world, int(env.get("LOCAL_RANK", str(rank))))


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
    dist.init_process_group(BACKENDS, rank=ranks.rank, world_size=ranks.world_size,
                            timeout=datetime.timedelta(minutes=timeout_minutes))


def stop_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

"""Several processes under ``torchrun``: who am I, and the few collective steps we need.

``torchrun --nproc-per-node N forecast train ...`` (or across nodes with
``--nnodes``/``--rdzv-endpoint``) sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; the
process group uses NCCL on CUDA and gloo on CPU. Without them everything is one process
and every helper here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from pipelines.store import Team


@dataclass(frozen=True)
class Ranks:
    """This process's place among ``world`` processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, metadata and progress bars."""
        return self.rank == 0

    def device(self, device: str) -> str:
        """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
        return f"cuda:{self.local_rank}" if device == "cuda" and self.world > 1 else device

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def team(self) -> Team:
        """These processes as co-writers of one store (:func:`pipelines.store.write_store`)."""
        return Team(self.rank, self.world, self.barrier)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over all processes (for logging a global loss)."""
        if self.world == 1:
            return value
        total = value.detach().clone()
        dist.all_reduce(total)
        return total / self.world


def torch_ranks(device: str = "cpu") -> Ranks:
    """The ranks from torchrun's environment, joining the process group on first call."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks()
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group(backend=backend)
    return ranks

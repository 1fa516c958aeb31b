"""Distributed set-up shared by the trainers: the device of this process, the torchrun process
group and the few collective calls the training loops make.

Every trainer runs unchanged under ``torchrun``: with WORLD_SIZE > 1 it joins the process group
(NCCL on GPUs, gloo on CPU), wraps its network in DistributedDataParallel and sums its statistics
across ranks; alone, every call here is a no-op and the network is used as it is.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


def local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK; 0 when not launched by it)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    """True on rank 0 (torchrun's RANK) and when not launched by torchrun: the process that prints."""
    return int(os.environ.get("RANK", "0")) == 0


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto'; a bare 'cuda' means this rank's GPU (LOCAL_RANK)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank())
    return device


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the run: its rank among ``world`` processes."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False  # this code joined the process group (and leaves it when done)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_reduce(self, t: torch.Tensor) -> None:
        """Sum ``t`` in place across the processes."""
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` in DistributedDataParallel when several processes train it; itself otherwise."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def leave(self) -> None:
        """Leave the process group if :func:`init_distributed` joined it."""
        if self.active and self.owns_group:
            dist.destroy_process_group()


def init_distributed(device: torch.device) -> DistContext:
    """Make ``device`` this process's GPU (when it is one) and join the process group when launched
    by torchrun (WORLD_SIZE > 1); a single process otherwise."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_world_size(), dist.get_rank(), local_rank(), owns)

"""The training step of the RQ-VAE family (rqvae, quasid, adasid), run by the shared step loop
(training/step_loop.py: optimizer, resume, progress, log, checkpoints).

Each step: the batch plan gives catalogue rows → the network gives x̂, z, ẑ, codes → reconstruction +
quantizer losses + every plug-in objective → one AdamW step. Every term is logged per step. Every
``restart_every`` steps, codewords no row picked since the last check are moved onto batch residuals.

Resume: a checkpoint holds the network, the optimizer and the log; batches and restarts depend only on
(seed, step), so a resumed run ends with the same weights as an uninterrupted one.

Data parallel: under ``torchrun`` (torch.distributed initialised, gloo on CPU) the network is wrapped in
DDP, each process takes its share of every global batch, and rank 0 decides restarts and writes
checkpoints; the other processes receive its codebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from sidkit.collab.pair_batches import BatchPlan
from sidkit.methods.rqvae_network import RQVAENetwork
from sidkit.objectives.base import Batch, Objective
from sidkit.objectives.reconstruction import reconstruction_loss
from sidkit.training.step_loop import train_steps


def colliding_pairs(codes: torch.Tensor, items: torch.Tensor) -> int:
    """Pairs of distinct items in the batch with the same full code tuple."""
    _, per_code = torch.unique(codes, dim=0, return_counts=True)
    _, per_item = torch.unique(items, return_counts=True)
    return int((per_code * (per_code - 1)).sum() // 2 - (per_item * (per_item - 1)).sum() // 2)


def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(net: RQVAENetwork, objectives: list[Objective], x: np.ndarray, plan: BatchPlan, *, steps: int,
          lr: float, weight_decay: float, restart_every: int, seed: int, config: dict[str, Any],
          checkpoint_dir: str | Path | None = None, checkpoint_every: int = 500, resume: bool = False,
          progress: bool = True, after_step: Callable[[int], None] | None = None) -> list[dict[str, float]]:
    rank, n_proc = world()
    xt = torch.as_tensor(x)
    model = DistributedDataParallel(net, broadcast_buffers=False) if n_proc > 1 else net

    def step_terms(step: int):
        rows, n_pairs = plan.rows(step, rank, n_proc)
        items = torch.from_numpy(rows)
        batch = Batch(xt[items], items, n_pairs)
        x_hat, z, q = model(batch.x)
        terms = {"reconstruction": reconstruction_loss(batch.x, x_hat), **q.losses}
        for objective in objectives:
            terms.update(objective(batch, z, q.z_q, q.codes, step))
        return terms, (q, items)

    return train_steps(
        net, step_terms, steps=steps, lr=lr, weight_decay=weight_decay, config=config, restart_every=restart_every,
        extra=lambda step, s: {"n_batch_collision_pairs": colliding_pairs(s[0].codes, s[1])},
        restart=lambda step, s: {"n_restarted_codes": restart_dead_codes(net, s[0].residuals, seed, step, rank, n_proc)},
        shown=("loss", "n_batch_collision_pairs"), checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
        resume=resume, progress=progress, writer=rank == 0, after_step=after_step)


@torch.no_grad()
def restart_dead_codes(net: RQVAENetwork, residuals: list[torch.Tensor], seed: int, step: int, rank: int,
                       n_proc: int) -> int:
    vq = net.quantizer
    if n_proc > 1:
        dist.all_reduce(vq.usage)  # a code is dead only if no process picked it
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    moved = torch.tensor(vq.restart_dead(residuals, g) if rank == 0 else 0)
    if n_proc > 1:
        vq.usage.zero_()
        dist.broadcast(vq.codebooks.data, src=0)
        dist.broadcast(moved, src=0)
    return int(moved)

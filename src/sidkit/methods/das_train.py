"""DAS's one-stage training step (run by the shared step loop, training/step_loop.py), in one screen.

Each step: ``batch_size`` training clicks (u, i) in a seeded per-epoch order, a co-click partner per
click (u′ who also clicked i, i′ that u also clicked), and a uniform slice (half as many) of catalogue
items and of users → both RQ-VAEs forward once over [clicked; partner; uniform] rows → L_sem of both + L_cf (in-batch
InfoNCE of the two towers) + debias terms + the six views on the click rows → one AdamW step. Dead
codes of both codebooks restart every ``restart_every`` steps. Every term is logged per step.

Batches, partners and restarts depend only on (seed, step), so a resumed run (checkpoint of the whole
DASNetwork and the optimizer) ends with the same weights as an uninterrupted one. Single process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sidkit.collab.co_clicks import CoClicks
from sidkit.collab.debiased_two_tower import DebiasedTwoTower, popularity_statistics
from sidkit.collab.pair_batches import BatchPlan
from sidkit.data.types import Interactions
from sidkit.methods.rqvae_network import RQVAENetwork
from sidkit.methods.train_loop import restart_dead_codes
from sidkit.objectives.contrastive import info_nce
from sidkit.objectives.debias import debias_terms
from sidkit.objectives.multiview_alignment import DualBatch, MultiViewAlignment
from sidkit.objectives.reconstruction import reconstruction_loss
from sidkit.training.step_loop import train_steps


class DASNetwork(nn.Module):
    """Everything DAS trains: the item and user RQ-VAEs and the ICDM two-tower model."""

    def __init__(self, item: RQVAENetwork, user: RQVAENetwork, cf: DebiasedTwoTower) -> None:
        super().__init__()
        self.item, self.user, self.cf = item, user, cf


def semantic_terms(net: RQVAENetwork, x: torch.Tensor, side: str):
    """L_sem of one RQ-VAE on rows ``x``: named terms, ẑ and the quantizer output (for restarts)."""
    x_hat, _, q = net(x)
    terms = {f"reconstruction_{side}": reconstruction_loss(x, x_hat),
             **{f"{name}_{side}": value for name, value in q.losses.items()}}
    return terms, q


def train_das(net: DASNetwork, x_item: np.ndarray, x_user: np.ndarray, train: Interactions, *,
              views: tuple[str, ...], steps: int, batch_size: int, lr: float, weight_decay: float,
              restart_every: int, cf_weight: float, align_weight: float, temperature: float, seed: int,
              config: dict[str, Any], checkpoint_dir: str | Path | None = None, checkpoint_every: int = 500,
              resume: bool = False, progress: bool = True) -> list[dict[str, float]]:
    xi, xu = torch.as_tensor(x_item), torch.as_tensor(x_user)
    stats = popularity_statistics(train)
    pop, conf = torch.from_numpy(stats.item_popularity), torch.from_numpy(stats.user_conformity)
    co = CoClicks(train)
    align = MultiViewAlignment(views, temperature, align_weight)
    clicks = BatchPlan(len(train), None, batch_size, seed)
    item_plan = BatchPlan(len(x_item), None, max(1, batch_size // 2), seed + 1)
    user_plan = BatchPlan(len(x_user), None, max(1, batch_size // 2), seed + 2)

    def step_terms(step: int):
        rows = clicks.rows(step)[0]
        u, i = train.users[rows], train.items[rows]
        u2, i2 = co.sample(u, i, np.random.default_rng([seed, step]))
        b = len(rows)
        users = torch.from_numpy(np.concatenate([u, np.where(u2 >= 0, u2, u), user_plan.rows(step)[0]]))
        items = torch.from_numpy(np.concatenate([i, np.where(i2 >= 0, i2, i), item_plan.rows(step)[0]]))
        terms_i, qi = semantic_terms(net.item, xi[items], "item")
        terms_u, qu = semantic_terms(net.user, xu[users], "user")
        terms = {**terms_i, **terms_u}
        ut, it = torch.from_numpy(u), torch.from_numpy(i)
        towers = net.cf(ut, it)
        terms["cf"] = cf_weight * info_nce(towers.c_u, towers.c_i, ut, it + train.n_users, temperature,
                                           symmetric=True, same_anchor=True)
        terms.update({k: cf_weight * v for k, v in debias_terms(towers, pop[it], conf[ut]).items()})
        terms.update(align(DualBatch(ut, it, torch.from_numpy(u2), torch.from_numpy(i2), qu.z_q[:b], qi.z_q[:b],
                                     qu.z_q[b:2 * b], qi.z_q[b:2 * b], towers.interest, towers.content,
                                     train.n_users)))
        return terms, (qi, qu)

    def restart(step: int, q) -> dict[str, int]:
        return {"n_restarted_item_codes": restart_dead_codes(net.item, q[0].residuals, seed, step, 0, 1),
                "n_restarted_user_codes": restart_dead_codes(net.user, q[1].residuals, seed + 1, step, 0, 1)}

    return train_steps(net, step_terms, steps=steps, lr=lr, weight_decay=weight_decay, config=config,
                       restart_every=restart_every, restart=restart, shown=("loss", "cf"),
                       checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                       progress=progress)
